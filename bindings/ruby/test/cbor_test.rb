# frozen_string_literal: true

require_relative "test_helper"

class CborTest < Minitest::Test
  C = TotoSession::CBOR

  def test_round_trips
    [nil, true, false, 0, 23, 24, 255, 256, 65_535, 65_536, (2**32), (2**64) - 1, -1, -25, -(2**64),
     1.5, -0.0, Float::INFINITY, "", "text ☃", "\x00\xFF".b, [], [1, [2, [3]]],
     { "a" => 1, "b" => { "c" => [true, nil] } }, { 1 => "int key" }].each do |v|
      got = C.decode(C.encode(v))
      v.nil? ? assert_nil(got) : assert_equal(v, got)
      assert_equal v.encoding, got.encoding if v.is_a?(String)
    end
    assert_predicate C.decode(C.encode(Float::NAN)), :nan?
    assert_equal "sym", C.decode(C.encode(:sym))
  end

  def test_known_encodings_and_library_agreement
    assert_equal "\x18\x18".b, C.encode(24)
    assert_equal "\x39\x01\x00".b, C.encode(-257)
    assert_equal "\x62hi".b, C.encode("hi")
    assert_equal "\x42hi".b, C.encode("hi".b)
    # half and single floats, as other CBOR writers may send them
    assert_equal 1.5, C.decode("\xF9\x3E\x00".b)
    assert_equal 0.5, C.decode("\xFA\x3F\x00\x00\x00".b)
    # what the library writes, we read (and the other way round)
    TotoSession::Session.open(expires: 1) do |s|
      value = { "list" => [1, -2, 3.25, "x", nil, true], "n" => 2**40 }
      s[:v] = value
      assert_equal value, C.decode(s.get_cbor(:v))
      s.set_cbor(:w, C.encode({ "bytes" => "\x01".b, "big" => -(2**64) }))
      assert_equal({ "bytes" => "\x01".b, "big" => -(2**64) }, C.decode(s.get_cbor(:w)))
    end
  end

  def test_errors
    assert_raises(C::DecodeError) { C.decode("") }
    assert_raises(C::DecodeError) { C.decode("\x01\x02".b) }
    assert_raises(C::DecodeError) { C.decode("\x62h".b) }
    assert_raises(C::DecodeError) { C.decode("\x61\xFF".b) }
    assert_kind_of TotoSession::InvalidCbor, C::DecodeError.new
    assert_raises(RangeError) { C.encode(2**64) }
    assert_raises(TypeError) { C.encode(Object.new) }
    deep = 70.times.reduce(1) { |acc, _| [acc] }
    assert_raises(ArgumentError) { C.encode(deep) }
  end
end
