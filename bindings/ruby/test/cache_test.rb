# frozen_string_literal: true

require_relative "test_helper"

# A backend recording calls, with switches to rename ids.
class RecordingCache < TotoSession::Cache::HashBackend
  attr_reader :calls
  attr_accessor :rename_to

  def initialize(**opts)
    super
    @calls = Queue.new
    @rename_to = nil
  end

  def store(id, record, expires:, user_id:, create_new:)
    @calls << [:store, id, user_id, create_new]
    result = super
    return result if result == false || @rename_to.nil?

    load_id = @rename_to
    super(load_id, record, expires: expires, user_id: user_id, create_new: create_new)
    load_id
  end

  def load(id)
    @calls << [:load, id]
    super
  end
end

# Only the required operations.
class MinimalCache
  def initialize
    @h = {}
    @m = Mutex.new
  end

  def store(id, record, expires:, user_id:, create_new:)
    @m.synchronize { @h[id] = record }
    nil
  end

  def load(id) = @m.synchronize { @h[id] }
  def remove(id) = @m.synchronize { @h.delete(id) }
end

class CacheTest < Minitest::Test
  NOW = Time.now.to_f
  LATER = NOW + 3600

  def exercise(cache)
    id = TotoSession.generate_id
    assert_nil cache.load(id)
    assert_nil cache.store(id, "record\x00bytes".b, expires: LATER, user_id: "bob")
    assert_equal "record\x00bytes".b, cache.load(id)
    assert_equal Encoding::BINARY, cache.load(id).encoding
    assert_raises(TotoSession::IdCollision) { cache.store(id, "x", expires: LATER, create_new: true) }
    cache.store(id, "second", expires: LATER, user_id: "bob")
    assert_equal "second", cache.load(id)
    cache.remove(id)
    assert_nil cache.load(id)
    cache.remove(id) # missing is fine
    assert_raises(TotoSession::InvalidSessionId) { cache.load("bad id") }
    # expiry in the past: never returned
    old = TotoSession.generate_id
    cache.store(old, "old", expires: NOW - 10)
    assert_nil cache.load(old)
    # per-user removal
    2.times { cache.store(TotoSession.generate_id, "u", expires: LATER, user_id: "carol") }
    other = TotoSession.generate_id
    cache.store(other, "d", expires: LATER, user_id: "dave")
    assert_equal 2, cache.remove_user("carol")
    assert_equal 0, cache.remove_user("carol")
    assert_equal "d", cache.load(other)
    # sessions
    session = TotoSession::Session.new("erin", expires: LATER)
    session[:n] = 1
    assert session.dirty?
    assert_same session, cache.store_session(session)
    refute session.dirty?
    loaded = cache.load_session(session.id)
    assert_equal 1, loaded[:n]
    assert_equal "erin", loaded.user_id
    assert_in_delta session.expires_at, loaded.expires_at, 0.001 # Redis keeps milliseconds
    assert_equal 1, cache.load_session(session.id) { |s| s[:n] }
    assert_nil cache.load_session(TotoSession.generate_id)
    loaded.close
    session.close
  end

  def test_memory_cache
    cache = TotoSession::Cache.memory
    refute cache.ruby_backed?
    exercise(cache)
    assert_includes cache.inspect, "built-in"
    cache.close
    cache.close
    assert_raises(TotoSession::ClosedError) { cache.load("x") }
  end

  def test_compact_memory_cache
    cache = TotoSession::Cache.memory(compact: true)
    refute cache.ruby_backed?
    exercise(cache)
    cache.close
    assert_raises(ArgumentError) { TotoSession::Cache.memory(clock: -> { NOW }, compact: true) }
  end

  def test_memory_cache_with_a_ruby_clock
    clock = ManualClock.new(NOW)
    cache = TotoSession::Cache.memory(clock: clock)
    assert cache.ruby_backed?
    cache.store("abc", "r", expires: NOW + 10)
    assert_equal "r", cache.load("abc")
    clock.advance(11)
    assert_nil cache.load("abc")
  end

  def test_ruby_backend_cache
    backend = TotoSession::Cache::HashBackend.new
    cache = TotoSession::Cache.new(backend)
    assert cache.ruby_backed?
    assert_same backend, cache.backend
    assert_same cache, TotoSession::Cache.from(cache)
    exercise(cache)
    assert_includes cache.inspect, "HashBackend"
  end

  def test_ruby_backend_that_renames_sessions
    backend = RecordingCache.new
    backend.rename_to = "renamed-id"
    cache = TotoSession::Cache.new(backend)
    assert_equal "renamed-id", cache.store("original", "r", expires: LATER)
    TotoSession::Session.open(expires: LATER) do |s|
      cache.store_session(s)
      assert_equal "renamed-id", s.id
    end
    calls = []
    calls << backend.calls.pop until backend.calls.empty?
    assert_includes calls, [:store, "original", "", false]
  end

  def test_minimal_backend_has_no_optional_operations
    cache = TotoSession::Cache.new(MinimalCache.new)
    cache.store("abc", "r", expires: LATER)
    assert_equal "r", cache.load("abc")
    assert_raises(TotoSession::Unsupported) { cache.remove_user("x") }
    # a manager still retrieves and renews through load + store
    manager = fast_manager(cache: MinimalCache.new)
    s = manager.create_session
    assert_equal s.id, manager.retrieve_session(s.id).id
    assert_raises(TotoSession::Unsupported) { manager.clear_sessions("bob") }
  end

  def test_backend_must_answer_the_required_methods
    assert_raises(ArgumentError) { TotoSession::Cache.new(Object.new) }
  end

  def test_redis_cache
    url = ENV.fetch("TOTO_REDIS_URL") { flunk "TOTO_REDIS_URL is not set: run the suite through bindings/ruby/test.sh" }
    cache = TotoSession::Cache.redis(url, key_prefix: "ruby-test-#{Process.pid}:", io_timeout_ms: 2000, pool_size: 4)
    refute cache.ruby_backed?
    exercise(cache)
    manager = fast_manager(cache: cache)
    s = manager.create_session("redis-user")
    s[:where] = "redis"
    manager.save_session(s)
    assert_equal "redis", manager.retrieve_session(s.id)[:where]
    plain = TotoSession::Cache.redis(url, hash_ids: false, connect_timeout_ms: 1000)
    plain.store("plain-id", "p", expires: LATER)
    assert_equal "p", plain.load("plain-id")
    plain.remove("plain-id")
  end

  def test_redis_unavailable_and_bad_url
    cache = TotoSession::Cache.redis("redis://127.0.0.1:1/", connect_timeout_ms: 200, io_timeout_ms: 200)
    error = assert_raises(TotoSession::BackendUnavailable) { cache.load("abcdef") }
    assert_equal 16, error.code
    refute_nil error.details
    # After a failed connect, calls fail fast for the back-off (here 60 s).
    down = TotoSession::Cache.redis("redis://127.0.0.1:1/", connect_timeout_ms: 200, down_backoff_ms: 60_000)
    assert_raises(TotoSession::BackendUnavailable) { down.load("abcdef") }
    error = assert_raises(TotoSession::BackendUnavailable) { down.load("abcdef") }
    assert_match(/back-off/, error.details)
    assert_raises(TotoSession::InvalidArgument) { TotoSession::Cache.redis("not a url") }
    assert_raises(TotoSession::InvalidArgument) { TotoSession::Cache.redis("redis://127.0.0.1:1/", io_timeout_ms: 0) }
  end
end
