# frozen_string_literal: true

require "json"
require_relative "test_helper"

class SessionTest < Minitest::Test
  FAR = 4_000_000_000.0

  def setup
    @s = TotoSession::Session.new("Alice", expires: FAR)
  end

  def teardown
    @s.close
  end

  def test_metadata
    assert_equal 22, @s.id.size
    assert_equal Encoding::UTF_8, @s.id.encoding
    assert_equal "alice", @s.user_id
    refute @s.anonymous?
    assert_equal FAR, @s.expires_at
    assert_equal Time.at(FAR), @s.expires
    @s.expires = Time.at(FAR + 10)
    assert_equal FAR + 10, @s.expires_at
    @s.expires = 123.5
    assert_equal 123.5, @s.expires_at
    assert_raises(TotoSession::InvalidArgument) { @s.expires = Float::NAN }
    @s.id = "my-own-id"
    assert_equal "my-own-id", @s.id
    assert_raises(TotoSession::InvalidSessionId) { @s.id = "has space" }
    assert_raises(TotoSession::InvalidSessionId) { @s.id = "" }
    TotoSession::Session.open(expires: 1.0) { |anon| assert anon.anonymous? }
  end

  def test_toto_json_is_the_session_object_of_an_answer
    @s.key = "secret"
    object = JSON.parse(@s.toto_json)
    assert_equal({ "session_id" => @s.id, "expires" => @s.expires_at, "user_id" => "alice" }, object)
    assert_equal Encoding::UTF_8, @s.toto_json.encoding
    refute @s.anonymous?
    anon = TotoSession::Session.new(nil, expires: FAR)
    assert anon.anonymous?
    assert_equal "", JSON.parse(anon.toto_json)["user_id"]
    anon.close
    @s.close
    assert_raises(TotoSession::ClosedError) { @s.toto_json }
  end

  def test_new_with_id_and_validation
    TotoSession::Session.open("Bob", expires: 5, id: "fixed_id") do |s|
      assert_equal "fixed_id", s.id
      assert_equal "bob", s.user_id
    end
    assert_raises(TotoSession::InvalidSessionId) { TotoSession::Session.new(expires: 5, id: "x" * (TotoSession::Native::MAX_SESSION_ID_LEN + 1)) }
    assert_raises(TotoSession::TooLarge) { TotoSession::Session.new("u" * 257, expires: 5) }
    assert_raises(TotoSession::InvalidUtf8) { TotoSession::Session.new("\xff".b, expires: 5) }
  end

  def test_key_and_dirty_flag
    assert_nil @s.key
    assert @s.dirty?
    @s.mark_clean
    refute @s.dirty?
    key = @s.generate_key
    assert_equal 22, key.size
    assert_equal key, @s.key
    assert @s.dirty?
    @s.key = "explicit"
    assert_equal "explicit", @s.key
    @s.key = nil
    assert_nil @s.key
    @s.key = "k"
    @s.key = ""
    assert_nil @s.key
    assert_raises(TotoSession::TooLarge) { @s.key = "k" * 257 }
    @s.mark_clean
    @s[:x] = 1
    assert @s.dirty?
  end

  def test_scalars_round_trip_with_their_types
    values = {
      int: 42, neg: -7, zero: 0, max: (2**63) - 1, min: -(2**63),
      float: 1.5, float_zero: 0.0, inf: Float::INFINITY,
      t: true, f: false, empty: "", text: "héllo ☃", null: nil
    }
    values.each { |k, v| @s[k] = v }
    values.each do |k, v|
      got = @s[k]
      if v.nil?
        assert_nil got
      else
        assert_equal v, got, k
        assert_equal v.class, got.class, k
      end
    end
    assert_equal :integer, @s.type_of(:int)
    assert_equal :float, @s.type_of(:float)
    assert_equal :bool, @s.type_of(:f)
    assert_equal :text, @s.type_of(:empty)
    assert_equal :null, @s.type_of(:null)
    assert_nil @s.type_of(:missing)
    assert_predicate @s[:inf], :infinite?
    @s[:nan] = Float::NAN
    assert_predicate @s[:nan], :nan?
  end

  def test_falsy_values_read_back_as_themselves
    @s[:f] = false
    @s[:z] = 0
    @s[:e] = ""
    @s[:zf] = 0.0
    assert_same false, @s[:f]
    assert_equal 0, @s[:z]
    assert_equal "", @s[:e]
    assert_equal 0.0, @s[:zf]
    %i[f z e zf].each { |k| assert @s.key?(k), k }
    assert_equal false, @s.fetch(:f)
    assert_equal 0, @s.fetch(:z)
  end

  def test_nil_stored_is_not_a_missing_key
    @s[:stored_nil] = nil
    assert_nil @s[:stored_nil]
    assert_nil @s[:missing]
    assert @s.key?(:stored_nil)
    refute @s.key?(:missing)
    assert_nil @s.fetch(:stored_nil)
    assert_raises(KeyError) { @s.fetch(:missing) }
    assert_equal :dflt, @s.fetch(:missing, :dflt)
    assert_equal "missing!", @s.fetch(:missing) { |k| "#{k}!" }
    assert_equal :null, @s.type_of(:stored_nil)
    assert_equal 1, @s.size
  end

  def test_binary_and_utf8_strings_are_kept_apart
    bin = "\x00\xFF\xFEbinary\x00".b
    utf = "caf\u00e9 \u2603"
    ascii_binary = "plain".b
    @s[:bin] = bin
    @s[:utf] = utf
    @s[:ascii_binary] = ascii_binary
    @s[:latin1] = (+"caf\xE9").force_encoding(Encoding::ISO_8859_1)
    assert_equal :bytes, @s.type_of(:bin)
    assert_equal :text, @s.type_of(:utf)
    assert_equal :bytes, @s.type_of(:ascii_binary)
    assert_equal bin, @s[:bin]
    assert_equal Encoding::BINARY, @s[:bin].encoding
    assert_equal Encoding::BINARY, @s[:ascii_binary].encoding
    assert_equal utf, @s[:utf]
    assert_equal Encoding::UTF_8, @s[:utf].encoding
    assert_equal "café", @s[:latin1]
    assert_equal Encoding::UTF_8, @s[:latin1].encoding
    # Invalid UTF-8 claiming to be UTF-8 is refused, not silently turned into bytes.
    assert_raises(TotoSession::InvalidUtf8) { @s[:bad] = (+"\xFF").force_encoding(Encoding::UTF_8) }
    refute @s.key?(:bad)
    # The same bytes survive export/import and keep their kind.
    copy = TotoSession::Session.import(@s.export)
    assert_equal Encoding::BINARY, copy[:bin].encoding
    assert_equal Encoding::UTF_8, copy[:utf].encoding
    copy.close
  end

  def test_hashes_and_arrays_through_json
    cart = { "items" => [1, 2, { "sku" => "a", "qty" => 2 }], "total" => 9.5, "gift" => false, "note" => nil }
    @s[:cart] = cart
    @s[:list] = [1, "two", [3]]
    @s["sym"] = { a: 1 }
    assert_equal :map, @s.type_of(:cart)
    assert_equal :array, @s.type_of(:list)
    assert_equal cart, @s[:cart]
    assert_equal [1, "two", [3]], @s[:list]
    assert_equal({ "a" => 1 }, @s["sym"])
    assert_equal({ "items" => [1] }, JSON.parse(@s.tap { |s| s[:j] = { "items" => [1] } }.get_json(:j)))
    @s.set_json(:raw, '{"x":[true,null]}')
    assert_equal({ "x" => [true, nil] }, @s[:raw])
    assert_nil @s.get_json(:missing)
    # Texts around the per-thread buffer's size read whole (the longer ones through the
    # library's own buffer), each right after a short one.
    limit = TotoSession::Scratch::VALUE_JSON_LEN
    [limit - 3, limit - 2, limit - 1, 5 * limit].each do |n|
      long = { "t" => "x" * (n - 8) } # {"t":"..."} is 8 bytes more
      @s[:long] = long
      assert_equal n, @s.get_json(:long).bytesize
      assert_equal long, @s[:long]
      assert_equal '{"x":[true,null]}', @s.get_json(:raw)
    end
    assert_raises(TotoSession::TooLarge) { @s.get_json("k" * 2000) }
    assert_raises(TotoSession::InvalidJson) { @s[:bad] = { "b" => "\xFF".b } }
    assert_raises(TotoSession::InvalidJson) { @s[:nan] = [Float::NAN] }
    assert_raises(TotoSession::InvalidJson) { @s.set_json(:x, "not json") }
    # bytes inside a JSON read come back as base64 text
    @s.set_cbor(:nested, TotoSession::CBOR.encode({ "b" => "\x01\x02".b }))
    assert_equal({ "b" => "AQI=" }, @s[:nested])
    assert_equal({ "b" => "\x01\x02".b }, TotoSession::CBOR.decode(@s.get_cbor(:nested)))
  end

  def test_cbor_access_and_big_integers
    @s[:u64] = (2**64) - 1
    @s[:n64] = -(2**64)
    @s[:just_over] = 2**63
    assert_equal (2**64) - 1, @s[:u64]
    assert_equal(-(2**64), @s[:n64])
    assert_equal 2**63, @s[:just_over]
    assert_equal :integer, @s.type_of(:u64)
    assert_raises(RangeError) { @s[:huge] = 2**64 }
    @s[:i] = 7
    assert_equal "\x07".b, @s.get_cbor(:i)
    @s.set_cbor(:c, "\x83\x01\x02\x03".b)
    assert_equal [1, 2, 3], @s[:c]
    assert_nil @s.get_cbor(:missing)
    assert_raises(TotoSession::InvalidCbor) { @s.set_cbor(:x, "\xff\xff".b) }
    # a map with a non-text key has no JSON form: read through CBOR instead
    @s.set_cbor(:intkeys, TotoSession::CBOR.encode({ 1 => "one" }))
    assert_equal({ 1 => "one" }, @s[:intkeys])
  end

  def test_keys_each_size_delete_clear
    assert_empty @s
    @s[:b] = 2
    @s["a"] = 1
    @s[:c] = "three"
    assert_equal 3, @s.size
    assert_equal 3, @s.length
    assert_equal %w[a b c], @s.keys
    assert_equal [1, 2, "three"], @s.values
    assert_equal [["a", 1], ["b", 2], ["c", "three"]], @s.each.to_a
    assert_equal({ "a" => 1, "b" => 2, "c" => "three" }, @s.to_h)
    seen = []
    @s.each { |k, v| seen << [k, v] }
    assert_equal @s.to_a, seen
    assert_equal %w[a b c], @s.each_key.to_a
    assert_equal 3, @s.each.size
    assert_equal 2, @s.delete(:b)
    assert_nil @s.delete(:nope)
    refute @s.key?("b")
    assert_includes @s, "a"
    assert_equal %w[a], @s.select { |_k, v| v == 1 }.map(&:first)
    @s.update("x" => 1, y: [2])
    assert_equal 4, @s.size
    @s.clear
    assert_equal 0, @s.size
    assert_empty @s.keys
  end

  def test_symbol_and_string_keys_are_the_same
    @s[:name] = "v"
    assert_equal "v", @s["name"]
    @s["other"] = :sym
    assert_equal "sym", @s[:other]
    assert_raises(TypeError) { @s[1] = 2 }
    assert_raises(TypeError) { @s[:t] = Object.new }
    assert_raises(TotoSession::TooLarge) { @s["k" * 1025] = 1 }
    @s["k" * 1024] = 1
    assert_equal 1, @s["k" * 1024]
  end

  def test_size_limits
    big = "x" * (1024 * 1024 + 1)
    assert_raises(TotoSession::TooLarge) { @s[:big] = big }
    assert_raises(TotoSession::TooLarge) { @s[:big] = big.b }
  end

  def test_export_import
    @s[:n] = 1
    @s.generate_key
    record = @s.export
    assert_equal Encoding::BINARY, record.encoding
    copy = TotoSession::Session.import(record)
    assert_equal @s.id, copy.id
    assert_equal @s.user_id, copy.user_id
    assert_equal @s.key, copy.key
    assert_equal @s.expires_at, copy.expires_at
    assert_equal 1, copy[:n]
    refute copy.dirty?
    copy.close
    result = TotoSession::Session.import(record) { |s| s[:n] + 1 }
    assert_equal 2, result
    assert_raises(TotoSession::InvalidCbor) { TotoSession::Session.import("\x00garbage".b) }
    assert_raises(TotoSession::InvalidCbor) { TotoSession::Session.import("") }
  end

  def test_dup_is_an_independent_copy
    @s[:n] = 1
    copy = @s.dup
    copy[:n] = 2
    assert_equal 1, @s[:n]
    assert_equal 2, copy[:n]
    copy.close
    assert_equal 1, @s[:n]
  end

  def test_close_is_idempotent_and_use_after_close_raises
    s = TotoSession::Session.new(expires: 1)
    before = TotoSession::SessionPointer.release_count
    s.close
    s.close
    s.free
    assert s.closed?
    assert_equal before + 1, TotoSession::SessionPointer.release_count
    assert_raises(TotoSession::ClosedError) { s[:x] }
    assert_raises(TotoSession::InvalidHandle) { s.id }
    assert_includes s.inspect, "closed"
  end

  def test_open_block_closes_even_on_error
    captured = nil
    assert_raises(RuntimeError) do
      TotoSession::Session.open(expires: 1) do |s|
        captured = s
        raise "boom"
      end
    end
    assert captured.closed?
    assert_equal 3, TotoSession::Session.open(expires: 1) { 3 }
  end

  def test_inspect_hides_the_key
    @s.key = "supersecretkey"
    refute_includes @s.inspect, "supersecretkey"
    assert_includes @s.inspect, @s.id
  end
end
