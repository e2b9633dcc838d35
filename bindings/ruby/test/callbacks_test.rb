# frozen_string_literal: true

require_relative "test_helper"

# A Hash cache whose operations can be made to raise, throw, or run slowly.
class FaultyCache < TotoSession::Cache::HashBackend
  attr_accessor :fault, :delay

  def initialize
    super
    @fault = {}
    @delay = 0
  end

  %i[store load remove remove_user load_renew].each do |op|
    define_method(op) do |*args, **kw|
      sleep @delay if @delay.positive?
      action = @fault[op]
      action&.call
      kw.empty? ? super(*args) : super(*args, **kw)
    end
  end
end

class FaultyStore < TotoSession::AccountStore::HashBackend
  attr_accessor :fault

  def initialize
    super
    @fault = {}
  end

  %i[load save create remove].each do |op|
    define_method(op) do |*args|
      @fault[op]&.call
      super(*args)
    end
  end
end

class CallbacksTest < Minitest::Test
  def setup
    @cache = FaultyCache.new
    @store = FaultyStore.new
    @manager = fast_manager(cache: @cache, account_store: @store)
  end

  def test_a_ruby_cache_and_store_serve_a_manager
    assert @manager.ruby_backed?
    assert_same @cache, @manager.cache.backend
    assert_same @store, @manager.account_store.backend
    @manager.create_account("Zoe", "pw", email: "z@example.com", tags: %w[a b])
    assert_equal "z@example.com", @store["zoe"]["email"]
    assert_equal %w[a b], @store["zoe"]["tags"]
    s = @manager.login("zoe", "pw")
    assert_equal 1, @cache.size
    s[:n] = 1
    @manager.save_session(s)
    got = @manager.retrieve_session(s.id)
    assert_equal 1, got[:n]
    @manager.session_account(got) do |a|
      a["email"] = "new@example.com"
      a.save
    end
    assert_equal "new@example.com", @store["zoe"]["email"]
    @manager.rotate(got)
    assert_equal 1, @manager.clear_sessions("zoe")
    assert_equal 0, @cache.size
    @manager.account_store.remove("zoe")
    assert_nil @store["zoe"]
  end

  def assert_backend_failure(error_class, message)
    error = assert_raises(TotoSession::BackendFailed) { yield }
    assert_equal 10, error.code
    assert_includes error.details, message
    assert_instance_of error_class, error.cause
    error
  end

  def test_raising_cache_callbacks_become_backend_failed_and_the_manager_works_afterwards
    s = @manager.create_session("amy")
    { store: -> { @manager.create_session("amy") },
      load_renew: -> { @manager.retrieve_session(s.id) },
      remove: -> { @manager.remove_session(s.id) },
      remove_user: -> { @manager.clear_sessions("amy") } }.each do |op, call|
      @cache.fault[op] = -> { raise ArgumentError, "#{op} exploded" }
      assert_backend_failure(ArgumentError, "ArgumentError: #{op} exploded") { call.call }
      @cache.fault.delete(op)
      call.call # works again
      s = @manager.create_session("amy")
    end
    # the cache wrapper's own calls too
    cache = @manager.cache
    @cache.fault[:load] = -> { raise "plain load failure" }
    @cache.fault[:load_renew] = @cache.fault[:load] # load_session loads through load_renew
    assert_backend_failure(RuntimeError, "RuntimeError: plain load failure") { cache.load(s.id) }
    assert_backend_failure(RuntimeError, "plain load failure") { cache.load_session(s.id) }
    @cache.fault.clear
    assert_equal s.id, cache.load_session(s.id).id
  end

  def test_raising_store_callbacks
    @manager.create_account("bea", "pw")
    @store.fault[:load] = -> { raise KeyError, "load broke" }
    assert_backend_failure(KeyError, "KeyError: load broke") { @manager.login("bea", "pw") }
    assert_backend_failure(KeyError, "load broke") { @manager.account("bea") { |a| a["x"] } }
    @store.fault[:load] = nil
    @store.fault[:create] = -> { raise IOError, "create broke" }
    assert_backend_failure(IOError, "create broke") { @manager.create_account("cid", "pw") }
    assert_backend_failure(IOError, "create broke") { @manager.account_store.create("cid") }
    @store.fault[:create] = nil
    @store.fault[:remove] = -> { raise IOError, "remove broke" }
    assert_backend_failure(IOError, "remove broke") { @manager.account_store.remove("bea") }
    @store.fault[:remove] = nil
    @store.fault[:save] = -> { raise IOError, "save broke" }
    assert_backend_failure(IOError, "save broke") { @manager.change_password("bea", "pw", "pw2") }
    @store.fault.clear
    @manager.login("bea", "pw").close
    @manager.change_password("bea", "pw", "pw2")
    @manager.login("bea", "pw2").close
  end

  def test_toto_errors_raised_in_callbacks_answer_with_their_code
    @store.fault[:create] = -> { raise TotoSession::UserIdExists, "taken elsewhere" }
    assert_raises(TotoSession::UserIdExists) { @manager.create_account("dee", "pw") }
    @store.fault.clear
    @cache.fault[:store] = -> { raise TotoSession::BackendUnavailable, "redis down" }
    error = assert_raises(TotoSession::BackendUnavailable) { @manager.create_session }
    assert_includes error.details, "redis down"
    @cache.fault.clear
    s = @manager.create_session
    @cache.fault[:load_renew] = -> { raise TotoSession::NotFound }
    assert_nil @manager.retrieve_session(s.id), "NotFound from load means a missing session"
    @cache.fault.clear
    refute_nil @manager.retrieve_session(s.id)
  end

  def test_store_false_means_collision_or_missing
    backend = Object.new
    def backend.store(*, **) = false
    def backend.load(_id) = nil
    def backend.remove(_id) = nil
    m = fast_manager(cache: backend)
    assert_raises(TotoSession::IdCollision) { m.create_session }
  end

  def test_a_wrong_result_type_is_a_misbehaving_backend
    backend = Object.new
    def backend.store(*, **) = "not a valid id!"
    def backend.load(_id) = nil
    def backend.remove(_id) = nil
    m = fast_manager(cache: backend)
    assert_raises(TotoSession::BackendMisbehaved) { m.create_session }
  end

  def test_non_local_exits_stop_at_the_c_boundary
    @cache.fault[:store] = -> { throw :escape }
    result = catch(:escape) do
      error = assert_raises(TotoSession::BackendFailed) { @manager.create_session }
      assert_includes error.details, "non-locally"
      :not_escaped
    end
    assert_equal :not_escaped, result
    @cache.fault.clear
    @manager.create_session.close
  end

  def test_thread_kill_inside_a_callback_stops_at_the_boundary_then_ends_the_thread
    @cache.fault[:store] = -> { Thread.current.kill }
    after_call = false
    worker = Thread.new do
      Thread.current.report_on_exception = false
      begin
        @manager.create_session
      rescue StandardError
        nil
      end
      after_call = true
    end
    assert_raises(TotoSession::ThreadKilled) { worker.join }
    refute after_call, "the thread ended once the C call had returned"
    refute worker.alive?
    @cache.fault.clear
    @manager.create_session.close
  end

  def test_interrupt_in_a_callback_is_reraised_as_itself
    @cache.fault[:store] = -> { raise Interrupt }
    assert_raises(Interrupt) { @manager.create_session }
    @cache.fault.clear
    @manager.create_session.close
  end

  def test_thread_raise_waits_until_the_library_call_returned
    s = @manager.create_session("ed")
    started = Queue.new
    finished = false
    @cache.fault[:load_renew] = lambda do
      started << true
      sleep 0.3 # Thread#raise arrives now, inside the callback
      finished = true
    end
    worker = Thread.new do
      @manager.retrieve_session(s.id)
      :no_interrupt
    rescue RuntimeError => e
      e.message
    end
    started.pop
    worker.raise("stop")
    # delivered once the C call had returned, not inside the callback (where it would
    # have failed the call or had to cross C)
    assert_equal "stop", worker.value
    assert finished, "the callback ran to its end"
    @cache.fault.clear
    refute_nil @manager.retrieve_session(s.id)
  end

  def test_an_interrupt_during_a_blocking_call_does_not_leak_its_handle
    code = <<~RUBY
      require "toto_session"
      m = TotoSession::Manager.new(password_cost: { memory_kib: 65_536, iterations: 3, parallelism: 1 })
      m.create_account("a", "b")
      worker = Thread.new do
        Thread.current.report_on_exception = false
        m.login("a", "b") # Argon2id with 64 MiB: the raise lands while Rust hashes
        :not_interrupted
      end
      sleep 0.03
      worker.raise("stop")
      result = begin
        worker.value
      rescue RuntimeError => e
        e.message
      end
      worker = nil
      GC.start
      GC.start
      puts [result, TotoSession::SessionPointer.release_count].join(",")
    RUBY
    out, err, status = run_ruby(code)
    assert status.success?, err
    assert_equal "stop,1\n", out, "interrupted after the call; the session it made was wrapped, then freed"
  end

  def test_blocking_calls_release_the_gvl
    slow = TotoSession::Manager.new(password_cost: { memory_kib: 65_536, iterations: 3, parallelism: 1 })
    ticks = 0
    done = false
    running = Queue.new
    ticker = Thread.new do
      running << true
      ticks += 1 until done # a busy Ruby thread: it only runs while the GVL is free
    end
    running.pop
    t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    before = ticks
    slow.create_account("heavy", "pw") # Argon2id with 64 MiB: tens of milliseconds
    during = ticks - before
    elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0
    done = true
    ticker.join
    assert_operator elapsed, :>, 0.02, "the hash takes a while"
    assert_operator during, :>, 100_000, "another Ruby thread ran during the hash (#{during} ticks in #{elapsed}s)"
  end

  def test_ruby_backend_under_blocking_calls_from_threads
    threads = Array.new(6) do |t|
      Thread.new do
        20.times.map do |i|
          s = @manager.create_session("user#{t}")
          s[:i] = i
          @manager.save_session(s)
          got = @manager.retrieve_session(s.id)
          got[:i] == i && got.user_id == "user#{t}"
        end.all?
      end
    end
    assert threads.all?(&:value)
    assert_equal 120, @cache.size
  end

  def test_backends_are_released_with_the_last_native_reference
    code = <<~RUBY
      require "toto_session"
      before = TotoSession::Callbacks.live_count
      cache = TotoSession::Cache.new(TotoSession::Cache::HashBackend.new)
      store = TotoSession::AccountStore.new(TotoSession::AccountStore::HashBackend.new)
      manager = TotoSession::Manager.new(cache: cache, account_store: store,
                                         password_cost: { memory_kib: 64, iterations: 1, parallelism: 1 })
      manager.create_account("a", "b")
      account = manager.account("a")
      cache.close
      store.close
      GC.start
      alive_with_manager = TotoSession::Callbacks.live_count - before
      manager.close
      alive_with_account = TotoSession::Callbacks.live_count - before
      account.close
      gone = TotoSession::Callbacks.live_count - before
      # and through the GC alone
      3.times { TotoSession::Cache.new(TotoSession::Cache::HashBackend.new) }
      created = TotoSession::Callbacks.live_count - before
      GC.start
      collected = TotoSession::Callbacks.live_count - before
      puts [alive_with_manager, alive_with_account, gone, created, collected].join(",")
    RUBY
    out, err, status = run_ruby(code)
    assert status.success?, err
    alive_with_manager, alive_with_account, gone, created, collected = out.split(",").map(&:to_i)
    assert_equal 2, alive_with_manager, "the manager keeps both backends"
    assert_equal 1, alive_with_account, "the account keeps its store"
    assert_equal 0, gone
    assert_equal 3, created
    assert_operator collected, :<, 3
  end

  def test_garbage_at_exit_with_ruby_backends_does_not_crash
    code = <<~RUBY
      require "toto_session"
      m = TotoSession::Manager.new(cache: TotoSession::Cache::HashBackend.new,
                                   account_store: TotoSession::AccountStore::HashBackend.new,
                                   clock: -> { Time.now.to_f },
                                   password_cost: { memory_kib: 64, iterations: 1, parallelism: 1 })
      s = m.create_session("x")
      $keep = [m.account("x"), s]
      puts "ok"
    RUBY
    out, err, status = run_ruby(code)
    assert status.success?, err
    assert_equal "ok\n", out
  end
end
