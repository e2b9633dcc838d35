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
  #                            -2**64 .. 2**64-1 through CBOR; beyond: RangeError)
  #   Float                    float
  #   String (BINARY)          bytes, read back as a BINARY String
  #   String (other encodings) UTF-8 text (transcoded if needed), read back as UTF-8
  #   Symbol                   text (its name), read back as a String
  #   Hash / Array             through the JSON bridge (Ruby's json): keys become
  #                            Strings, nested binary Strings are refused (JSON has no
  #                            bytes; store them at the top level or use #set_cbor)
  module Values
    UTF_8 = Encoding::UTF_8
    BINARY = Encoding::BINARY
    US_ASCII = Encoding::US_ASCII
    TYPES = Native::VALUE_TYPES

    module_function

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
  end
end
