# frozen_string_literal: true

require_relative "test_helper"

# Session#[] / #fetch read through toto_session_get_scalar (one call for a scalar) and
# #[]= stores a scalar with one typed call; keys go through TotoSession::KeyCache.
class ScalarTest < Minitest::Test
  FAR = 4_000_000_000.0
  Native = TotoSession::Native

  SCALARS = {
    null: nil, yes: true, no: false,
    zero: 0, one: 1, neg: -1, max: (2**63) - 1, min: -(2**63),
    float: 1.5, float_zero: 0.0, neg_zero: -0.0, tiny: 5e-324, inf: -Float::INFINITY,
    text: "h\u00e9llo \u2603", empty_text: "", nul_text: "a\u0000b", ascii_text: "plain",
    bytes: "\x00\xFF\xFE\x80".b, empty_bytes: "".b, ascii_bytes: "plain".b
  }.freeze

  WIDE = {
    just_over: 2**63, u64: (2**64) - 1, just_under: -(2**63) - 1, n64: -(2**64)
  }.freeze

  def setup
    @s = TotoSession::Session.new("scalar", expires: FAR)
  end

  def teardown
    @s.close
  end

  def assert_same_value(want, got, label)
    if want.nil?
      assert_nil got, label
    elsif want.is_a?(Float)
      assert_equal [want].pack("G"), [got].pack("G"), label # -0.0 and 0.0 apart
    else
      assert_equal want, got, label
    end
    assert_equal want.class, got.class, label
    assert_equal want.encoding, got.encoding, label if want.is_a?(String)
  end

  def test_every_scalar_type_reads_back_through_brackets_and_fetch
    SCALARS.each { |k, v| @s[k] = v }
    SCALARS.each do |k, v|
      assert_same_value v, @s[k], "[#{k}]"
      assert_same_value v, @s[k.to_s], "[#{k.to_s.inspect}]"
      assert_same_value v, @s.fetch(k), "fetch(#{k})"
      assert_same_value v, @s.fetch(k, :default), "fetch(#{k}, default)"
    end
    assert_predicate TotoSession::Session.open(expires: FAR) { |s| s[:n] = Float::NAN; s[:n] }, :nan?
    assert_equal SCALARS.transform_keys(&:to_s).sort.to_h.keys, @s.keys
    assert_equal SCALARS.keys.map(&:to_s).sort, @s.to_h.keys
    SCALARS.each { |k, v| assert_same_value v, @s.to_h[k.to_s], "to_h[#{k}]" }
  end

  def test_types_agree_with_the_typed_getters
    SCALARS.each { |k, v| @s[k] = v }
    p = @s.to_ptr
    s = TotoSession::Scratch.current
    SCALARS.each do |k, v|
      key = k.to_s
      assert_equal 0, Native.toto_session_get_type(p, key, key.bytesize, s.val)
      type = Native::VALUE_TYPES[s.u32]
      assert_equal @s.type_of(k), type, k
      got = case type
            when :null then nil
            when :bool
              assert_equal 0, Native.toto_session_get_bool(p, key, key.bytesize, s.val)
              s.bool
            when :integer
              assert_equal 0, Native.toto_session_get_i64(p, key, key.bytesize, s.val)
              s.i64
            when :float
              assert_equal 0, Native.toto_session_get_f64(p, key, key.bytesize, s.val)
              s.f64
            when :text
              assert_equal 0, Native.toto_session_get_text(p, key, key.bytesize, s.ptr, s.len)
              s.view(Encoding::UTF_8)
            when :bytes
              assert_equal 0, Native.toto_session_get_bytes(p, key, key.bytesize, s.ptr, s.len)
              s.view(Encoding::BINARY)
            end
      assert_same_value v, got, "typed getter for #{k}"
      assert_same_value got, @s[k], "[#{k}] vs typed getter"
    end
    # the typed getters refuse what get_scalar describes instead
    @s[:wide] = 2**64 - 1
    assert_equal 6, Native.toto_session_get_i64(p, "wide", 4, s.val) # TYPE_MISMATCH
    assert_equal 6, Native.toto_session_get_f64(p, "one", 3, s.val)
    assert_equal 5, Native.toto_session_get_text(p, "nope", 4, s.ptr, s.len)
  end

  def test_the_raw_scalar_struct
    assert_equal 40, Native::Scalar.size
    @s[:i] = -5
    @s[:t] = "abc"
    out = Native::Scalar.new
    assert_equal 0, Native.toto_session_get_scalar(@s.to_ptr, "i", 1, out)
    assert_equal [2, true, -5], [out[:value_type], out[:integer_fits], out[:integer]]
    assert_equal 0, Native.toto_session_get_scalar(@s.to_ptr, "t", 1, out)
    assert_equal [4, 3, "abc"], [out[:value_type], out[:len], out[:data].read_string(3)]
    assert_equal 5, Native.toto_session_get_scalar(@s.to_ptr, "missing", 7, out)
    assert_equal 1, Native.toto_session_get_scalar(@s.to_ptr, "i", 1, nil) # NULL_ARGUMENT
  end

  def test_falsy_values_are_present
    falsy = { f: false, z: 0, zf: 0.0, e: "", eb: "".b, n: nil }
    falsy.each { |k, v| @s[k] = v }
    falsy.each do |k, v|
      assert @s.key?(k), k
      assert_same_value v, @s[k], k
      assert_same_value v, @s.fetch(k) { flunk "block called for stored #{k}" }, k
      assert_same_value v, @s.fetch(k, :default), k
    end
    assert_same false, @s[:f]
    assert_equal falsy.size, @s.size
  end

  def test_missing_is_not_a_stored_nil
    @s[:stored] = nil
    assert_nil @s[:stored]
    assert_nil @s[:missing]
    assert_nil @s["missing"]
    assert_nil @s.fetch(:stored)
    assert_nil @s.fetch(:stored, :default)
    assert_equal :default, @s.fetch(:missing, :default)
    assert_nil @s.fetch(:missing, nil)
    assert_equal "missing?", @s.fetch(:missing) { |k| "#{k}?" }
    error = assert_raises(KeyError) { @s.fetch("missing") }
    assert_equal "missing", error.key
    assert_same @s, error.receiver
    @s.delete(:stored)
    assert_raises(KeyError) { @s.fetch(:stored) }
    assert_nil @s.delete(:stored)
  end

  def test_binary_and_utf8_stay_apart
    @s[:utf] = "caf\u00e9"
    @s[:bin] = "caf\u00e9".b
    @s[:latin1] = "caf\u00e9".encode(Encoding::ISO_8859_1)
    @s[:ascii] = "abc".encode(Encoding::US_ASCII)
    @s[:sym] = :abc
    assert_equal [Encoding::UTF_8, "caf\u00e9"], [@s[:utf].encoding, @s[:utf]]
    assert_equal [Encoding::BINARY, "caf\u00e9".b], [@s[:bin].encoding, @s[:bin]]
    assert_equal [Encoding::UTF_8, "caf\u00e9"], [@s[:latin1].encoding, @s[:latin1]]
    assert_equal [Encoding::UTF_8, "abc"], [@s[:ascii].encoding, @s[:ascii]]
    assert_equal [Encoding::UTF_8, "abc"], [@s[:sym].encoding, @s[:sym]]
    assert_equal %i[text bytes text text text], %i[utf bin latin1 ascii sym].map { |k| @s.type_of(k) }
    assert_raises(TotoSession::InvalidUtf8) { @s[:bad] = (+"\xFF").force_encoding(Encoding::UTF_8) }
    refute @s.key?(:bad)
  end

  def test_read_strings_are_fresh_copies
    @s[:t] = "hello"
    a = @s[:t]
    b = @s[:t]
    refute_same a, b
    refute_predicate a, :frozen?
    a << " world"
    assert_equal "hello", @s[:t]
    @s[:t] = "x" * 10_000 # the library's view moves: every read copies the current one
    assert_equal "x" * 10_000, @s[:t]
    @s[:t] = "short"
    assert_equal "short", @s[:t]
    @s[:e] = ""
    refute_predicate @s[:e], :frozen?
    assert_equal Encoding::BINARY, @s.tap { |s| s[:eb] = "".b }[:eb].encoding
  end

  def test_big_integers
    WIDE.each { |k, v| @s[k] = v }
    WIDE.each do |k, v|
      assert_equal v, @s[k], k
      assert_equal v, @s.fetch(k), k
      assert_equal :integer, @s.type_of(k), k
    end
    assert_equal (2**63) - 1, @s.tap { |s| s[:m] = (2**63) - 1 }[:m]
    assert_raises(RangeError) { @s[:huge] = 2**64 }
    assert_raises(RangeError) { @s[:huge] = -(2**64) - 1 }
    refute @s.key?(:huge)
    # an integer replacing a wide one and back
    @s[:just_over] = 1
    assert_equal 1, @s[:just_over]
    @s[:just_over] = 2**63
    assert_equal 2**63, @s[:just_over]
  end

  def test_arrays_and_maps_still_take_the_json_and_cbor_paths
    @s[:h] = { "a" => [1, { "b" => nil }] }
    @s[:a] = [true, 1.5, "x"]
    @s.set_cbor(:intkeys, TotoSession::CBOR.encode({ 1 => "one" }))
    @s.set_cbor(:wide_in_array, TotoSession::CBOR.encode([2**64 - 1]))
    assert_equal({ "a" => [1, { "b" => nil }] }, @s[:h])
    assert_equal [true, 1.5, "x"], @s.fetch(:a)
    assert_equal({ 1 => "one" }, @s[:intkeys])
    assert_equal({ 1 => "one" }, @s.fetch(:intkeys))
    assert_equal [2**64 - 1], @s[:wide_in_array]
  end

  def test_closed_session
    s = TotoSession::Session.new(expires: FAR)
    s[:n] = 1
    s[:t] = "t"
    assert_equal 1, s[:n] # the output memory exists
    s.close
    [:n, :t, :missing, "n", "x" * 300].each do |k|
      assert_raises(TotoSession::ClosedError) { s[k] }
      assert_raises(TotoSession::ClosedError) { s.fetch(k) }
      assert_raises(TotoSession::ClosedError) { s.fetch(k, 1) }
      assert_raises(TotoSession::ClosedError) { s.key?(k) }
    end
    [1, 2**64 - 1, 1.5, "t", "b".b, true, false, nil, :sym, { "a" => 1 }, [1]].each do |v|
      assert_raises(TotoSession::ClosedError) { s[:n] = v }
    end
    fresh = TotoSession::Session.new(expires: FAR)
    fresh.close # never read: no output memory yet
    assert_raises(TotoSession::ClosedError) { fresh[:n] }
    assert_raises(TotoSession::ClosedError) { fresh[:n] = 1 }
  end

  def test_errors_from_the_scalar_path
    assert_raises(TotoSession::InvalidUtf8) { @s["\xFF".b] }
    assert_raises(TotoSession::InvalidUtf8) { @s["\xFF".b] } # cached key: same answer
    assert_raises(TotoSession::InvalidUtf8) { @s.fetch("\xFF".b, 1) }
    assert_raises(TotoSession::InvalidUtf8) { @s["\xFF".b] = 1 }
    assert_raises(TotoSession::TooLarge) { @s["k" * 1025] }
    assert_raises(TotoSession::TooLarge) { @s["k" * 1025] = 1 }
    assert_raises(TypeError) { @s[1] }
    assert_raises(TypeError) { @s[nil] = 1 }
    assert_raises(TypeError) { @s.fetch(1.5) }
    assert_raises(TypeError) { @s.key?(nil) }
    assert_raises(TotoSession::InvalidUtf8) { @s.key?("\xFF".b) }
    assert_raises(TypeError) { @s[:x] = Object.new }
    refute_includes TotoSession::KeyCache::ENTRIES.keys, 1
  end

  def test_keys_symbols_strings_and_encodings
    @s[:k] = 1
    assert_equal 1, @s["k"]
    assert_equal 1, @s["k".b]
    assert_equal 1, @s["k".encode(Encoding::US_ASCII)]
    assert_equal 1, @s[+"k"]
    @s["\u00e9t\u00e9"] = 2
    assert_equal 2, @s["\u00e9t\u00e9".encode(Encoding::ISO_8859_1)] # transcoded
    assert_equal 2, @s["\u00e9t\u00e9".b] # the same bytes
    assert_equal 2, @s[:"\u00e9t\u00e9"]
    @s["a\u0000b"] = 3 # a NUL inside a key
    assert_equal 3, @s["a\u0000b"]
    assert_nil @s["a"]
    assert_equal ["a\u0000b", "k", "\u00e9t\u00e9"], @s.keys
    key = +"mutable"
    @s[key] = 4
    key << "!"
    assert_nil @s[key]
    assert_equal 4, @s["mutable"]
    @s[key] = 5
    assert_equal [4, 5], [@s["mutable"], @s["mutable!"]]
  end

  # Keys longer than KeyCache::MAX_LEN are passed as Strings each time: same answers.
  def test_long_keys_take_the_string_path
    long = "l" * (TotoSession::KeyCache::MAX_LEN + 1)
    longest = "m" * 1024
    [long, longest].each do |k|
      SCALARS.merge(WIDE).merge(sym: :s, map: { "x" => 1 }).each do |label, v|
        @s[k] = v
        want = v.is_a?(Symbol) ? v.to_s.encode(Encoding::UTF_8) : v
        assert_same_value want, @s[k], "#{label} under a #{k.size}-byte key"
        assert_same_value want, @s.fetch(k), "fetch #{label} under a #{k.size}-byte key"
      end
      assert @s.key?(k)
      refute_includes TotoSession::KeyCache::ENTRIES.keys, k
    end
    refute @s.key?("n" * 300)
    assert_nil @s["n" * 300]
    assert_equal :d, @s.fetch("n" * 300, :d)
  end

  def test_key_cache_is_bounded_and_survives_gc
    out, err, status = run_ruby(<<~RUBY)
      require "toto_session"
      cache = TotoSession::KeyCache
      s = TotoSession::Session.new(expires: 4_000_000_000)
      n = cache::MAX_KEYS + 500
      n.times { |i| s["key\#{i}"] = i }
      GC.start
      GC.compact if GC.respond_to?(:compact)
      bad = (0...n).reject { |i| s["key\#{i}"] == i && s.fetch(:"key\#{i}") == i }
      s[:late] = "late" # the cache is full: a String key each time
      puts [cache::ENTRIES.size <= cache::MAX_KEYS, bad.size, s[:late], s.size].inspect
    RUBY
    assert status.success?, err
    assert_equal "[true, 0, \"late\", #{TotoSession::KeyCache::MAX_KEYS + 501}]", out.strip
  end

  def test_a_copy_has_its_own_output_memory
    @s[:n] = 1
    @s[:t] = "orig"
    assert_equal 1, @s[:n]
    copy = @s.dup
    copy[:n] = 2
    copy[:t] = "copy"
    assert_equal [1, "orig", 2, "copy"], [@s[:n], @s[:t], copy[:n], copy[:t]]
    refute_same @s.instance_variable_get(:@scalar), copy.instance_variable_get(:@scalar)
    copy.close
    assert_equal 1, @s[:n]
  end

  def test_output_memory_goes_round_closed_sessions
    pool = TotoSession::Session.const_get(:SCALAR_POOL)
    first = TotoSession::Session.new(expires: FAR)
    first[:t] = "first's text"
    assert_equal "first's text", first[:t]
    memory = first.instance_variable_get(:@scalar)
    pool.clear
    first.close
    assert_nil first.instance_variable_get(:@scalar)
    assert_same memory, pool.last, "a closed session's output memory is pooled"
    TotoSession::Session.open(expires: FAR) do |s|
      SCALARS.each { |k, v| s[k] = v }
      SCALARS.each { |k, v| assert_same_value v, s[k], k.to_s }
      assert_same memory, s.instance_variable_get(:@scalar), "the next session takes it"
      assert_nil s[:missing]
    end
    assert_same memory, pool.last
  end

  # Runs the block on six threads at once (given the thread's number); each must give true.
  def assert_true_on_threads(&block)
    threads = Array.new(6) { |t| Thread.new(t, &block) }
    assert_equal [true] * 6, threads.map(&:value)
  end

  def test_sessions_opened_and_closed_on_many_threads
    assert_true_on_threads do |t|
      500.times.all? do |i|
        TotoSession::Session.open(expires: FAR) do |s|
          s[:i] = i
          s[:t] = "t#{t}-#{i}"
          s[:b] = "b#{t}".b
          s[:i] == i && s[:t] == "t#{t}-#{i}" && s[:b] == "b#{t}".b && s[:none].nil?
        end
      end
    end
  end

  def test_sessions_on_many_threads
    assert_true_on_threads do |t|
      TotoSession::Session.open(expires: FAR) do |s|
        2000.times.all? do |i|
          s[:i] = i
          s[:t] = "t#{t}-#{i}"
          s[:i] == i && s[:t] == "t#{t}-#{i}" && s.fetch(:i) == i
        end
      end
    end
  end
  # #[] and #[]= go through the `_z` entry points (NUL-terminated keys and text); what
  # those cannot take goes through the calls with lengths, with the same results.
  def test_what_the_nul_terminated_calls_cannot_take
    nul_key = "k\u0000ey"
    long_key = "x" * (TotoSession::KeyCache::MAX_LEN + 1)
    [nul_key, long_key, :"sym\u0000bol"].each do |k|
      @s[k] = 7
      assert_equal 7, @s[k]
      @s[k] = "t\u0000ext"
      assert_equal "t\u0000ext", @s[k]
      assert_equal "t\u0000ext", @s.fetch(k)
    end
    assert_nil @s["k"], "the key with a NUL byte is not cut at it"
    assert_includes @s.keys, nul_key
    sub = Class.new(String).new("sub")
    @s[:sub] = sub
    assert_equal "sub", @s[:sub]
    assert_equal String, @s[:sub].class
    @s[:latin] = "caf\xE9".dup.force_encoding(Encoding::ISO_8859_1)
    assert_equal "caf\u00e9", @s[:latin]
    @s[:bin] = "\x00\xFF".b
    assert_equal "\x00\xFF".b, @s[:bin]
    assert_equal Encoding::BINARY, @s[:bin].encoding
    assert_raises(TotoSession::InvalidUtf8) { @s[:bad] = "\xFF".dup.force_encoding(Encoding::UTF_8) }
    assert_nil @s[:bad]
  end

  # set_text_z reads the text up to its NUL: substrings and slices (which may share
  # their parent's buffer) must still store exactly their own bytes.
  def test_substrings_store_only_their_bytes
    long = "0123456789" * 10
    @s[:head] = long[0, 5]
    @s[:middle] = long.byteslice(40, 7)
    @s[:tail] = long[90..]
    assert_equal "01234", @s[:head]
    assert_equal "0123456", @s[:middle]
    assert_equal "0123456789", @s[:tail]
  end

  def test_reads_report_library_errors
    @s.close
    assert_raises(TotoSession::ClosedError) { @s[:x] }
    assert_raises(TotoSession::ClosedError) { @s[:x] = 1 }
    s = TotoSession::Session.new("scalar", expires: FAR)
    assert_raises(TotoSession::TooLarge) { s["k" * (TotoSession::Native::MAX_NAME_LEN + 1)] = 1 }
    assert_raises(TotoSession::InvalidUtf8) { s["\xFF".b] }
    s.close
  end

end
