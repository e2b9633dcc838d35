# frozen_string_literal: true

require_relative "test_helper"
require_relative "toto_client"
require "toto_session/rack"

# The Rack middleware and Toto's method protocol, through Rack::MockRequest and
# Rack::Lint.
class RackMethodsTest < Minitest::Test
  # Counts what reaches the cache (stores = writes of whole sessions).
  class CountingCache < TotoSession::Cache::HashBackend
    attr_reader :stores

    def initialize
      super
      @stores = 0
    end

    def store(*args, **kw)
      @stores += 1
      super
    end
  end

  def build(hmac: :required, cookies: false, allow_origin: "*", manager: nil, **opts)
    @manager = manager || fast_manager(ttl: 3 * 86_400 + 5)
    @methods = TotoSession::Rack::Methods.new do |m|
      m.register("state.set", authenticated: true, requires: %w[key value]) do |toto, p|
        toto.session[p["key"]] = p["value"]
        { "value" => p["value"] }
      end
      m.register("state.get", authenticated: true, requires: %w[key]) { |toto, p| { "value" => toto.session[p["key"]] } }
      m.register("echo") { |_toto, p| p }
      m.register("a.b") { |_toto, _p| "ab" }
      m.register("anon.visit", anonymous_session: true) { |toto, _p| toto.session[:visits] = (toto.session[:visits] || 0) + 1 }
      m.register("boom") { |_toto, _p| raise IOError, "disk on fire" }
      m.register("custom") { |_toto, _p| raise TotoSession::Rack::MethodError.new(4242, { "why" => "because" }) }
      m.register("whoami") { |toto, _p| toto.session&.user_id }
      m.register("bytes") { |_toto, _p| "\xff".b }
    end
    @app = TotoSession::Rack::Middleware.new(@methods, manager: @manager, hmac: hmac, cookies: cookies,
                                                       allow_origin: allow_origin, **opts)
    @client = TotoTestClient.mock(@app)
  end

  def signed_in(hmac: :required, **opts)
    build(hmac: hmac, **opts)
    r = @client.login("Alice", "s3cret", method: "account.create", "email" => "alice@example.com")
    assert_nil r.error
    r
  end

  # ---- account methods --------------------------------------------------------------

  def test_create_logs_in_and_keeps_extra_parameters
    r = signed_in
    assert_equal 200, r.status
    assert_equal %w[session_id expires user_id key], r.result.keys
    assert_equal "alice", r.result["user_id"]
    assert_equal 22, r.result["key"].size
    assert_in_delta Time.now.to_f + (3 * 86_400) + 5, r.result["expires"], 60
    # the response describes and is signed with the new session
    assert_equal r.result["session_id"], r.json["session"]["session_id"]
    refute r.json["session"].key?("key")
    assert r.signed
    @manager.account("alice") { |a| assert_equal "alice@example.com", a["email"] }
    assert_equal 1006, @client.call("account.create", "user_id" => "alice", "password" => "x").code
    assert_equal({ "code" => 1006, "value" => "User ID already in use." },
                 @client.call("account.create", "user_id" => "ALICE", "password" => "x").error)
  end

  def test_login_errors_use_totos_texts
    build
    assert_equal({ "code" => 1003, "value" => "Missing parameters: user_id, password" }, @client.call("account.login").error)
    assert_equal({ "code" => 1005, "value" => "Invalid user ID or password" },
                 @client.call("account.login", "user_id" => "nobody", "password" => "x").error)
    assert_equal({ "code" => 1010, "value" => "Invalid user ID." },
                 @client.call("account.create", "user_id" => "", "password" => "x").error)
    assert_equal({ "code" => 1001, "value" => "Cannot call 'no.such'." }, @client.call("no.such").error)
    r = @client.request("POST", "/", '{"parameters":{}}')
    assert_equal({ "code" => 1002, "value" => "Missing method." }, r.error)
    assert_equal({ "code" => 1000, "value" => "disk on fire" }, @client.call("boom").error)
    assert_equal({ "code" => 4242, "value" => { "why" => "because" } }, @client.call("custom").error)
    r = @client.request("POST", "/", "{nope")
    assert_equal 400, r.status
    assert_equal 1000, r.code
  end

  def test_signed_round_trip_and_response_signature
    signed_in
    r = @client.call("state.set", "key" => "cart", "value" => { "items" => [1, 2], "n" => 0 })
    assert_equal({ "value" => { "items" => [1, 2], "n" => 0 } }, r.result)
    assert r.signed, "x-toto-hmac = HMAC(key, SESSION_ID + BODY)"
    assert_equal @client.session_id, r.json["session"]["session_id"]
    assert_equal "alice", r.json["session"]["user_id"]
    assert_equal({ "value" => { "items" => [1, 2], "n" => 0 } }, @client.call("state.get", "key" => "cart").result)
    assert_equal({ "value" => nil }, @client.call("state.get", "key" => "missing").result)
    assert_equal "Missing parameters: key", @client.call("state.get").error["value"]
  end

  def test_tampered_body_is_1008_in_a_signed_envelope
    signed_in
    @client.call("state.set", "key" => "k", "value" => "good")
    r = @client.call("state.set", { "key" => "k", "value" => "good" }, tamper: ->(b) { b.sub("good", "evil") })
    assert_equal 200, r.status
    assert_equal({ "code" => 1008, "value" => "Invalid HMAC" }, r.error)
    assert_equal @client.session_id, r.json["session"]["session_id"]
    assert r.signed, "the error is signed with the session's key"
    assert_equal({ "value" => "good" }, @client.call("state.get", "key" => "k").result)
    # no mac at all, and a mac over another URI
    @client.sign = false
    assert_equal 1008, @client.call("state.get", "key" => "k").code
    @client.sign = true
    mac = TotoSession.hmac(@client.key, 'POST/other{"method":"state.get","parameters":{"key":"k"}}')
    assert_equal 1008, @client.call("state.get", { "key" => "k" }, headers: { "x-toto-hmac" => mac }).code
  end

  def test_a_missing_mac_does_not_renew_the_session
    clock = ManualClock.new
    manager = fast_manager(clock: clock, cache: TotoSession::Cache.memory(clock: clock), ttl: 100, renew: 100)
    signed_in(manager: manager)
    expires = @client.call("whoami").json["session"]["expires"]
    clock.advance(50)
    @client.sign = false
    assert_equal 1008, (r = @client.call("whoami")).code
    assert_equal expires, r.json["session"]["expires"]
    @client.sign = true
    assert_in_delta expires + 50, @client.call("whoami").json["session"]["expires"], 0.001
  end

  def test_unknown_expired_and_logged_out_sessions_answer_1004
    clock = ManualClock.new
    signed_in(manager: fast_manager(clock: clock, cache: TotoSession::Cache.memory(clock: clock), ttl: 100))
    id = @client.session_id
    key = @client.key
    r = @client.call("account.logout")
    assert_equal({ "authenticated" => false }, r.result)
    assert_equal id, r.json["session"]["session_id"]
    assert r.signed
    @client.session_id = id
    @client.key = key
    r = @client.call("state.get", "key" => "k")
    assert_equal({ "code" => 1004, "value" => "Not authorized" }, r.error)
    refute r.json.key?("session")
    assert_nil @client.session_id, "1004 logs the client out"
    # unknown id
    @client.session_id = TotoSession.generate_id
    @client.key = key
    assert_equal 1004, @client.call("account.logout").code
    # expired
    @client.login("alice", "s3cret")
    assert_equal "alice", @client.call("whoami").result
    clock.advance(101)
    assert_equal 1004, @client.call("state.get", "key" => "k").code
    # methods that need no session still run for an unknown id
    @client.session_id = "not even an id"
    @client.key = "x"
    r = @client.call("echo", "a" => 1)
    assert_equal({ "a" => 1 }, r.result)
    refute r.json.key?("session")
  end

  def test_update_sets_properties_and_changes_the_password
    signed_in
    old = @client.session_id
    r = @client.call("account.update", "plan" => "pro", "email" => "a@b.c")
    assert_equal({ "updated_fields" => %w[plan email] }, r.result)
    @manager.account("alice") { |a| assert_equal %w[pro a@b.c], [a["plan"], a["email"]] }
    assert_equal 1005, @client.call("account.update", "password" => "wrong", "new_password" => "n").code
    assert_equal 1003, @client.call("account.update", "new_password" => "n").code
    r = @client.call("account.update", "password" => "s3cret", "new_password" => "n3w", "plan" => "max")
    assert_equal %w[password plan], r.result["updated_fields"]
    assert_equal %w[updated_fields session_id expires user_id key], r.result.keys
    refute_equal old, r.result["session_id"]
    assert r.signed, "signed with the new session's key"
    @client.session_id = r.result["session_id"]
    @client.key = r.result["key"]
    assert_equal "alice", @client.call("whoami").result
    @manager.account("alice") { |a| assert_equal "max", a["plan"] }
    assert_equal 1005, @client.login("alice", "s3cret").code
    assert_nil @client.login("alice", "n3w").error
  end

  # ---- HMAC policies ----------------------------------------------------------------

  def test_hmac_off_makes_no_keys_and_signs_nothing
    r = signed_in(hmac: :off)
    refute r.result.key?("key")
    assert_nil @client.key
    r = @client.call("state.set", "key" => "k", "value" => 1)
    assert_nil r.error
    assert_nil r.headers["x-toto-hmac"]
    assert_equal({ "value" => 1 }, @client.call("state.get", "key" => "k").result)
  end

  def test_hmac_if_key_checks_only_keyed_sessions
    build(hmac: :if_key)
    anon = @manager.create_session("")
    @client.session_id = anon.id
    assert_equal 1, @client.call("anon.visit").result, "a keyless session needs no mac"
    @client.login("bob", "pw", method: "account.create")
    refute_nil @client.key
    assert_nil @client.call("whoami").error
    @client.sign = false
    assert_equal 1008, @client.call("whoami").code
  end

  def test_hmac_required_refuses_a_keyless_session
    build(hmac: :required)
    @manager.create_account("bob", "pw")
    s = @manager.create_session("bob")
    @client.session_id = s.id
    r = @client.call("whoami")
    assert_equal 1008, r.code
    assert_nil r.headers["x-toto-hmac"], "no key, no signature"
  end

  def test_anonymous_session_is_created_without_a_key
    build(hmac: :if_key)
    r = @client.call("anon.visit")
    assert_equal 1, r.result
    sid = r.json["session"]["session_id"]
    assert_equal "", r.json["session"]["user_id"]
    assert_nil r.headers["x-toto-hmac"], "no answer could tell the client a key"
    assert_nil @manager.retrieve_session(sid).key
    @client.session_id = sid
    r = @client.call("anon.visit")
    assert_equal [2, sid], [r.result, r.json["session"]["session_id"]]
    assert_equal 1004, @client.call("whoami", uri: "/state/get").code, "not a user's session"
  end

  # ---- saving -------------------------------------------------------------------------

  def test_saves_only_when_the_session_changed
    cache = CountingCache.new
    signed_in(manager: fast_manager(cache: cache, ttl: 3600, renew: 1))
    before = cache.stores
    5.times { assert_nil @client.call("state.get", "key" => "k").error }
    assert_equal before, cache.stores, "reads write nothing"
    @client.call("state.set", "key" => "k", "value" => "v")
    assert_equal before + 1, cache.stores
    assert_equal({ "value" => "v" }, @client.call("state.get", "key" => "k").result)
    @client.call("account.logout")
    assert_equal before + 1, cache.stores, "a removed session is not saved"
  end

  # ---- transport: path, GET, HEAD, form, batch, cookies, CORS ------------------------

  def test_method_from_path_get_head_and_form
    signed_in
    @client.call("state.set", "key" => "k", "value" => "v")
    assert_equal "ab", @client.call("ignored", uri: "/a/b").result
    r = @client.request("GET", "/state/get?key=k")
    assert_equal({ "value" => "v" }, r.result)
    assert r.signed
    assert_equal({ "a" => "1", "b" => %w[2 3] }, @client.request("GET", "/echo?a=1&b=2&b=3").result)
    r = @client.request("HEAD", "/state/get?key=k")
    assert_equal 200, r.status
    assert_equal "", r.body
    assert r.headers["x-toto-hmac"]
    r = @client.request("POST", "/echo", "a=1&b=2&b=3", content_type: "application/x-www-form-urlencoded")
    assert_equal({ "a" => "1", "b" => %w[2 3] }, r.result)
    # a JSON body without "parameters" is the parameters, without its "method"
    assert_equal({ "a" => 1 }, @client.request("POST", "/", '{"method":"echo","a":1}').result)
    assert_equal({ "a" => 1 }, @client.request("POST", "/echo", '{"a":1}').result)
    assert_equal 405, @client.request("PUT", "/echo", "").status
    %w[a=%zz a=%ff].each do |query|
      env = Rack::MockRequest.env_for("/echo")
      env["QUERY_STRING"] = query
      status, _, body = @app.call(env)
      assert_equal [400, 1000], [status, JSON.parse(body.join)["error"]["code"]], query
    end
    r = @client.request("GET", "/bytes")
    assert_equal({ "code" => 1000, "value" => "The answer is not JSON: JSON::GeneratorError" }, r.error)
    assert r.signed
  end

  def test_batch_runs_in_sorted_order
    signed_in
    body = JSON.generate("batch" => {
                           "2" => { "method" => "state.get", "parameters" => { "key" => "k" } },
                           "1" => { "method" => "state.set", "parameters" => { "key" => "k", "value" => "v" } },
                           "3" => { "method" => "nope" },
                           "4" => { "method" => "echo" }
                         })
    r = @client.request("POST", "/", body)
    assert_equal({ "1" => { "result" => { "value" => "v" } }, "2" => { "result" => { "value" => "v" } },
                   "3" => { "error" => { "code" => 1001, "value" => "Cannot call 'nope'." } },
                   "4" => { "result" => {} } }, r.json["batch"])
    assert_equal @client.session_id, r.json["session"]["session_id"]
    assert r.signed
  end

  def test_cookie_transport
    signed_in(cookies: true, cookie_domain: "example.com")
    cookie = @client.call("whoami").headers["set-cookie"]
    assert_match(/\Atoto-session-id=#{@client.session_id}; domain=example.com; path=\/; expires=[^;]+; HttpOnly; SameSite=Lax\z/,
                 cookie)
    expires = Time.httpdate(cookie[/expires=([^;]+)/, 1])
    assert_in_delta Time.now + (4 * 86_400), expires, 5, "ceil(ttl / 86400) = 4 days"
    # the cookie alone names the session; the header wins over it
    id = @client.session_id
    key = @client.key
    @client.session_id = nil
    body = '{"method":"whoami"}'
    headers = { "cookie" => "toto-session-id=#{id}", "x-toto-hmac" => TotoSession.hmac(key, "POST/#{body}") }
    @client.key = key
    r = @client.request("POST", "/", body, headers)
    assert_equal "alice", r.result
    @client.session_id = TotoSession.generate_id
    r = @client.request("POST", "/", body, headers)
    assert_nil r.result, "x-toto-session-id comes first"
    @client.session_id = id
    r = @client.call("account.logout")
    assert_match(/\Atoto-session-id=; .*expires=Thu, 01 Jan 1970/, r.headers["set-cookie"])
  end

  def test_cors_preflight_and_headers
    build(allow_origin: "*")
    r = @client.request("OPTIONS", "/", "", { "access-control-request-method" => "POST",
                                              "access-control-request-headers" => "X-Custom, Content-Type" })
    assert_equal 200, r.status
    assert_equal "x-toto-hmac,x-toto-session-id,origin,content-type,x-custom", r.headers["access-control-allow-headers"]
    assert_equal "POST,OPTIONS,GET,HEAD", r.headers["access-control-allow-methods"]
    assert_equal "*", r.headers["access-control-allow-origin"]
    assert_equal "x-toto-hmac", r.headers["access-control-expose-headers"]
    r = @client.request("OPTIONS", "/", "", { "access-control-request-method" => "DELETE" })
    assert_equal 405, r.status
    assert_nil r.headers["access-control-allow-origin"]
    r = @client.call("echo")
    assert_equal "*", r.headers["access-control-allow-origin"]
    assert_equal "x-toto-hmac", r.headers["access-control-expose-headers"]

    build(allow_origin: %w[https://a.example https://b.example])
    r = @client.call("echo", {}, headers: { "origin" => "https://b.example" })
    assert_equal "https://b.example", r.headers["access-control-allow-origin"]
    assert_equal "Origin", r.headers["vary"]
    r = @client.call("echo", {}, headers: { "origin" => "https://evil.example" })
    assert_nil r.headers["access-control-allow-origin"]

    build(allow_origin: nil)
    assert_nil @client.call("echo").headers["access-control-allow-origin"]
  end

  # ---- plumbing -----------------------------------------------------------------------

  def test_the_session_is_in_env_for_any_rack_app
    manager = fast_manager
    seen = []
    inner = lambda do |env|
      s = env[TotoSession::Rack::SESSION]
      seen << s&.user_id
      s[:hits] = (s[:hits] || 0) + 1 if s
      [200, { "content-type" => "text/plain" }, ["hi"]]
    end
    app = TotoSession::Rack::Middleware.new(inner, manager: manager, hmac: :if_key)
    s = manager.create_session("carol")
    mock = Rack::MockRequest.new(Rack::Lint.new(app))
    r = mock.get("/", "HTTP_X_TOTO_SESSION_ID" => s.id)
    assert_equal "hi", r.body
    assert_nil r.headers["x-toto-hmac"]
    mock.get("/x", "HTTP_X_TOTO_SESSION_ID" => "nope")
    assert_equal ["carol", nil], seen
    assert_equal 1, manager.retrieve_session(s.id)[:hits]
    assert_raises(ArgumentError) { TotoSession::Rack::Middleware.new(inner, manager: manager, hmac: :sometimes) }
    e = assert_raises(ArgumentError) { TotoSession::Rack::Methods.new.call(Rack::MockRequest.env_for("/")) }
    assert_match(/behind TotoSession::Rack::Middleware/, e.message)
  end

  def test_a_failing_cache_answers_an_envelope
    broken = Class.new(TotoSession::Cache::HashBackend) do
      def load_renew(*) = raise(IOError, "connection reset")
    end
    manager = fast_manager(cache: broken.new)
    id = manager.create_session("dave", key: true).id
    app = TotoSession::Rack::Middleware.new(->(_env) { raise "not reached" }, manager: manager, hmac: :required)
    log = StringIO.new
    r = Rack::MockRequest.new(Rack::Lint.new(app)).post("/", "HTTP_X_TOTO_SESSION_ID" => id, "HTTP_X_TOTO_HMAC" => "x",
                                                             "rack.errors" => log)
    assert_equal 200, r.status
    assert_equal({ "code" => 1000, "value" => TotoSession.result_message(TotoSession::BackendFailed.code) },
                 JSON.parse(r.body)["error"], "the backend's own message stays in the log")
    assert_match(/BackendFailed: .*connection reset/, log.string)
    assert_equal "*", r.headers["access-control-allow-origin"]

    # the same inside a method
    build
    @client.login("erin", "pw", method: "account.create")
    @methods.register("fail") { |_toto, _p| raise TotoSession::BackendFailed, "redis at 10.0.0.7 is down" }
    r = @client.call("fail")
    assert_equal({ "code" => 1000, "value" => TotoSession.result_message(TotoSession::BackendFailed.code) }, r.error)
  end

  def test_bodies_beyond_the_limit_answer_413
    build(max_body_bytes: 64)
    r = @client.call("echo", "a" => "x" * 10)
    assert_equal({ "a" => "x" * 10 }, r.result)
    r = @client.call("echo", "a" => "x" * 100)
    assert_equal 413, r.status
    assert_equal({ "code" => 1000, "value" => "Request body too large" }, r.error)
    env = Rack::MockRequest.env_for("/", method: "POST", input: "x" * 100)
    env.delete("CONTENT_LENGTH") # a chunked upload: found by reading
    assert_equal 413, @app.call(env)[0]
  end

  def test_request_uri_is_the_raw_path_and_query
    uri = ->(env) { TotoSession::Rack::Middleware.request_uri(env) }
    assert_equal "/a/b?x=1", uri.call("REQUEST_URI" => "/a/b?x=1")
    assert_equal "/a/b?x=1", uri.call("REQUEST_URI" => "http://h:8080/a/b?x=1")
    assert_equal "/", uri.call("REQUEST_URI" => "http://h:8080")
    assert_equal "/?q=1", uri.call("REQUEST_URI" => "http://h:8080?q=1")
    assert_equal "/m/a?q", uri.call("SCRIPT_NAME" => "/m", "PATH_INFO" => "/a", "QUERY_STRING" => "q")
    assert_equal "/a", uri.call("SCRIPT_NAME" => "", "PATH_INFO" => "/a", "QUERY_STRING" => "")
  end

  def test_concurrent_requests
    signed_in
    @manager.create_account("bob", "pw")
    threads = 4.times.map do |t|
      Thread.new do
        client = TotoTestClient.mock(@app)
        client.login(t.even? ? "alice" : "bob", t.even? ? "s3cret" : "pw")
        20.times do |i|
          raise "set" if client.call("state.set", "key" => "n", "value" => i).error
          raise "get" unless client.call("state.get", "key" => "n").result == { "value" => i }
        end
        :ok
      end
    end
    assert_equal [:ok] * 4, threads.map(&:value)
  end
end
