# frozen_string_literal: true

require "json"

module TotoSession
  # @api private
  #
  # How Ruby values map to the library's typed values (session state and account
  # properties alike):
  #
  #   nil                      null (present: key? is true; a missing key reads nil too)
  #   true / false             bool
  #   Integer                  integer (int64 through the typed setter/getter; up to
  #                            -2**64 .. 2**64-1 through the library's tagged JSON;
  #                            beyond: RangeError)
  #   Float                    float
  #   String (BINARY)          bytes, read back as a BINARY String
  #   String (other encodings) UTF-8 text (transcoded if needed), read back as UTF-8
  #   Symbol                   text (its name), read back as a String
  #   Hash / Array             through the JSON bridge (Ruby's json): keys become
  #                            Strings, nested binary Strings are refused (JSON has no
  #                            bytes; store them at the top level or use #set_cbor with
  #                            TotoSession::CBOR.encode)
  #
  # What plain JSON cannot carry (integers outside int64, bytes inside a structure, maps
  # with non-text keys, NaN and infinities) goes through the library's tagged JSON
  # (toto_value_cbor_to_tagged_json, toto_value_tagged_json_to_cbor): #to_cbor and
  # #from_cbor map Ruby values to and from that form, and the library does the CBOR.
  # The gem has no CBOR code of its own.
  module Values
    UTF_8 = Encoding::UTF_8
    BINARY = Encoding::BINARY
    US_ASCII = Encoding::US_ASCII
    TYPES = Native::VALUE_TYPES
    INT64 = -(2**63)..((2**63) - 1)
    CBOR_INT = -(2**64)..((2**64) - 1)
    MAX_DEPTH = Native::MAX_DEPTH
    NON_FINITE = { "NaN" => Float::NAN, "Infinity" => Float::INFINITY, "-Infinity" => -Float::INFINITY }.freeze

    module_function

    # One CBOR item (a BINARY String) for a Ruby value, made by the library. Raises
    # RangeError (an integer outside -2**64 .. 2**64-1), TypeError (an object of
    # another class), EncodingError (text that is not valid in its encoding),
    # ArgumentError (nested deeper than Native::MAX_DEPTH).
    def to_cbor(value)
      json = to_tagged_json(value)
      s = Scratch.current
      code = Native.toto_value_tagged_json_to_cbor(json, json.bytesize, s.bytes, s.err)
      Errors.raise_for(code, s) unless code.zero?
      s.take_bytes
    end

    # The Ruby value of one CBOR item, decoded by the library (InvalidCbor otherwise):
    # text as UTF-8 Strings, bytes as BINARY Strings, maps as Hashes.
    def from_cbor(cbor)
      cbor = String(cbor)
      s = Scratch.current
      code = Native.toto_value_cbor_to_tagged_json(cbor, cbor.bytesize, s.bytes, s.err)
      Errors.raise_for(code, s) unless code.zero?
      from_tagged_json(s.take_bytes(UTF_8))
    end

    # The library's tagged JSON text for a Ruby value.
    def to_tagged_json(value)
      JSON.generate(tag(value, 0), max_nesting: false)
    end

    # The Ruby value of tagged JSON text (as the library writes it).
    def from_tagged_json(text)
      untag(JSON.parse(text, max_nesting: false))
    end

    # A Ruby value as a tree JSON.generate writes in the tagged form.
    def tag(value, depth)
      raise ArgumentError, "nested deeper than #{MAX_DEPTH}" if depth > MAX_DEPTH

      case value
      when nil, true, false then value
      when Integer
        if INT64.cover?(value) then value
        elsif CBOR_INT.cover?(value) then { "$int" => value.to_s }
        else raise RangeError, "integer #{value} is outside -2**64 .. 2**64-1"
        end
      when Float
        value.finite? ? value : { "$float" => value.nan? ? "NaN" : (value.positive? ? "Infinity" : "-Infinity") }
      when Symbol then value.name
      when String
        value.encoding == BINARY ? { "$bytes" => [value].pack("m0") } : utf8(value)
      when Array then value.map { |v| tag(v, depth + 1) }
      when Hash
        if value.keys.all? { |k| k.is_a?(Symbol) || (k.is_a?(String) && k.encoding != BINARY) } &&
           !(value.size == 1 && value.keys.first.to_s.start_with?("$"))
          value.each_with_object({}) { |(k, v), h| h[utf8(k.to_s)] = tag(v, depth + 1) }
        else
          { "$map" => value.flat_map { |k, v| [tag(k, depth + 1), tag(v, depth + 1)] } }
        end
      else
        raise TypeError, "cannot convert #{value.class} to a value"
      end
    end

    def utf8(text)
      text = text.encode(UTF_8) unless text.encoding == UTF_8
      raise EncodingError, "text is not valid UTF-8" unless text.valid_encoding?

      text
    end

    # The Ruby value of a parsed tagged JSON tree.
    def untag(tree)
      case tree
      when Array then tree.map { |v| untag(v) }
      when Hash
        name, payload = tree.first if tree.size == 1
        if name&.start_with?("$")
          case name
          when "$int" then Integer(payload, 10)
          when "$float" then NON_FINITE.fetch(payload)
          when "$bytes" then payload.unpack1("m0")
          when "$map" then payload.each_slice(2).to_h { |k, v| [untag(k), untag(v)] }
          else raise InvalidJson.new("unknown tag #{name}", code: 9)
          end
        else
          tree.transform_values { |v| untag(v) }
        end
      else tree
      end
    end

    # A state key or property name as the bytes the library expects (UTF-8).
    def key(name)
      case name
      when Symbol then name.name
      when String
        enc = name.encoding
        enc == UTF_8 || enc == US_ASCII || enc == BINARY ? name : name.encode(UTF_8)
      else
        raise TypeError, "a key must be a String or a Symbol, not #{name.class}"
      end
    end

    # The UTF-8 bytes of a text argument: UTF-8, US-ASCII and BINARY Strings go as
    # they are (the library checks UTF-8), others are transcoded.
    def text(value)
      enc = value.encoding
      enc == UTF_8 || enc == US_ASCII || enc == BINARY ? value : value.encode(UTF_8)
    end

    def json(value)
      JSON.generate(value)
    rescue JSON::GeneratorError, JSON::NestingError, EncodingError => e
      raise InvalidJson.new("cannot store #{value.class} as JSON: #{e.message}", code: 9)
    end

    def parse_json(text)
      JSON.parse(text)
    end
  end

  # Values as CBOR items (BINARY Strings), converted by the library: for #get_cbor and
  # #set_cbor and for Ruby account stores, whose property values cross as CBOR.
  #
  #   TotoSession::CBOR.encode({ "avatar" => png.b, 1 => 2**64 - 1 })  # => "\xA2..."
  #   TotoSession::CBOR.decode(session.get_cbor(:nested))
  module CBOR
    DecodeError = InvalidCbor

    module_function

    # See Values.to_cbor.
    def encode(value) = Values.to_cbor(value)

    # See Values.from_cbor.
    def decode(cbor) = Values.from_cbor(cbor)
  end

  # @api private
  #
  # Native copies of the state keys a process uses, so Session#[] and #[]= hand a key
  # to the library without converting it or passing ffi a String on every call:
  # ENTRIES maps a key as given (Symbol or String) to a frozen [FFI::MemoryPointer,
  # bytesize]. At most MAX_KEYS keys of at most MAX_LEN bytes are kept, for the life of
  # the process (a few hundred KiB at most); any other key gets a one-off
  # [String, bytesize]. Either form goes where the C API takes `key, key_len`.
  module KeyCache
    MAX_KEYS = 1024
    MAX_LEN = 256
    ENTRIES = {}

    module_function

    # Called on a miss: the entry for `key` (TypeError for a key that is neither a
    # String nor a Symbol). Two threads missing on the same key may both build an
    # entry; each uses its own, and the Hash keeps one.
    def add(key)
      k = Values.key(key)
      n = k.bytesize
      return [k, n] if n > MAX_LEN || ENTRIES.size >= MAX_KEYS

      ENTRIES[key] = [FFI::MemoryPointer.from_string(k), n].freeze
    end

    # The same keys for the `_z` entry points (Session#[] and #[]=): Z maps a key as
    # given to the address (an Integer) of a NUL-terminated native copy, kept in KEEP
    # for the life of the process. A key holding a NUL byte, longer than MAX_LEN, or
    # beyond MAX_KEYS has none (nil): the caller takes the path with a length.
    Z = {}
    KEEP = []

    # Called on a miss of Z: the address for `key`, or nil.
    def z(key)
      k = Values.key(key)
      return nil if k.bytesize > MAX_LEN || k.include?("\0") || Z.size >= MAX_KEYS

      mem = FFI::MemoryPointer.from_string(k)
      KEEP << mem # two threads missing at once each keep theirs; the Hash keeps one
      Z[key] = mem.address
    end
  end
end
