# frozen_string_literal: true

require_relative "test_helper"

# Issue 19: the library inside a preloading server (the Puma/Unicorn pattern). The
# master uses the binding (a manager over the Redis cache, one create and retrieve, so
# the pool holds a connection and the random generator is seeded) and then forks
# workers. Each worker must draw its own ids and keys (none repeats the master's or a
# sibling's) and read back its own sessions only (no connection shared across fork).
class ForkTest < Minitest::Test
  WORKERS = 2
  ROUNDS = 50

  def redis_manager
    url = ENV.fetch("TOTO_REDIS_URL") { flunk "TOTO_REDIS_URL is not set: run the suite through bindings/ruby/test.sh" }
    cache = TotoSession::Cache.redis(url, key_prefix: "ruby-fork-#{Process.pid}:")
    fast_manager(cache: cache)
  end

  # Creates a keyed session for `user` and reads it back; returns [id, key] or raises.
  def round_trip(manager, user)
    created = manager.create_session(user, key: true)
    id = created.id
    key = created.key
    created.close
    back = manager.retrieve_session(id)
    raise "#{user}: session #{id} is gone" if back.nil?

    begin
      raise "#{user}: got #{back.user_id}'s session back" unless back.user_id == user
      raise "#{user}: got another id back" unless back.id == id
      raise "#{user}: got another key back" unless back.key == key
    ensure
      back.close
    end
    [id, key]
  end

  def test_workers_forked_from_a_preloaded_master
    skip "fork is not available" unless Process.respond_to?(:fork)

    manager = redis_manager
    master_tokens = round_trip(manager, "master")
    workers = Array.new(WORKERS) do |w|
      reader, writer = IO.pipe
      pid = Process.fork do
        reader.close
        status = 1
        begin
          user = "worker#{w}"
          ROUNDS.times { writer.puts(round_trip(manager, user).join(" ")) }
          status = 0
        rescue StandardError => e
          writer.puts("error #{e.class}: #{e.message}")
        ensure
          writer.close
          # exit! skips at_exit hooks: minitest must not run the suite again here.
          exit!(status)
        end
      end
      writer.close
      [pid, reader]
    end
    # The master goes on using its own pool meanwhile.
    ROUNDS.times { master_tokens.concat(round_trip(manager, "master")) }

    tokens = master_tokens.dup
    workers.each do |pid, reader|
      lines = reader.read.lines.map(&:chomp)
      reader.close
      _, status = Process.wait2(pid)
      errors = lines.grep(/\Aerror /)
      assert_empty errors, "worker #{pid}"
      assert status.success?, "worker #{pid} exited with #{status.exitstatus}"
      assert_equal ROUNDS, lines.size
      lines.each { |l| tokens.concat(l.split(" ")) }
    end
    assert_equal (1 + ROUNDS + (WORKERS * ROUNDS)) * 2, tokens.size
    repeated = tokens.group_by(&:itself).select { |_, v| v.size > 1 }.keys
    assert_empty repeated, "ids or keys repeated across processes"
  end
end
