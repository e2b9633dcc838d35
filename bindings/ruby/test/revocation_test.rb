# frozen_string_literal: true

require_relative "test_helper"

# Revocation that sticks and lost-update detection (issue 19): on the memory cache, a
# Ruby cache (the library's emulated check) and Redis, a session handle retrieved
# before a logout, rotation, clear or password change cannot save the session back;
# two saves over one revision conflict; update_session retries; processes forked
# from one parent add to one counter in Redis and lose nothing.
class RevocationTest < Minitest::Test
  # A Ruby cache with store_if: the check and the write under the backend's lock, the
  # revision kept beside each entry (the vtable's store_if path).
  class ConditionalBackend < TotoSession::Cache::HashBackend
    attr_reader :store_if_calls, :store_calls

    def initialize(...)
      super
      @revisions = {}
      @store_if_calls = 0
      @store_calls = 0
    end

    def store(...)
      @store_calls += 1
      super
    end

    def store_if(id, record, expires:, user_id:, mode:, expected_revision:, revision:)
      @mutex.synchronize do
        @store_if_calls += 1
        entry = live(id)
        case mode
        when :create_new then return false if entry
        when :if_revision
          raise TotoSession::SessionRevoked unless entry
          raise TotoSession::Conflict unless @revisions.fetch(id, 0) == expected_revision
        when :if_exists then raise TotoSession::SessionRevoked unless entry
        end
        @entries[id] = Entry.new(record, expires, user_id)
        @revisions[id] = revision
      end
      nil
    end
  end

  def redis_url
    ENV.fetch("TOTO_REDIS_URL") { flunk "TOTO_REDIS_URL is not set: run the suite through bindings/ruby/test.sh" }
  end

  def redis_cache
    TotoSession::Cache.redis(redis_url, key_prefix: "ruby-revoke-#{Process.pid}-#{rand(1 << 30)}:")
  end

  def managers(**opts)
    {
      "memory" => fast_manager(**opts),
      "ruby" => fast_manager(cache: TotoSession::Cache::HashBackend.new, **opts),
      "ruby store_if" => fast_manager(cache: ConditionalBackend.new, **opts),
      "redis" => fast_manager(cache: redis_cache, **opts)
    }
  end

  def assert_revoked(manager, id, stale, how)
    stale[:cart] = 99
    assert_raises(TotoSession::SessionRevoked, how) { manager.save_session(stale) }
    assert stale.dirty?, "#{how}: the refused change is kept"
    assert_nil manager.retrieve_session(id), "#{how} sticks"
    assert_raises(TotoSession::InvalidSessionId) { manager.update_session(id) { |_| nil } }
  end

  def test_every_way_a_session_ends_sticks
    managers.each do |name, m|
      m.create_account("alice", "pw")
      login = lambda do
        s = m.login("alice", "pw")
        [s.id, m.retrieve_session(s.id)]
      end

      id, stale = login.call
      m.remove_session(id)
      assert_revoked(m, id, stale, "#{name}: logout")

      id, stale = login.call
      current = m.retrieve_session(id)
      m.rotate_session(current)
      refute_equal id, current.id
      assert_revoked(m, id, stale, "#{name}: rotation")
      refute_nil m.retrieve_session(current.id)

      id, stale = login.call
      assert_operator m.clear_sessions("alice"), :>=, 1
      assert_revoked(m, id, stale, "#{name}: clear_sessions")

      id, stale = login.call
      _, kept = login.call
      m.change_password("alice", "pw", "pw2", current: kept)
      assert_revoked(m, id, stale, "#{name}: password change")
      m.change_password("alice", "pw2", "pw")
    end
  end

  def test_conflicts_and_last_writer_wins
    managers.each do |name, m|
      id = m.create_session.id
      a = m.retrieve_session(id)
      b = m.retrieve_session(id)
      a[:who] = "a"
      m.save_session(a)
      b[:who] = "b"
      error = assert_raises(TotoSession::Conflict, name) { m.save_session(b) }
      assert_equal 18, error.code
      assert_equal "a", m.retrieve_session(id)[:who], name
    end
    managers(save_policy: :last_writer_wins).each do |name, m|
      id = m.create_session.id
      a = m.retrieve_session(id)
      b = m.retrieve_session(id)
      a[:who] = "a"
      m.save_session(a)
      b[:who] = "b"
      m.save_session(b)
      assert_equal "b", m.retrieve_session(id)[:who], name
    end
    assert_raises(ArgumentError) { fast_manager(save_policy: :whatever) }
    assert_equal 17, TotoSession::SessionRevoked.code
  end

  def test_update_session_retries_and_gives_up
    m = fast_manager
    id = m.create_session.id
    assert_equal :done, m.update_session(id) { |s| s[:n] = 1; :done }
    assert_equal 1, m.retrieve_session(id)[:n]
    calls = 0
    assert_raises(TotoSession::Conflict) do
      m.update_session(id, attempts: 3) do |s|
        calls += 1
        m.retrieve_session(id) { |other| other[:other] = calls }
        s[:mine] = true
      end
    end
    assert_equal 3, calls
    assert_raises(RuntimeError) { m.update_session(id) { |_| raise "boom" } }
    assert_raises(ArgumentError) { m.update_session(id) }
  end

  def test_threads_lose_no_increment
    managers.each do |name, m|
      id = m.create_session.id
      m.retrieve_session(id) { |s| s[:n] = 0 }
      threads = Array.new(4) do
        Thread.new { 25.times { m.update_session(id, attempts: 1000) { |s| s[:n] += 1 } } }
      end
      threads.each(&:join)
      assert_equal 100, m.retrieve_session(id)[:n], name
    end
  end

  # Workers forked from one parent (a preloading server) increment one counter in
  # Redis through update_session: no increment is lost.
  def test_forked_processes_lose_no_increment
    prefix = "ruby-count-#{Process.pid}-#{rand(1 << 30)}:"
    parent = fast_manager(cache: TotoSession::Cache.redis(redis_url, key_prefix: prefix))
    id = parent.create_session.id
    parent.retrieve_session(id) { |s| s[:n] = 0 }
    workers, each = 3, 30
    pids = Array.new(workers) do
      Process.fork do
        # Each worker opens its own connections.
        m = fast_manager(cache: TotoSession::Cache.redis(redis_url, key_prefix: prefix))
        each.times { m.update_session(id, attempts: 1000) { |s| s[:n] += 1 } }
        exit!(0)
      rescue Exception => e # rubocop:disable Lint/RescueException
        warn "worker #{Process.pid}: #{e.class}: #{e.message}"
        exit!(1)
      end
    end
    statuses = pids.map { |pid| Process.wait2(pid).last }
    assert statuses.all?(&:success?), statuses.inspect
    assert_equal workers * each, parent.retrieve_session(id)[:n]
  end

  def test_a_ruby_cache_with_store_if_gets_every_store
    backend = ConditionalBackend.new
    manager = fast_manager(cache: backend)
    manager.create_account("dora", "pw")
    id = manager.login("dora", "pw").id
    a = manager.retrieve_session(id)
    b = manager.retrieve_session(id)
    a[:n] = 1
    manager.save_session(a)
    b[:n] = 2
    assert_raises(TotoSession::Conflict) { manager.save_session(b) }
    manager.remove_session(id)
    a[:n] = 3
    assert_raises(TotoSession::SessionRevoked) { manager.save_session(a) }
    assert_operator backend.store_if_calls, :>=, 3
    assert_equal 0, backend.store_calls
  end

  def test_max_sessions_per_user
    manager = fast_manager(max_sessions_per_user: 2)
    manager.create_account("lou", "pw")
    ids = Array.new(3) { sleep 0.002; manager.login("lou", "pw").id }
    assert_nil manager.retrieve_session(ids[0]), "the oldest session went"
    ids[1..].each { |id| refute_nil manager.retrieve_session(id) }
    capped = fast_manager(cache: TotoSession::Cache::HashBackend.new, max_sessions_per_user: 2)
    capped.create_account("lou", "pw")
    assert_raises(TotoSession::Unsupported) { capped.login("lou", "pw") }
  end
end
