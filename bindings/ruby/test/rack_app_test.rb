# frozen_string_literal: true

require_relative "test_helper"
require_relative "../examples/rack_app"

class RackAppTest < Minitest::Test
  def setup
    @manager = fast_manager
    @manager.create_account("alice", "s3cret", email: "alice@example.com")
    @app = TotoRackApp.new(@manager)
    status, _, body = @app.call(toto_env("POST", "/login", body: '{"user_id":"alice","password":"s3cret"}'))
    assert_equal 200, status
    @login = JSON.parse(body.join)["result"]
  end

  def signed_headers(method, uri, body = "")
    { "x-toto-session-id" => @login["session_id"],
      "x-toto-hmac" => TotoSession.hmac(@login["key"], "#{method}#{uri}#{body}") }
  end

  def test_login_answers_with_id_expiry_and_key
    assert_equal 22, @login["session_id"].size
    assert_equal 22, @login["key"].size
    assert_equal "alice", @login["user_id"]
    assert_operator @login["expires"], :>, Time.now.to_f
    status, _, body = @app.call(toto_env("POST", "/login", body: '{"user_id":"alice","password":"nope"}'))
    assert_equal 401, status
    assert_equal 1005, JSON.parse(body.join)["error"]["code"]
    status, = @app.call(toto_env("POST", "/login", body: "not json"))
    assert_equal 400, status
  end

  def test_accepted_request_is_answered_and_signed
    status, headers, body = @app.call(toto_env("GET", "/counter", headers: signed_headers("GET", "/counter")))
    assert_equal 200, status
    payload = body.join
    json = JSON.parse(payload)
    assert_equal 1, json["result"]
    assert_equal @login["session_id"], json["session"]["session_id"]
    assert_equal "alice", json["session"]["user_id"]
    refute json["session"].key?("key"), "the key is never echoed after login"
    # the response signature: HMAC(key, SESSION_ID + BODY)
    assert TotoSession.verify(@login["key"], headers["x-toto-hmac"], @login["session_id"] + payload)
    # state saved by the block: the counter goes on
    _, _, body = @app.call(toto_env("GET", "/counter", headers: signed_headers("GET", "/counter")))
    assert_equal 2, JSON.parse(body.join)["result"]
  end

  def test_query_string_and_body_are_signed
    body = '{"x":1}'
    headers = signed_headers("PUT", "/things?id=7", body)
    status, _, out = @app.call(toto_env("PUT", "/things", query: "id=7", body: body, headers: headers))
    assert_equal 200, status
    assert_equal({ "echo" => "/things" }, JSON.parse(out.join)["result"])
    # the same mac without the query string is refused
    status, _, out = @app.call(toto_env("PUT", "/things", body: body, headers: headers))
    assert_equal 401, status
    assert_equal 1008, JSON.parse(out.join)["error"]["code"]
  end

  def test_tampered_request_is_refused_with_1008
    headers = signed_headers("GET", "/counter")
    status, _, body = @app.call(toto_env("GET", "/counter", body: "extra", headers: headers))
    assert_equal 401, status
    assert_equal({ "code" => 1008, "value" => "Invalid HMAC" }, JSON.parse(body.join)["error"])
    status, = @app.call(toto_env("POST", "/counter", headers: headers))
    assert_equal 401, status
    status, = @app.call(toto_env("GET", "/counter", headers: headers.merge("x-toto-hmac" => "")))
    assert_equal 401, status
  end

  def test_unknown_session_is_refused_with_1007
    headers = signed_headers("GET", "/counter").merge("x-toto-session-id" => TotoSession.generate_id)
    status, _, body = @app.call(toto_env("GET", "/counter", headers: headers))
    assert_equal 401, status
    assert_equal({ "code" => 1007, "value" => "Invalid session ID" }, JSON.parse(body.join)["error"])
    status, _, body = @app.call(toto_env("GET", "/counter"))
    assert_equal 401, status
    assert_equal 1007, JSON.parse(body.join)["error"]["code"]
  end

  def test_account_lookup_and_logout
    _, _, body = @app.call(toto_env("GET", "/whoami", headers: signed_headers("GET", "/whoami")))
    assert_equal({ "user_id" => "alice", "email" => "alice@example.com" }, JSON.parse(body.join)["result"])
    status, = @app.call(toto_env("POST", "/logout", headers: signed_headers("POST", "/logout")))
    assert_equal 200, status
    status, _, body = @app.call(toto_env("GET", "/counter", headers: signed_headers("GET", "/counter")))
    assert_equal 401, status
    assert_equal 1007, JSON.parse(body.join)["error"]["code"]
  end

  def test_the_example_runs_as_a_script
    require "open3"
    out, err, status = Open3.capture3(RbConfig.ruby, "-I", File.join(RUBY_DIR, "lib"),
                                      File.join(RUBY_DIR, "examples", "rack_app.rb"))
    assert status.success?, err
    assert_includes out, "response signature ok: true"
    assert_includes out, '"code":1008'
  end
end
