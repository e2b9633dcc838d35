# frozen_string_literal: true

require_relative "test_helper"

class SigningTest < Minitest::Test
  def body_of(vector)
    [vector["body_hex"]].pack("H*")
  end

  def test_request_vectors_of_toto
    vectors["request_hmac"].each do |v|
      body = body_of(v)
      message = v["method"] + v["uri"] + body
      assert_equal v["x_toto_hmac"], TotoSession.hmac(v["key"], message.b)
      assert TotoSession.verify(v["key"], v["x_toto_hmac"], message.b)
      TotoSession::Session.open(expires: 1e10) do |s|
        s.key = v["key"]
        assert_equal v["x_toto_hmac"], s.sign_request(v["method"], v["uri"], body)
        assert s.verify_request(v["x_toto_hmac"], v["method"], v["uri"], body)
        assert s.verify_request!(v["x_toto_hmac"], v["method"], v["uri"], body)
        assert_equal v["x_toto_hmac"], s.hmac(message.b)
        assert s.verify(v["x_toto_hmac"], message.b)
        refute s.verify_request(v["x_toto_hmac"], v["method"], "#{v['uri']}x", body)
      end
    end
  end

  def test_response_vectors_of_toto
    vectors["response_hmac"].each do |v|
      body = body_of(v)
      TotoSession::Session.open(expires: 1e10, id: v["session_id"]) do |s|
        s.key = v["key"]
        assert_equal v["x_toto_hmac"], s.sign_response(body)
        assert s.verify_response(v["x_toto_hmac"], body)
        assert s.verify_response!(v["x_toto_hmac"], body)
        refute s.verify_response(v["x_toto_hmac"], "#{body}!")
        assert_raises(TotoSession::InvalidHMAC) { s.verify_response!(v["x_toto_hmac"], "#{body}!") }
      end
    end
  end

  def test_failures
    refute TotoSession.verify("key", "AAAA", "message")
    refute TotoSession.verify("key", "", "message")
    refute TotoSession.verify("", "AAAA", "message")
    assert_raises(TotoSession::InvalidHMAC) { TotoSession.hmac("", "m") }
    assert_raises(TotoSession::TooLarge) { TotoSession.hmac("k" * 257, "m") }
    TotoSession::Session.open(expires: 1) do |s|
      # no key: Toto's 1008
      assert_raises(TotoSession::InvalidHMAC) { s.sign_request("GET", "/") }
      assert_raises(TotoSession::InvalidHMAC) { s.sign_response("") }
      assert_raises(TotoSession::InvalidHMAC) { s.hmac("x") }
      refute s.verify_request("AAAA", "GET", "/")
      refute s.verify("AAAA", "x")
      assert_raises(TotoSession::InvalidHMAC) { s.verify_request!("AAAA", "GET", "/") }
      s.generate_key
      mac = s.sign_request("POST", "/a?b=1", "body\x00with nul".b)
      assert_equal 28, mac.size
      assert s.verify_request(mac, "POST", "/a?b=1", "body\x00with nul".b)
      refute s.verify_request(mac, "POST", "/a?b=1", "body\x00with nuL".b)
      assert_equal s.sign_request("GET", "/"), s.sign_request("GET", "/", nil)
    end
  end

  def test_generate_id
    ids = Array.new(100) { TotoSession.generate_id }
    assert ids.all? { |id| id.match?(/\A[A-Za-z0-9_-]{22}\z/) }
    assert_equal 100, ids.uniq.size
  end
end
