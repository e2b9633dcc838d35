# frozen_string_literal: true

require_relative "test_helper"

# Values to and from CBOR through the library (toto_value_*): the gem has no codec.
class ValuesTest < Minitest::Test
  V = TotoSession::Values
  C = TotoSession::CBOR

  def test_round_trips
    [nil, true, false, 0, 23, 24, 255, 256, 65_535, 65_536, (2**32), (2**63) - 1, 2**63, (2**64) - 1, -1, -25,
     -(2**63), -(2**63) - 1, -(2**64), 1.5, 0.1, 1.0, 1e300, -0.0, Float::INFINITY, -Float::INFINITY, "",
     "text ☃", "\x00\xFF".b, "".b, [], [1, [2, [3]]], { "a" => 1, "b" => { "c" => [true, nil] } },
     { 1 => "int key" }, { "$bytes" => "a text key like a tag" }, { "\x01".b => { [1] => -(2**64) } },
     { "nested" => ["\x01\x02".b, { "big" => (2**64) - 1 }] }].each do |v|
      got = C.decode(C.encode(v))
      v.nil? ? assert_nil(got) : assert_equal(v, got)
      assert_equal v.encoding, got.encoding if v.is_a?(String)
      assert_equal 1.0 / v, 1.0 / got if v.is_a?(Float) && v.zero? # the sign of -0.0
    end
    assert_predicate C.decode(C.encode(Float::NAN)), :nan?
    assert_equal "sym", C.decode(C.encode(:sym))
    assert_equal({ "k" => 1 }, C.decode(C.encode({ k: 1 })))
    assert_equal "é", C.decode(C.encode("é".encode(Encoding::ISO_8859_1)))
    # Hash order is kept.
    assert_equal %w[b a], C.decode(C.encode({ "b" => 1, "a" => 2 })).keys
  end

  def test_known_encodings_and_library_agreement
    assert_equal "\x18\x18".b, C.encode(24)
    assert_equal "\x39\x01\x00".b, C.encode(-257)
    assert_equal "\x62hi".b, C.encode("hi")
    assert_equal "\x42hi".b, C.encode("hi".b)
    assert_equal "\x1B\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF".b, C.encode((2**64) - 1)
    assert_equal "\xA1\x01\x63one".b, C.encode({ 1 => "one" })
    # half and single floats, as other CBOR writers may send them
    assert_equal 1.5, C.decode("\xF9\x3E\x00".b)
    assert_equal 0.5, C.decode("\xFA\x3F\x00\x00\x00".b)
    # what the library stores, we read (and the other way round)
    TotoSession::Session.open(expires: 1) do |s|
      value = { "list" => [1, -2, 3.25, "x", nil, true], "n" => 2**40 }
      s[:v] = value
      assert_equal value, C.decode(s.get_cbor(:v))
      s.set_cbor(:w, C.encode({ "bytes" => "\x01".b, "big" => -(2**64) }))
      assert_equal({ "bytes" => "\x01".b, "big" => -(2**64) }, C.decode(s.get_cbor(:w)))
    end
  end

  def test_tagged_json_form
    assert_equal '[1,{"$int":"18446744073709551615"},{"$bytes":"AP8="},{"$float":"NaN"},1.0]',
                 V.to_tagged_json([1, (2**64) - 1, "\x00\xFF".b, Float::NAN, 1.0])
    assert_equal '{"$map":[1,"one"]}', V.to_tagged_json({ 1 => "one" })
    assert_equal '{"$map":["$x",null]}', V.to_tagged_json({ "$x" => nil })
    assert_equal({ "$x" => nil, "y" => 1 }, V.from_tagged_json('{"$x":null,"y":1}'))
  end

  def test_errors
    assert_raises(TotoSession::InvalidCbor) { C.decode("") }
    assert_raises(TotoSession::InvalidCbor) { C.decode("\x01\x02".b) }
    assert_raises(TotoSession::InvalidCbor) { C.decode("\x62h".b) }
    assert_raises(TotoSession::InvalidCbor) { C.decode("\x61\xFF".b) }
    assert_raises(C::DecodeError) { C.decode("\xFF".b) }
    assert_raises(RangeError) { C.encode(2**64) }
    assert_raises(RangeError) { C.encode([-(2**64) - 1]) }
    assert_raises(TypeError) { C.encode(Object.new) }
    assert_raises(EncodingError) { C.encode("\xFF".dup.force_encoding(Encoding::UTF_8)) }
    deep = 70.times.reduce(1) { |acc, _| [acc] }
    assert_raises(ArgumentError) { C.encode(deep) }
    cyclic = []
    cyclic << cyclic
    assert_raises(ArgumentError) { C.encode(cyclic) }
    # The library refuses what is over its depth limit (and says so in the details).
    json = "#{'[' * 65}1#{']' * 65}"
    error = assert_raises(TotoSession::InvalidJson) { raise_from_library(json) }
    assert_match(/deeper/, error.details)
    assert_raises(TotoSession::InvalidJson) { raise_from_library('{"$int":"1e3"}') }
  end

  private

  def raise_from_library(json)
    s = TotoSession::Scratch.current
    code = TotoSession::Native.toto_value_tagged_json_to_cbor(json, json.bytesize, s.bytes, s.err)
    TotoSession::Errors.raise_for(code, s) unless code.zero?
    s.take_bytes
  end
end
