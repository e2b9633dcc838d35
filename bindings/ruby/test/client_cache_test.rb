# frozen_string_literal: true

require_relative "test_helper"

class ClientCacheTest < Minitest::Test
  KEY_A = { id: 1, key: "a" * 32 }.freeze
  KEY_B = { id: 2, key: "b" * 32 }.freeze

  def test_arguments
    assert_raises(ArgumentError) { TotoSession::Cache.client_side(keys: []) }
    assert_raises(ArgumentError) { TotoSession::Cache.client_side(keys: [{ id: 1, key: "short" }]) }
    assert_raises(TotoSession::InvalidArgument) { TotoSession::Cache.client_side(keys: [KEY_A, KEY_A]) }
    assert_raises(TotoSession::InvalidArgument) { TotoSession::Cache.client_side(keys: [{ id: 1, key: "\0" * 32 }]) }
  end

  def test_through_the_manager
    cache = TotoSession::Cache.client_side(keys: [KEY_A])
    manager = fast_manager(cache: cache)
    session = manager.create_session("Gina", key: true)
    first = session.id
    assert_match(/\A[A-Za-z0-9_-]{100,}\z/, first)
    session[:n] = 3
    manager.save_session(session)
    refute_equal first, session.id, "a save seals a new token"
    mac = session.sign_request("POST", "/x", "{}")
    manager.verify_request(session.id, mac, "POST", "/x", "{}") do |v|
      assert_equal 3, v[:n]
      assert_equal "gina", v.user_id
    end
    tampered = session.id.dup
    tampered[5] = tampered[5] == "A" ? "B" : "A"
    assert_nil manager.retrieve_session(tampered)
    assert_nil manager.retrieve_session("x" * 5000)
    # Logout cannot revoke; log out everywhere is unsupported.
    manager.logout(session.id)
    refute_nil manager.retrieve_session(session.id)
    assert_raises(TotoSession::Unsupported) { manager.clear_sessions("gina") }
    session.close
  end

  def test_rotation_expiry_and_size
    clock = ManualClock.new
    old = TotoSession::Cache.client_side(keys: [KEY_A], clock: clock)
    rotated = TotoSession::Cache.client_side(keys: [KEY_B, KEY_A], clock: clock)
    old_token = old.store("x", "record", expires: clock.call + 60)
    new_token = rotated.store("x", "record", expires: clock.call + 60)
    assert_equal "record", rotated.load(old_token)
    assert_nil old.load(new_token)
    clock.advance(60)
    assert_nil rotated.load(old_token)
    session = TotoSession::Session.new("hal", expires: clock.call + 60)
    session[:big] = "x" * TotoSession::Native::MAX_CLIENT_RECORD_LEN
    assert_raises(TotoSession::TooLarge) { rotated.store_session(session) }
    session.close
  end
end
