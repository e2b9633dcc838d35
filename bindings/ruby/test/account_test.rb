# frozen_string_literal: true

require_relative "test_helper"

# A Ruby store that counts loads and can be told to fail saves.
class CountingStore < TotoSession::AccountStore::HashBackend
  attr_accessor :fail_saves
  attr_reader :loads, :saves

  def initialize
    super
    @loads = []
    @saves = []
    @fail_saves = false
  end

  def load(user_id, names)
    @loads << names
    super
  end

  def save(user_id, properties)
    raise IOError, "disk full" if @fail_saves

    @saves << properties.keys.sort
    super
  end

  # Puts an account straight into the store (values as Ruby values).
  def seed(user_id, values)
    create(user_id, values.transform_values { |v| TotoSession::CBOR.encode(v) })
  end
end

class AccountTest < Minitest::Test
  def each_store
    yield TotoSession::AccountStore.memory
    yield TotoSession::AccountStore.new(CountingStore.new)
  end

  def test_create_account_properties_and_save
    each_store do |store|
      store.create("Dana")
      assert_raises(TotoSession::UserIdExists) { store.create("dana") }
      assert_raises(TotoSession::InvalidUserId) { store.create("") }
      account = store.account("DANA")
      assert_equal "dana", account.user_id
      assert_nil account["email"]
      refute account.key?("email")
      refute account.modified?
      account["email"] = "d@example.com"
      account[:zero] = 0
      account[:no] = false
      account[:empty] = ""
      account[:nothing] = nil
      account[:bin] = "\x00\xFF".b
      account[:float] = 2.5
      account[:big] = 2**64 - 1
      account[:prefs] = { "theme" => "dark", "n" => [1, 2] }
      account[:sym] = :gold
      assert account.modified?
      assert account.modified?("email")
      refute account.modified?("other")
      assert_equal 10, account.modified_count
      assert_same account, account.save
      refute account.modified?
      account.close
      store.account("dana") do |again|
        assert_equal "d@example.com", again["email"]
        assert_equal Encoding::UTF_8, again["email"].encoding
        assert_equal 0, again[:zero]
        assert_same false, again[:no]
        assert_equal "", again[:empty]
        assert_nil again[:nothing]
        assert again.key?(:nothing)
        assert_equal :null, again.type_of(:nothing)
        assert_equal "\x00\xFF".b, again[:bin]
        assert_equal Encoding::BINARY, again[:bin].encoding
        assert_equal 2.5, again[:float]
        assert_equal 2**64 - 1, again[:big]
        assert_equal({ "theme" => "dark", "n" => [1, 2] }, again[:prefs])
        assert_equal "gold", again[:sym]
        assert_equal :map, again.type_of(:prefs)
        assert_nil again.type_of(:missing)
        assert_equal "d@example.com", again.fetch("email")
        assert_raises(KeyError) { again.fetch("missing") }
        assert_equal 1, again.fetch("missing", 1)
        assert_equal "m", again.fetch("missing") { "m" }
        assert_equal '{"n":[1,2],"theme":"dark"}', again.get_json(:prefs)
        assert_nil again.get_json(:missing)
        assert_equal TotoSession::CBOR.encode(0), again.get_cbor(:zero)
        assert_nil again.get_cbor(:missing)
        again.set_json(:j, "[1]")
        again.set_cbor(:c, TotoSession::CBOR.encode("cbor"))
        assert_equal [1], again[:j]
        assert_equal "cbor", again[:c]
        assert_raises(TotoSession::InvalidJson) { again.set_json(:j, "[") }
        assert_raises(TotoSession::InvalidCbor) { again.set_cbor(:c, "\xff".b) }
        assert_raises(TypeError) { again[:t] = Object.new }
        assert_includes again.inspect, "dana"
      end
      store.remove("dana")
      assert_raises(TotoSession::InvalidCredentials) { store.remove("dana") }
      store.account("dana") do |gone|
        assert_raises(TotoSession::InvalidCredentials) { gone["email"] }
        gone["x"] = 1
        assert_raises(TotoSession::InvalidCredentials) { gone.save }
        assert gone.modified?
      end
      store.close
      store.close
    end
  end

  def test_load_names_in_one_store_call
    backend = CountingStore.new
    backend.seed("erin", { "a" => 1, "b" => 2, "c" => 3, "password" => "x" })
    store = TotoSession::AccountStore.new(backend)
    account = store.account("erin")
    account.load("a", :b, "missing")
    assert_equal [%w[a b missing]], backend.loads
    assert_equal 1, account["a"]
    assert_equal 2, account["b"]
    assert_nil account["missing"]
    assert_equal 1, backend.loads.size, "loaded names are not loaded again"
    assert_equal 3, account["c"]
    assert_equal 2, backend.loads.size
    account.load # nothing to load
    account.load_all
    assert_nil backend.loads.last
    assert_raises(TotoSession::TooLarge) { account.load(*Array.new(4097) { |i| "n#{i}" }) }
    account["a"] = 10
    account.load_all
    assert_equal 10, account["a"], "modified values survive load_all"
  end

  def test_failed_save_keeps_changes_for_a_retry
    backend = CountingStore.new
    backend.seed("fay", { "email" => "old" })
    store = TotoSession::AccountStore.new(backend)
    account = store.account("fay")
    account["email"] = "new"
    account["plan"] = "pro"
    backend.fail_saves = true
    error = assert_raises(TotoSession::BackendFailed) { account.save }
    assert_includes error.details, "IOError: disk full"
    assert_instance_of IOError, error.cause
    assert_equal 2, account.modified_count
    assert_equal "old", backend["fay"]["email"]
    backend.fail_saves = false
    account.save
    assert_equal 0, account.modified_count
    assert_equal [%w[email plan]], backend.saves
    assert_equal({ "email" => "new", "plan" => "pro" }, backend["fay"])
  end

  def test_store_without_remove
    backend = Object.new
    def backend.load(_user_id, _names) = nil
    def backend.save(_user_id, _props) = false
    def backend.create(_user_id, _props) = true
    store = TotoSession::AccountStore.new(backend)
    assert_raises(TotoSession::Unsupported) { store.remove("x") }
    store.create("x")
    assert_raises(ArgumentError) { TotoSession::AccountStore.new(Object.new) }
  end

  # Issue 19: the generic setter refuses the password property; a hash from another
  # system is imported with password_hash=, which checks it is one the library can
  # verify.
  def test_password_hashes_are_imported_only_through_password_hash
    manager = fast_manager
    v = vectors["legacy_password_hashes"].first
    manager.create_account("migrated", "temporary")
    manager.account("migrated") do |account|
      assert_raises(TotoSession::InvalidArgument) { account["password"] = v["hash"] }
      assert_raises(TotoSession::InvalidArgument) { account.password_hash = "plain text" }
      refute account.modified?
      account.password_hash = v["hash"]
      assert account.modified?("password")
      account.save
    end
    assert_raises(TotoSession::InvalidCredentials) { manager.login("migrated", "temporary") }
    manager.login("migrated", v["password"]) { |s| assert_equal "migrated", s.user_id }
    manager.account("migrated") { |a| assert a["password"].start_with?("$argon2id$"), "upgraded on login" }
  end

  def test_legacy_toto_password_hashes_are_accepted_and_upgraded
    backend = CountingStore.new
    manager = fast_manager(account_store: backend)
    vectors["legacy_password_hashes"].each_with_index do |v, i|
      user = "legacy#{i}"
      backend.seed(user, { "password" => v["hash"] })
      assert_raises(TotoSession::InvalidCredentials) { manager.login(user, v["wrong_password"]) }
      manager.login(user, v["password"]) { |s| assert_equal user, s.user_id }
      assert backend[user]["password"].start_with?("$argon2id$"), "upgraded on login"
      manager.login(user, v["password"]).close
    end
  end
end
