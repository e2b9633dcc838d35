# frozen_string_literal: true

require_relative "test_helper"
require_relative "toto_client"
require_relative "../examples/rack_app"

# The example service (examples/rack_app.rb): its contract in process, and the real
# thing under WEBrick over HTTP.
class RackAppTest < Minitest::Test
  def app(env = {})
    @manager = fast_manager
    TotoTestClient.mock(TotoRackExample.app(@manager, env))
  end

  def test_state_contract_with_hmac
    c = app
    r = c.login("alice", "s3cret", method: "account.create")
    assert_nil r.error
    refute_nil c.key
    assert_equal({ "value" => [1, "two"] }, c.call("state.set", "key" => "k", "value" => [1, "two"]).result)
    r = c.call("state.get", "key" => "k")
    assert_equal({ "value" => [1, "two"] }, r.result)
    assert r.signed
    c.sign = false
    assert_equal 1008, c.call("state.get", "key" => "k").code
    c.sign = true
    c.call("account.logout")
    assert_equal 1004, c.call("state.get", "key" => "k").code
  end

  def test_settings_from_the_environment
    c = app("TOTO_HMAC" => "off", "TOTO_COOKIES" => "on", "TOTO_ALLOW_ORIGIN" => "https://a.example, https://b.example")
    r = c.login("bob", "pw", method: "account.create")
    refute r.result.key?("key")
    assert_match(/\Atoto-session-id=#{c.session_id};/, r.headers["set-cookie"])
    r = c.call("state.get", { "key" => "k" }, headers: { "origin" => "https://b.example" })
    assert_equal({ "value" => nil }, r.result)
    assert_equal "https://b.example", r.headers["access-control-allow-origin"]
    assert_nil r.headers["x-toto-hmac"]
  end

  def test_session_ttl_from_the_environment
    manager = TotoRackExample.manager("TOTO_SESSION_TTL" => "60")
    assert_in_delta Time.now.to_f + 60, manager.create_session("x").expires_at, 5
    assert_in_delta Time.now.to_f + (365 * 86_400), TotoRackExample.manager({}).create_session("x").expires_at, 5
  end

  # Starts examples/rack_app.rb under WEBrick on a free port; yields the port.
  def serve(env = {})
    require "timeout"
    reader, writer = IO.pipe
    pid = Process.spawn({ "PORT" => "0" }.merge(env), RbConfig.ruby, "-I", File.join(RUBY_DIR, "lib"),
                        File.join(RUBY_DIR, "examples", "rack_app.rb"), err: writer, out: writer)
    writer.close
    line = Timeout.timeout(30) { reader.gets }
    port = line.to_s[%r{listening on http://127\.0\.0\.1:(\d+)/}, 1]
    assert port, "no listening line: #{line.inspect}"
    yield Integer(port)
    Process.kill("TERM", pid)
    _, status = Timeout.timeout(30) { Process.wait2(pid) }
    pid = nil
    assert status.success?, "clean stop on SIGTERM (#{status.inspect})"
    rest = reader.read
    assert_empty rest, "one log line only"
  ensure
    if pid
      Process.kill("KILL", pid)
      Process.wait(pid)
    end
    reader&.close
  end

  def test_end_to_end_over_http
    drive_over_http("TOTO_REDIS_URL" => nil) # memory cache
  end

  def test_end_to_end_over_http_with_redis
    url = ENV.fetch("TOTO_REDIS_URL") { flunk "TOTO_REDIS_URL is not set: run the suite through bindings/ruby/test.sh" }
    drive_over_http("TOTO_REDIS_URL" => url, "TOTO_HMAC" => "off", "TOTO_COOKIES" => "on")
  end

  def drive_over_http(env)
    hmac = env["TOTO_HMAC"] != "off"
    serve(env) do |port|
      c = TotoTestClient.http("127.0.0.1", port)
      r = c.login("alice", "s3cret", method: "account.create", "email" => "a@example.com")
      assert_nil r.error
      assert_equal "application/json", r.headers["content-type"]
      assert_equal hmac, r.signed ? true : false, "login answer signed with the new key"
      assert_match(/\Atoto-session-id=#{c.session_id};/, r.headers["set-cookie"]) if env["TOTO_COOKIES"]
      r = c.call("state.set", "key" => "cart", "value" => { "items" => [1, 2] })
      assert_nil r.error
      assert_equal hmac, r.signed ? true : false
      if env["TOTO_REDIS_URL"] # the service keeps its sessions in that Redis
        stored = TotoSession::Cache.redis(env["TOTO_REDIS_URL"]).load_session(c.session_id) { |s| s["cart"] }
        assert_equal({ "items" => [1, 2] }, stored)
      end
      r = c.request("GET", "/state/get?key=cart")
      assert_equal({ "value" => { "items" => [1, 2] } }, r.result)
      assert_equal hmac, r.signed ? true : false, "response signature checked over the exact body bytes"
      if hmac
        r = c.call("state.set", { "key" => "cart", "value" => 1 }, tamper: ->(b) { b.sub("1", "2") })
        assert_equal({ "code" => 1008, "value" => "Invalid HMAC" }, r.error)
        assert r.signed
      end
      assert_equal({ "authenticated" => false }, c.call("account.logout").result)
      assert_equal 1004, c.call("state.get", "key" => "cart").code
      assert_nil c.session_id
      r = c.request("OPTIONS", "/", "", { "access-control-request-method" => "POST" })
      assert_equal "POST,OPTIONS,GET,HEAD", r.headers["access-control-allow-methods"]
      c.close
      concurrent_clients(port)
    end
  end

  # Four clients at once, each on its own connection (a WEBrick thread each).
  def concurrent_clients(port)
    threads = 4.times.map do |t|
      Thread.new do
        client = TotoTestClient.http("127.0.0.1", port)
        client.login("user#{t}", "pw", method: "account.create")
        15.times do |i|
          raise "set #{t}/#{i}" if client.call("state.set", "key" => "n", "value" => [t, i]).error
          raise "get #{t}/#{i}" unless client.call("state.get", "key" => "n").result == { "value" => [t, i] }
        end
        client.close
        :ok
      end
    end
    assert_equal [:ok] * 4, threads.map(&:value)
  end
end
