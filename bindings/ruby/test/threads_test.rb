# frozen_string_literal: true

require_relative "test_helper"

class ThreadsTest < Minitest::Test
  THREADS = 8
  ROUNDS = 50

  def hammer(manager)
    manager.create_account("shared", "pw", counter: 0)
    errors = Queue.new
    threads = Array.new(THREADS) do |t|
      Thread.new do
        ids = []
        ROUNDS.times do |i|
          s = manager.create_session("user#{t}", key: i.even?)
          s[:thread] = t
          s[:round] = i
          s["bin"] = [t, i].pack("NN")
          manager.save_session(s)
          ids << s.id
          mac = s.key && s.sign_request("GET", "/r/#{i}")
          s.close
          got = manager.retrieve_session(ids.sample)
          errors << "lost a session of thread #{t}" unless got && got[:thread] == t
          if mac
            manager.verify_request(ids.last, mac, "GET", "/r/#{i}") { |v| v[:verified] = true }
          end
          manager.with_session(ids.last) { |w| w[:round] += 1000 }
          errors << "bad round" unless manager.retrieve_session(ids.last)[:round] == i + 1000
          manager.account("shared") { |a| a["counter"] }
          Thread.pass
        end
        ids.size
      rescue StandardError => e
        errors << "#{e.class}: #{e.message}"
        0
      end
    end
    assert_equal THREADS * ROUNDS, threads.sum(&:value)
    assert_empty Array.new(errors.size) { errors.pop }
    THREADS.times { |t| assert_equal ROUNDS, manager.clear_sessions("user#{t}") }
  end

  def test_threads_share_a_manager_with_builtin_backends
    hammer(fast_manager)
  end

  def test_threads_share_a_manager_with_ruby_backends
    cache = TotoSession::Cache::HashBackend.new
    manager = fast_manager(cache: cache, account_store: TotoSession::AccountStore::HashBackend.new,
                           clock: -> { Time.now.to_f })
    hammer(manager)
    assert_equal 0, cache.size
  end

  def test_logins_in_parallel
    manager = fast_manager
    manager.create_account("p", "pw")
    threads = Array.new(4) { Thread.new { Array.new(5) { manager.login("p", "pw").key }.uniq.size } }
    assert_equal [5, 5, 5, 5], threads.map(&:value)
  end

  def test_a_session_moves_between_threads
    manager = fast_manager
    s = manager.create_session("mover")
    Thread.new { s[:from] = "thread" }.join
    assert_equal "thread", s[:from]
    Thread.new { manager.save_session(s) }.join
    assert_equal "thread", manager.retrieve_session(s.id)[:from]
  end
end
