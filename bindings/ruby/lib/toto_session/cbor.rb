# frozen_string_literal: true

module TotoSession
  # A small CBOR (RFC 8949) codec for the values the library stores: nil, booleans,
  # integers (-2**64 .. 2**64-1), floats, text (UTF-8 Strings), bytes (BINARY Strings),
  # arrays and maps. A Ruby account store receives and returns each property as one
  # CBOR item; with this it can keep plain Ruby values instead (see AccountStore).
  # Also used for integers outside int64 and for Session#get_cbor/#set_cbor users.
  module CBOR
    class DecodeError < InvalidCbor; end

    MAX_DEPTH = Native::MAX_DEPTH

    module_function

    def encode(value)
      out = "".b
      write(out, value, 0)
      out
    end

    def decode(bytes)
      bytes = String(bytes).b
      value, pos = read(bytes, 0, 0)
      raise DecodeError, "trailing bytes after the CBOR item" unless pos == bytes.bytesize

      value
    end

    def head(out, major, n)
      m = major << 5
      if n < 24 then out << (m | n).chr
      elsif n < 0x100 then out << (m | 24).chr << n.chr
      elsif n < 0x10000 then out << (m | 25).chr << [n].pack("n")
      elsif n < 0x1_0000_0000 then out << (m | 26).chr << [n].pack("N")
      else out << (m | 27).chr << [n].pack("Q>")
      end
    end

    def write(out, value, depth)
      raise ArgumentError, "CBOR: nested deeper than #{MAX_DEPTH}" if depth > MAX_DEPTH

      case value
      when nil then out << "\xF6".b
      when false then out << "\xF4".b
      when true then out << "\xF5".b
      when Integer
        if value >= 0
          raise RangeError, "CBOR: integer #{value} is over 2**64-1" if value >= 2**64

          head(out, 0, value)
        else
          raise RangeError, "CBOR: integer #{value} is under -2**64" if value < -(2**64)

          head(out, 1, -1 - value)
        end
      when Float then out << "\xFB".b << [value].pack("G")
      when Symbol then write(out, value.name, depth)
      when String
        if value.encoding == Encoding::BINARY
          head(out, 2, value.bytesize)
          out << value
        else
          text = value.encoding == Encoding::UTF_8 ? value : value.encode(Encoding::UTF_8)
          raise EncodingError, "CBOR: text is not valid UTF-8" unless text.valid_encoding?

          head(out, 3, text.bytesize)
          out << text.b
        end
      when Array
        head(out, 4, value.size)
        value.each { |v| write(out, v, depth + 1) }
      when Hash
        head(out, 5, value.size)
        value.each do |k, v|
          write(out, k, depth + 1)
          write(out, v, depth + 1)
        end
      else
        raise TypeError, "CBOR: cannot encode #{value.class}"
      end
      out
    end

    def need(bytes, pos, n)
      raise DecodeError, "truncated CBOR" if pos + n > bytes.bytesize
    end

    def argument(bytes, pos, info)
      case info
      when 0..23 then [info, pos]
      when 24 then need(bytes, pos, 1) || [bytes.getbyte(pos), pos + 1]
      when 25 then need(bytes, pos, 2) || [bytes.byteslice(pos, 2).unpack1("n"), pos + 2]
      when 26 then need(bytes, pos, 4) || [bytes.byteslice(pos, 4).unpack1("N"), pos + 4]
      when 27 then need(bytes, pos, 8) || [bytes.byteslice(pos, 8).unpack1("Q>"), pos + 8]
      else raise DecodeError, "unsupported CBOR length encoding #{info}"
      end
    end

    def half(bits)
      sign = bits >> 15 == 1 ? -1.0 : 1.0
      exp = (bits >> 10) & 0x1f
      frac = bits & 0x3ff
      if exp.zero? then sign * frac * (2.0**-24)
      elsif exp == 31 then frac.zero? ? sign * Float::INFINITY : Float::NAN
      else sign * (1 + (frac / 1024.0)) * (2.0**(exp - 15))
      end
    end

    def read(bytes, pos, depth)
      raise DecodeError, "CBOR nested deeper than #{MAX_DEPTH}" if depth > MAX_DEPTH

      need(bytes, pos, 1)
      initial = bytes.getbyte(pos)
      pos += 1
      major = initial >> 5
      info = initial & 0x1f
      if major == 7
        case info
        when 20 then return [false, pos]
        when 21 then return [true, pos]
        when 22, 23 then return [nil, pos]
        when 25 then need(bytes, pos, 2) || (return [half(bytes.byteslice(pos, 2).unpack1("n")), pos + 2])
        when 26 then need(bytes, pos, 4) || (return [bytes.byteslice(pos, 4).unpack1("g"), pos + 4])
        when 27 then need(bytes, pos, 8) || (return [bytes.byteslice(pos, 8).unpack1("G"), pos + 8])
        else raise DecodeError, "unsupported CBOR simple value #{info}"
        end
      end
      n, pos = argument(bytes, pos, info)
      case major
      when 0 then [n, pos]
      when 1 then [-1 - n, pos]
      when 2
        need(bytes, pos, n)
        [bytes.byteslice(pos, n), pos + n]
      when 3
        need(bytes, pos, n)
        s = bytes.byteslice(pos, n).force_encoding(Encoding::UTF_8)
        raise DecodeError, "CBOR text is not valid UTF-8" unless s.valid_encoding?

        [s, pos + n]
      when 4
        items = Array.new(n) do
          v, pos = read(bytes, pos, depth + 1)
          v
        end
        [items, pos]
      when 5
        map = {}
        n.times do
          k, pos = read(bytes, pos, depth + 1)
          v, pos = read(bytes, pos, depth + 1)
          map[k] = v
        end
        [map, pos]
      when 6
        read(bytes, pos, depth + 1) # a tag: keep the tagged value
      end
    end
  end
end
