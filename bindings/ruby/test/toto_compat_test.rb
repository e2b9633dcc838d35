# frozen_string_literal: true

require_relative "test_helper"
require "base64"
require "socket"

# A Python Toto 1.0.10 deployment's Redis data, made by Toto's own code
# (tests/toto_fixtures/fixtures.json from make_fixtures.py), read through the Redis
# cache's Toto compatibility and the Redis account store.
class TotoCompatTest < Minitest::Test
  # Just enough of a Redis client to load fixtures and ask questions.
  class Resp
    def initialize(url)
      host, port = url.sub(%r{\Aredis://}, "").chomp("/").split(":")
      @sock = TCPSocket.new(host, Integer(port))
    end

    def call(*args)
      @sock.write("*#{args.size}\r\n" + args.map { |a| a = a.to_s.b; "$#{a.bytesize}\r\n#{a}\r\n" }.join)
      line = @sock.gets("\r\n").chomp("\r\n")
      return line unless line.start_with?("$") && line != "$-1"

      body = @sock.read(Integer(line[1..]) + 2)
      body[0..-3]
    end

    def close
      @sock.close
    end
  end

  def setup
    @url = ENV.fetch("TOTO_REDIS_URL") { flunk "TOTO_REDIS_URL is not set: run the suite through bindings/ruby/test.sh" }
    @fx = JSON.parse(File.read(File.join(ROOT, "tests", "toto_fixtures", "fixtures.json")))
    @redis = Resp.new(@url)
    @fx["redis"].each do |k|
      case k["type"]
      when "string"
        @redis.call("SETEX", k["key"], k["setex_ttl"], Base64.strict_decode64(k["value_b64"]))
      when "hash"
        k["fields_b64"].each { |f, v| @redis.call("HSET", k["key"], f, Base64.strict_decode64(v)) }
      end
    end
    @prefix = "ruby-toto-#{Process.pid}-#{name}:"
  end

  def teardown
    @redis&.close
  end

  def manager(**toto)
    cache = TotoSession::Cache.redis(@url, key_prefix: @prefix, **toto)
    store = TotoSession::AccountStore.redis(@url, io_timeout_ms: 2000, pool_size: 2)
    fast_manager(cache: cache, account_store: store)
  end

  def test_toto_sessions_read_through_the_cache
    m = manager(toto_read: true, toto_keep_key: true)
    @fx["sessions"].each do |fs|
      s = m.retrieve_session(fs["session_id"])
      refute_nil s, fs["session_id"]
      assert_equal fs["user_id"], s.user_id
      assert_equal fs["key"], s.key
      assert_equal fs["state"].keys.sort, s.keys.sort
      fs["state"].each { |k, v| assert_equal v, s[k], k }
      s.close
      next unless (req = fs["request"])

      s = m.verify_request(fs["session_id"], req["hmac"], req["method"], req["uri"], req["body"])
      s.close
      assert m.verify_request?(fs["session_id"], req["hmac"], req["method"], req["uri"], req["body"])
      assert_raises(TotoSession::InvalidHMAC) do
        m.verify_request?(fs["session_id"], req["hmac"], req["method"], req["uri"], "tampered")
      end
    end
    alice = @fx["sessions"][0]["session_id"]
    assert_equal ":1", @redis.call("EXISTS", "session:#{alice}"), "kept for Python"
    m.remove_session(alice)
    assert_equal ":0", @redis.call("EXISTS", "session:#{alice}"), "logout removes Toto's copy"
    assert_nil m.retrieve_session(alice)
    assert_raises(TotoSession::InvalidCbor) { m.retrieve_session(@fx["bad_sessions"][0]["session_id"]) }
  end

  def test_toto_accounts_log_in_and_upgrade
    m = manager
    @fx["accounts"].each do |a|
      assert_raises(TotoSession::InvalidCredentials) { m.login(a["user_id"], "wrong") }
      m.login(a["user_id"].upcase, a["password"]).close
      assert @redis.call("HGET", "account:#{a['user_id']}", "password").start_with?("$argon2id$")
      m.account(a["user_id"]) do |acct|
        a["fields"].each { |f, v| assert_equal v, acct[f] }
      end
    end
    assert_raises(TotoSession::UserIdExists) { m.create_account("Alice", "x") }
  end

  def test_toto_write_and_store_options
    m = manager(toto_read: true, toto_write: true)
    m.create_account("RubyUser", "pw", n: 3, email: "r@x")
    s = m.login("rubyuser", "pw")
    assert_equal ":1", @redis.call("EXISTS", "session:#{s.id}"), "Python can read it"
    assert_equal 1, m.clear_sessions("rubyuser")
    assert_equal ":0", @redis.call("EXISTS", "session:#{s.id}")
    s.close
    assert_equal "r@x", @redis.call("HGET", "account:rubyuser", "email")
    m.account("rubyuser") { |acct| assert_equal 3, acct["n"] }
    store = TotoSession::AccountStore.redis(@url, key_prefix: "ruby-acct:", connect_timeout_ms: 500)
    store.create("someone")
    assert_raises(TotoSession::UserIdExists) { store.create("someone") }
    store.remove("someone")
    assert_raises(TotoSession::InvalidArgument) { TotoSession::AccountStore.redis("not a url") }
    down = TotoSession::AccountStore.redis("redis://127.0.0.1:1/", connect_timeout_ms: 200)
    assert_raises(TotoSession::BackendUnavailable) { down.create("x") }
  end
end
