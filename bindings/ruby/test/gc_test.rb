# frozen_string_literal: true

require_relative "test_helper"

# Handles nobody closes are freed by the GC (FFI::AutoPointer + toto_*_free): measured
# in child processes, by resident memory and by the releaser's own count.
class GcTest < Minitest::Test
  N = 50_000
  VALUE_BYTES = 1024

  CHILD = <<~RUBY
    require "toto_session"
    page = 4096
    rss = -> { File.read("/proc/self/statm").split[1].to_i * page }
    keep = ARGV[0] == "keep"
    n = Integer(ARGV[1])
    value = "v" * Integer(ARGV[2])
    kept = []
    GC.start
    before = rss.call
    n.times do |i|
      s = TotoSession::Session.new("user", expires: 4_000_000_000)
      s[:payload] = value # lives in the native session, not on the Ruby heap
      kept << s if keep
      GC.start if (i % 1000).zero?
    end
    GC.start
    GC.start
    grown = rss.call - before
    puts [grown, TotoSession::SessionPointer.release_count, kept.size].join(",")
  RUBY

  def child(mode)
    out, err, status = run_ruby(CHILD, mode, N.to_s, VALUE_BYTES.to_s)
    assert status.success?, err
    out.split(",").map(&:to_i)
  end

  def test_unreferenced_sessions_are_freed_by_the_gc
    dropped_growth, dropped_releases, = child("drop")
    kept_growth, kept_releases, kept = child("keep")
    assert_equal N, kept
    assert_equal 0, kept_releases, "nothing referenced is freed"
    # 50_000 sessions with 1 KiB of state each: tens of MiB when referenced
    assert_operator kept_growth, :>, N * VALUE_BYTES * 0.8,
                    "the referenced run should hold the sessions (grew #{kept_growth} bytes)"
    assert_operator dropped_releases, :>=, N * 0.98,
                    "the GC released #{dropped_releases} of #{N} unreferenced sessions"
    assert_operator dropped_growth, :<, kept_growth / 5,
                    "unreferenced run grew #{dropped_growth} bytes vs #{kept_growth} referenced"
  end

  def test_every_handle_type_is_released_by_the_gc
    code = <<~RUBY
      require "toto_session"
      cost = { memory_kib: 64, iterations: 1, parallelism: 1 }
      200.times do
        m = TotoSession::Manager.new(password_cost: cost)
        m.create_account("u", "p")
        m.account("u")
        m.create_session("u")
        TotoSession::Cache.new(TotoSession::Cache::HashBackend.new)
        TotoSession::AccountStore.new(TotoSession::AccountStore::HashBackend.new)
      end
      GC.start
      GC.start
      puts TotoSession::HandlePointer.releases.values_at(:session, :account, :cache, :account_store, :manager).join(",")
      puts TotoSession::Callbacks.live_count
    RUBY
    out, err, status = run_ruby(code)
    assert status.success?, err
    counts_line, live = out.lines
    sessions, accounts, caches, stores, managers = counts_line.split(",").map(&:to_i)
    # each round made 1 session, 1 account, 2 caches, 2 stores, 1 manager
    assert_operator sessions, :>=, 190
    assert_operator accounts, :>=, 190
    assert_operator caches, :>=, 380
    assert_operator stores, :>=, 380
    assert_operator managers, :>=, 190
    assert_operator live.to_i, :<=, 20, "Ruby backends released with their native caches and stores"
  end

  def test_explicit_close_counts_once
    before = TotoSession::HandlePointer.releases
    s = TotoSession::Session.new(expires: 1)
    s.close
    s.close
    assert_equal before[:session] + 1, TotoSession::SessionPointer.release_count
    s = nil
    GC.start # the closed handle's finalizer does not free it again (no double free)
    assert_nil s
  end
end
