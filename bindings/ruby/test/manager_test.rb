# frozen_string_literal: true

require_relative "test_helper"

class ManagerTest < Minitest::Test
  DAY = 86_400.0

  def setup
    @clock = ManualClock.new(1_000_000.0)
    @manager = fast_manager(cache: TotoSession::Cache.memory(clock: @clock), clock: @clock,
                            ttl: 10 * DAY, anon_ttl: DAY, renew: 0, anon_renew: 0)
  end

  def test_options_and_defaults
    m = TotoSession::Manager.new
    refute m.ruby_backed?
    assert_instance_of TotoSession::Cache, m.cache
    assert_instance_of TotoSession::AccountStore, m.account_store
    s = m.create_session("u")
    assert_in_delta Time.now.to_f + (365 * DAY), s.expires_at, 60
    a = m.create_session
    assert_in_delta Time.now.to_f + DAY, a.expires_at, 60
    assert @manager.ruby_backed?
    assert_raises(TotoSession::InvalidArgument) { TotoSession::Manager.new(ttl: 0) }
    assert_raises(TotoSession::InvalidArgument) { TotoSession::Manager.new(renew: -1) }
    assert_raises(ArgumentError) { TotoSession::Manager.new(password_cost: { memory: 1 }) }
    assert_raises(TotoSession::InvalidArgument) do
      TotoSession::Manager.new(password_cost: { memory_kib: 1, iterations: 0, parallelism: 0 })
    end
    assert_includes m.inspect, "Manager"
    m.close
    m.close
    assert_raises(TotoSession::ClosedError) { m.create_session }
  end

  def test_sessions_ttls_and_renewal
    user = @manager.create_session("Bob")
    anon = @manager.create_session
    assert_equal "bob", user.user_id
    assert_equal 1_000_000.0 + (10 * DAY), user.expires_at
    assert_equal 1_000_000.0 + DAY, anon.expires_at
    assert_nil user.key
    keyed = @manager.create_session("bob", key: true)
    assert_equal 22, keyed.key.size
    @clock.advance(100)
    again = @manager.retrieve_session(user.id)
    assert_equal 1_000_000.0 + (10 * DAY), again.expires_at, "within 1 % of the window: kept"
    @clock.advance(DAY / 2)
    again = @manager.retrieve_session(user.id)
    assert_equal 1_000_100.0 + (DAY / 2) + (10 * DAY), again.expires_at, "expiry slides to now + ttl"
    @clock.advance(DAY + 1)
    assert_nil @manager.retrieve_session(anon.id), "anonymous session expired"
    assert_raises(TotoSession::InvalidSessionId) { @manager.retrieve_session!(anon.id) }
    assert_nil @manager.retrieve_session("not a valid id!")
    assert_nil @manager.retrieve_session(TotoSession.generate_id)
    refute_nil @manager.retrieve_session(user.id)
  end

  def test_save_refresh_rotate_remove
    s = @manager.create_session("carol")
    s[:cart] = { "items" => [1] }
    assert s.dirty?
    assert_same s, @manager.save_session(s)
    refute s.dirty?
    @manager.save_session(s) # clean: a no-op
    other = @manager.retrieve_session(s.id)
    other[:cart] = { "items" => [1, 2] }
    @manager.save_session(other)
    assert_equal({ "items" => [1] }, s[:cart])
    assert_same s, @manager.refresh(s)
    assert_equal({ "items" => [1, 2] }, s[:cart])
    @manager.refresh_session(s)
    old_id = s.id
    assert_same s, @manager.rotate(s)
    refute_equal old_id, s.id
    assert_nil @manager.retrieve_session(old_id)
    assert_equal({ "items" => [1, 2] }, @manager.retrieve_session(s.id)[:cart])
    @manager.rotate_session(s)
    @manager.remove_session(s)
    assert_nil @manager.retrieve_session(s.id)
    assert_raises(TotoSession::InvalidSessionId) { @manager.refresh(s) }
    @manager.remove_session(s.id) # missing: fine
    @manager.logout(TotoSession.generate_id)
    assert_raises(TotoSession::InvalidSessionId) { @manager.remove_session("bad id") }
  end

  def test_block_forms_save_and_close
    id = @manager.create_session("dan") { |s| s[:n] = 1; s.id }
    assert_equal 1, @manager.retrieve_session(id)[:n]
    captured = nil
    result = @manager.with_session(id) do |s|
      captured = s
      s[:n] += 1
      :done
    end
    assert_equal :done, result
    assert captured.closed?
    assert_equal 2, @manager.retrieve_session(id)[:n]
    assert_equal 2, @manager.retrieve_session(id) { |s| s[:n] }
    assert_nil @manager.retrieve_session(TotoSession.generate_id) { flunk "not called" }
    # an exception in the block: nothing saved, handle closed
    assert_raises(RuntimeError) do
      @manager.with_session(id) do |s|
        captured = s
        s[:n] = 100
        raise "boom"
      end
    end
    assert captured.closed?
    assert_equal 2, @manager.retrieve_session(id)[:n]
    assert_raises(TotoSession::InvalidSessionId) { @manager.with_session(TotoSession.generate_id) { flunk } }
    assert_raises(ArgumentError) { @manager.with_session(id) }
    assert_equal :closed_inside, @manager.with_session(id) { |s| s.close; :closed_inside }
    assert_equal 3, @manager.retrieve_session!(id) { |s| s[:n] = 3 }
    assert_equal 3, @manager.retrieve_session(id)[:n]
  end

  def test_accounts_and_login
    assert_nil @manager.create_account("Eve", "pw1", email: "eve@example.com", "plan" => "pro", age: 0)
    assert_raises(TotoSession::UserIdExists) { @manager.create_account("eve", "x") }
    assert_raises(TotoSession::InvalidUserId) { @manager.create_account("", "x") }
    assert_raises(TotoSession::InvalidArgument) { @manager.create_account("x", "y", password: "z") }
    assert_raises(TotoSession::InvalidCredentials) { @manager.login("eve", "wrong") }
    assert_raises(TotoSession::InvalidCredentials) { @manager.login("nobody", "pw1") }
    assert_raises(TotoSession::InvalidCredentials) { @manager.login("", "pw1") }
    s = @manager.login("EVE", "pw1")
    assert_equal "eve", s.user_id
    assert_equal 22, s.key.size
    account = @manager.account("eve")
    assert_equal "eve@example.com", account["email"]
    assert_equal "pro", account["plan"]
    assert_equal 0, account["age"]
    assert account["password"].start_with?("$argon2id$")
    account.close
    assert_equal "eve@example.com", @manager.session_account(s) { |a| a["email"] }
    anon = @manager.create_session
    assert_raises(TotoSession::NotAuthorized) { @manager.session_account(anon) }
    assert_raises(TotoSession::InvalidUserId) { @manager.account("") }
    assert_equal 1, @manager.login("eve", "pw1") { |x| x.user_id.size - 2 }
  end

  def test_change_and_generate_password_log_out_everywhere
    @manager.create_account("fred", "old")
    current = @manager.login("fred", "old")
    other = @manager.login("fred", "old")
    old_current_id = current.id
    assert_raises(TotoSession::InvalidCredentials) { @manager.change_password("fred", "bad", "new") }
    assert_nil @manager.change_password("fred", "old", "new", current: current)
    refute_equal old_current_id, current.id, "current session moved to a fresh id"
    assert_nil @manager.retrieve_session(other.id)
    assert_nil @manager.retrieve_session(old_current_id)
    refute_nil @manager.retrieve_session(current.id)
    assert_raises(TotoSession::InvalidCredentials) { @manager.login("fred", "old") }
    @manager.login("fred", "new").close
    @manager.change_password("fred", "new", "newer")
    assert_nil @manager.retrieve_session(current.id)
    generated = @manager.generate_password("fred")
    assert_match(/\A[A-Za-z0-9]{10}\z/, generated)
    @manager.login("fred", generated).close
    assert_raises(TotoSession::InvalidCredentials) { @manager.generate_password("nobody") }
    assert_raises(TotoSession::InvalidUserId) { @manager.generate_password("") }
  end

  def test_clear_sessions
    3.times { @manager.create_session("gina").close }
    @manager.create_session("hank").close
    assert_equal 3, @manager.clear_sessions("GINA")
    assert_equal 0, @manager.clear_sessions("gina")
  end

  def test_verify_request
    @manager.create_account("ivy", "pw")
    s = @manager.login("ivy", "pw")
    mac = s.sign_request("POST", "/x?y=1", "{}")
    @clock.advance(DAY)
    v = @manager.verify_request(s.id, mac, "POST", "/x?y=1", "{}")
    assert_equal s.id, v.id
    assert_equal 1_000_000.0 + DAY + (10 * DAY), v.expires_at, "renewed"
    assert_equal s.key, v.key
    assert @manager.verify_request?(s.id, mac, "POST", "/x?y=1", "{}")
    e = assert_raises(TotoSession::InvalidHMAC) { @manager.verify_request(s.id, mac, "POST", "/x?y=2", "{}") }
    assert_equal 1008, e.code
    e = assert_raises(TotoSession::InvalidSessionId) { @manager.verify_request(TotoSession.generate_id, mac, "POST", "/x?y=1", "{}") }
    assert_equal 1007, e.code
    assert_raises(TotoSession::InvalidHMAC) { @manager.verify_request?(s.id, "", "POST", "/x?y=1", "{}") }
    # a session without a key never verifies
    anon = @manager.create_session
    assert_raises(TotoSession::InvalidHMAC) { @manager.verify_request(anon.id, "AAAA", "GET", "/") }
    # block form: changes saved
    @manager.verify_request(s.id, mac, "POST", "/x?y=1", "{}") { |x| x[:seen] = true }
    assert_equal true, @manager.retrieve_session(s.id)[:seen]
  end

  def test_finish_response
    plain = TotoSession::Manager.new # built-in backends: the call that holds the GVL
    [@manager, plain].each do |m|
      body = '{"result":1}'
      s = m.create_session("ivy", key: true)
      assert_equal s.sign_response(body), m.finish_response(s, body), "unchanged: signed"
      s[:n] = 7
      assert_equal s.sign_response(body), m.finish_response(s, body), "changed: saved, signed"
      refute s.dirty?
      assert_equal 7, m.retrieve_session(s.id)[:n]
      keyless = m.create_session("ivy")
      keyless[:n] = 1
      assert_nil m.finish_response(keyless, body), "no key: unsigned"
      refute keyless.dirty?, "saved all the same"
      m.remove_session(s.id)
      s[:n] = 8
      assert_raises(TotoSession::SessionRevoked) { m.finish_response(s, body) }
      s.close
      assert_raises(TotoSession::ClosedError) { m.finish_response(s, body) }
    end
  end

  def test_renew_granularity
    assert_raises(TotoSession::InvalidArgument) { fast_manager(renew_granularity: 1.5) }
    m = fast_manager(cache: TotoSession::Cache.memory(clock: @clock), clock: @clock, renew_granularity: 0)
    s = m.create_session("x")
    @clock.advance(1)
    assert_equal s.expires_at + 1, m.retrieve_session(s.id).expires_at, "0: every retrieve renews"
  end

  def test_raising_clock_falls_back_to_the_wall_clock
    m = fast_manager(clock: -> { raise "no clock" })
    s = m.create_session("x")
    assert_in_delta Time.now.to_f + (365 * DAY), s.expires_at, 60
    m2 = fast_manager(clock: -> { Time.at(5000) })
    assert_equal 5000 + (365 * DAY), m2.create_session("x").expires_at
  end
end
