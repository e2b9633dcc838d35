# frozen_string_literal: true

module TotoSession
  # A session: id, user id, expiry, optional HMAC key and a typed state map.
  #
  #   session[:cart] = { "items" => [1, 2] }   # Hash/Array through JSON
  #   session[:count] = 0                      # typed: reads back 0, not nil
  #   session["avatar"] = png.b                # BINARY String -> bytes
  #   session[:cart]  # => {"items"=>[1, 2]}
  #
  # See Values for the type mapping. Keys are Strings or Symbols (read back as
  # Strings). A session handle is used by one thread at a time (it may move between
  # threads). It is freed by the GC, or at once with #close (idempotent); the block
  # forms (Session.open, Session.import, Manager#with_session...) close it for you.
  class Session
    include Handle
    include Enumerable
    include Signing

    NONE = Object.new.freeze
    KEYS = KeyCache::ENTRIES
    UTF_8 = Encoding::UTF_8
    BINARY = Encoding::BINARY

    # Reading a toto_scalar (Native::Scalar) from the session's own output memory, with
    # as few ffi reads as possible (each costs about a tenth of the call itself): its
    # first 8 bytes as one uint64 (value_type, boolean, integer_fits; the 2 padding
    # bytes masked off) tell the type and, for a bool, the value. The HEAD_* values
    # are built from the struct's offsets in the machine's byte order.
    AT_INTEGER = Native::Scalar::INTEGER
    AT_NUMBER = Native::Scalar::NUMBER
    AT_DATA = Native::Scalar::DATA
    AT_LEN = Native::Scalar::LEN
    head = lambda do |type, boolean = 0, fits = 0, mask: false|
      bytes = "\0".b * 8
      bytes[Native::Scalar::TYPE, 4] = mask ? "\xFF".b * 4 : [type].pack("L")
      bytes[Native::Scalar::BOOLEAN] = mask ? "\xFF".b : boolean.chr
      bytes[Native::Scalar::INTEGER_FITS] = mask ? "\xFF".b : fits.chr
      bytes.unpack1("Q")
    end
    HEAD_MASK = head.call(0, mask: true)
    HEAD_NULL = head.call(0)
    HEAD_FALSE = head.call(1, 0)
    HEAD_TRUE = head.call(1, 1)
    HEAD_INTEGER = head.call(2, 0, 1) # fits in int64
    HEAD_WIDE_INTEGER = head.call(2, 0, 0) # does not: read as one CBOR item
    HEAD_FLOAT = head.call(3)
    HEAD_TEXT = head.call(4)
    HEAD_BYTES = head.call(5)
    # The whole address space as one pointer (at address 1, unbounded): the bytes at
    # address `a` are MEMORY.get_bytes(a - 1, n). Copying a borrowed text or bytes view
    # this way does not allocate an FFI::Pointer per read (get_pointer(DATA) would, and
    # that costs more than the library call).
    MEMORY = FFI::Pointer.new(1)
    # Output memory of closed sessions (#close puts, #scalar_memory takes; Array#push
    # and #pop are each one step under the GVL). A few dozen cover the sessions a
    # process has open at once; beyond that the GC frees them.
    SCALAR_POOL = []
    SCALAR_POOL_MAX = 64
    # What toto_session_get_scalar_z returns (Session#[]): the type in bits 0-7, the
    # bool in bit 8, "the integer fits" in bit 9, a text's or bytes' length from bit 16;
    # a negated result code on failure.
    Z = KeyCache::Z
    # (#[] dispatches on them as literals: 514, 257, 1, 0, 3, -5.)
    Z_INTEGER = 2 | 512
    Z_TRUE = 1 | 256
    Z_FALSE = 1
    Z_NULL = 0
    Z_FLOAT = 3
    Z_TEXT = 4
    Z_BYTES = 5
    Z_LEN = 65_536 # h / Z_LEN: the length (opt_div; Integer#>> is a method call)
    Z_NOT_FOUND = -5
    private_constant(*constants(false))

    class << self
      # A new session with a fresh random id (or the given one) for `user_id`
      # (lowercased; "" = anonymous), expiring at `expires` (Time or Unix seconds).
      def new(user_id = "", expires:, id: nil)
        uid = Values.text(user_id.to_s)
        at = Session.seconds(expires)
        owner = SessionPointer.fresh
        code = if id
                 sid = id.to_s
                 Native.toto_session_new_with_id(sid, sid.bytesize, uid, uid.bytesize, at, owner.out)
               else
                 Native.toto_session_new(uid, uid.bytesize, at, owner.out)
               end
        failed(code) unless code.zero?
        adopt(owner)
      end

      # As new; with a block, yields the session and closes it afterwards (returning
      # the block's value).
      def open(user_id = "", expires:, id: nil, &block)
        scoped(new(user_id, expires: expires, id: id), &block)
      end

      # Decodes a record made by #export (or held by any cache) into a new, clean
      # session; with a block, yields it and closes it afterwards.
      def import(record, &block)
        record = String(record)
        s = Scratch.current
        owner = SessionPointer.fresh
        code = Native.toto_session_import(record, record.bytesize, owner.out, s.err)
        failed(code, s) unless code.zero?
        scoped(adopt(owner), &block)
      end

      # @api private: the Session of a SessionPointer its creating call filled.
      def adopt(owner)
        session = allocate
        session.send(:own, owner)
        session
      end

      # @api private: a creating call returned `code` (not 0); its owner holds nothing.
      # Raises (see Errors.raise_for).
      def failed(code, scratch = nil)
        SessionPointer.unfilled
        Errors.raise_for(code, scratch)
      end

      # @api private
      def scoped(session)
        return session unless block_given?

        begin
          yield session
        ensure
          session.close
        end
      end

      # @api private: Time or Numeric -> Float Unix seconds.
      def seconds(value)
        value.is_a?(Time) ? value.to_f : Float(value)
      end
    end

    # A clean copy (export + import), with its own handle.
    def initialize_copy(other)
      super
      copy = Session.import(other.export)
      own(copy.instance_variable_get(:@owner))
      @scalar = nil # never share the output memory with `other`
      copy.send(:disown)
    end

    # Frees the session now (idempotent; also #free). Without it the GC frees it.
    def close
      owner = @owner
      return nil if owner.nil?

      @ptr = nil
      @owner = nil
      owner.call_free # SessionPointer#release, inlined
      if (m = @scalar) # its output memory serves the next session (#scalar_memory)
        @scalar = nil
        SCALAR_POOL.push(m) if SCALAR_POOL.size < SCALAR_POOL_MAX
      end
      nil
    end
    alias free close

    # ---- metadata -------------------------------------------------------------------

    def id
      s = Scratch.current
      code = Native.toto_session_id(to_ptr, s.ptr, s.len)
      Errors.raise_for(code) unless code.zero?
      s.view(Encoding::UTF_8)
    end

    def id=(new_id)
      new_id = new_id.to_s
      code = Native.toto_session_set_id(to_ptr, new_id, new_id.bytesize)
      Errors.raise_for(code) unless code.zero?
    end

    # The (lowercased) user id; "" for an anonymous session.
    def user_id
      s = Scratch.current
      code = Native.toto_session_user_id(to_ptr, s.ptr, s.len)
      Errors.raise_for(code) unless code.zero?
      s.view(Encoding::UTF_8)
    end

    def anonymous?
      s = Scratch.current
      code = Native.toto_session_user_id(@ptr || to_ptr, s.ptr, s.len)
      Errors.raise_for(code) unless code.zero?
      s.out_size.zero? # the length only: no String made
    end

    # Unix seconds (Float).
    def expires_at
      s = Scratch.current
      code = Native.toto_session_expires(to_ptr, s.val)
      Errors.raise_for(code) unless code.zero?
      s.f64
    end

    # Toto's `session` object of an answer as compact JSON text:
    # {"session_id":...,"expires":...,"user_id":...} (user_id "" when anonymous; the key
    # is never in it), made by the library in one call (what TotoSession::Rack splices
    # into its answers).
    def toto_json
      s = Scratch.current
      buf = s.json_buf
      code = Native.toto_session_object_json(@ptr || to_ptr, buf, Native::MAX_SESSION_OBJECT_JSON_LEN + 1, s.len)
      Errors.raise_for(code) unless code.zero?
      s.text_in(buf)
    end

    # The expiry as a Time.
    def expires
      Time.at(expires_at)
    end

    # Sets the expiry (Time or Unix seconds).
    def expires=(value)
      code = Native.toto_session_set_expires(to_ptr, Session.seconds(value))
      Errors.raise_for(code) unless code.zero?
    end

    # The per-session HMAC key (a secret), or nil when the session has none.
    def key
      s = Scratch.current
      code = Native.toto_session_key(to_ptr, s.ptr, s.len)
      return nil if code == 5

      Errors.raise_for(code) unless code.zero?
      s.view(Encoding::UTF_8)
    end

    # Sets the HMAC key (1..256 bytes of UTF-8); nil or "" removes it.
    def key=(value)
      value = value.nil? ? "" : Values.text(value.to_s)
      code = Native.toto_session_set_key(to_ptr, value, value.bytesize)
      Errors.raise_for(code) unless code.zero?
    end

    # Sets a fresh random key (as Toto's login does) and returns it.
    def generate_key
      s = Scratch.current
      code = Native.toto_session_generate_key(to_ptr, s.ptr, s.len)
      Errors.raise_for(code) unless code.zero?
      s.view(Encoding::UTF_8)
    end

    # @api private: the handle's address (what Native takes), nil once closed. An
    # attribute reader, the cheapest call Ruby makes: for an HTTP layer's per-request
    # checks.
    attr_reader :ptr

    # Whether the session changed since it was created, imported, loaded or saved.
    def dirty?
      s = Scratch.current
      code = Native.toto_session_is_dirty(to_ptr, s.val)
      Errors.raise_for(code) unless code.zero?
      s.bool
    end

    def mark_clean
      code = Native.toto_session_mark_clean(to_ptr)
      Errors.raise_for(code) unless code.zero?
      self
    end

    # The whole session as the versioned CBOR record every cache stores (BINARY).
    def export
      s = Scratch.current
      code = Native.toto_session_export(to_ptr, s.bytes, s.err)
      Errors.raise_for(code, s) unless code.zero?
      s.take_bytes
    end

    # ---- state ----------------------------------------------------------------------

    # The value under `key`, or nil when it is missing (or a stored nil: see key?).
    # One library call (toto_session_get_scalar_z) and at most one read of its output
    # for an integer, a float, true, false or nil; a text or bytes value is copied out
    # once. An array, a map or an integer outside int64 takes more (JSON, or CBOR
    # converted by the library). A key holding a NUL byte takes #read.
    def [](key)
      z = Z[key] || KeyCache.z(key)
      return read_key(key, nil) if z.nil?

      m = @scalar || scalar_memory
      h = Native.toto_session_get_scalar_z(@ptr || to_ptr, z, m)
      # Literal `when`s: one hash lookup (opt_case_dispatch), not a chain of tests.
      case h
      when 514 then m.get_int64(AT_INTEGER) # Z_INTEGER
      when -5, 0 then nil                   # Z_NOT_FOUND, Z_NULL
      when 3 then m.get_double(AT_NUMBER)   # Z_FLOAT
      when 257 then true                    # Z_TRUE
      when 1 then false                     # Z_FALSE
      when 4 then +""                       # Z_TEXT, empty
      when 5 then String.new                # Z_BYTES, empty
      else
        if h < 0 then Errors.raise_for(-h)
        elsif (t = h & 255) == Z_TEXT
          MEMORY.get_bytes(m.get_uint64(AT_DATA) - 1, h / Z_LEN).force_encoding(UTF_8)
        elsif t == Z_BYTES
          MEMORY.get_bytes(m.get_uint64(AT_DATA) - 1, h / Z_LEN)
        else
          k, n = KEYS[key] || KeyCache.add(key)
          h == 2 ? Values.from_cbor(cbor_at(k, n)) : read_structured(k, n) # beyond int64; array, map
        end
      end
    end

    # As Hash#fetch: a missing key gives the default, the block's value, or KeyError.
    def fetch(key, default = NONE)
      e = KEYS[key] || KeyCache.add(key)
      value = read(e[0], e[1], NONE)
      return value unless value.equal?(NONE)
      return yield(key) if block_given?
      return default unless default.equal?(NONE)

      raise KeyError.new("key not found: #{key.inspect}", receiver: self, key: key)
    end

    # Stores `value` under `key` (see Values for the types). An Integer in int64, a
    # Float, a UTF-8 or BINARY String, true, false or nil is one library call (a `_z`
    # setter);
    # anything else (other classes and encodings, subclasses, a key or text holding a
    # NUL byte) goes through #store_other.
    def []=(key, value)
      z = Z[key] || KeyCache.z(key)
      return store_other(key, value) if z.nil?

      c = value.class
      code = if c == Integer
               begin
                 Native.toto_session_set_i64_z(@ptr || to_ptr, z, value)
               rescue RangeError # beyond int64
                 return store_other(key, value)
               end
             elsif c == String
               enc = value.encoding
               if enc == UTF_8
                 begin
                   Native.toto_session_set_text_z(@ptr || to_ptr, z, value)
                 rescue ArgumentError # holds a NUL byte
                   return store_other(key, value)
                 end
               elsif enc == BINARY
                 Native.toto_session_set_bytes_z(@ptr || to_ptr, z, value, value.bytesize)
               else
                 return store_other(key, value)
               end
             elsif c == Float then Native.toto_session_set_f64_z(@ptr || to_ptr, z, value)
             elsif value.nil? then Native.toto_session_set_null_z(@ptr || to_ptr, z)
             elsif c == TrueClass || c == FalseClass then Native.toto_session_set_bool_z(@ptr || to_ptr, z, value)
             else return store_other(key, value)
             end
      Errors.raise_for(code) unless code == 0
      value
    end
    alias store []=

    # Whether `key` is present (a stored nil counts).
    def key?(key)
      e = KEYS[key] || KeyCache.add(key)
      p = @ptr || to_ptr
      m = @scalar || scalar_memory # a bool out, at offset 0
      code = Native.toto_session_contains(p, e[0], e[1], m)
      Errors.raise_for(code) unless code == 0
      m.get_uint8(0) != 0
    end
    alias has_key? key?
    alias include? key?
    alias member? key?

    # Removes `key`; returns the value it had (nil when missing).
    def delete(key)
      k = Values.key(key)
      old = read(k, k.bytesize, nil)
      code = Native.toto_session_delete(to_ptr, k, k.bytesize)
      Errors.raise_for(code) unless code.zero?
      old
    end

    # Removes every entry.
    def clear
      code = Native.toto_session_clear(to_ptr)
      Errors.raise_for(code) unless code.zero?
      self
    end

    def size
      s = Scratch.current
      code = Native.toto_session_len(to_ptr, s.len)
      Errors.raise_for(code) unless code.zero?
      s.out_size
    end
    alias length size

    def empty?
      size.zero?
    end

    # The keys, in sorted (byte) order, as UTF-8 Strings.
    def keys
      p = to_ptr
      s = Scratch.current
      Array.new(size) do |i|
        code = Native.toto_session_key_at(p, i, s.ptr, s.len)
        Errors.raise_for(code) unless code.zero?
        s.view(Encoding::UTF_8)
      end
    end

    def values
      keys.map { |k| read(k, k.bytesize, nil) }
    end

    # Yields each [key, value] (keys in sorted order); an Enumerator without a block.
    def each
      return enum_for(:each) { size } unless block_given?

      keys.each { |k| yield k, read(k, k.bytesize, nil) }
      self
    end
    alias each_pair each

    def each_key(&block)
      return enum_for(:each_key) { size } unless block

      keys.each(&block)
      self
    end

    def to_h
      keys.to_h { |k| [k, read(k, k.bytesize, nil)] }
    end

    # Stores every pair of a Hash.
    def update(hash)
      hash.each { |k, v| self[k] = v }
      self
    end
    alias merge! update

    # The stored type of `key`: :null, :bool, :integer, :float, :text, :bytes, :array,
    # :map; nil when missing.
    def type_of(key)
      k = Values.key(key)
      s = Scratch.current
      code = Native.toto_session_get_type(to_ptr, k, k.bytesize, s.val)
      return nil if code == 5

      Errors.raise_for(code) unless code.zero?
      Values::TYPES[s.u32]
    end

    # The value under `key` as compact JSON text (bytes as base64); nil when missing.
    def get_json(key)
      k = Values.key(key)
      json_at(to_ptr, k, k.bytesize) { |code, s| code == 5 ? nil : Errors.raise_for(code, s) }
    end

    # Stores JSON text as a value (objects become maps).
    def set_json(key, json)
      k = Values.key(key)
      json = String(json)
      s = Scratch.current
      code = Native.toto_session_set_json(to_ptr, k, k.bytesize, json, json.bytesize, s.err)
      Errors.raise_for(code, s) unless code.zero?
      self
    end

    # The value under `key` as one CBOR item (BINARY); nil when missing.
    def get_cbor(key)
      k = Values.key(key)
      s = Scratch.current
      code = Native.toto_session_get_cbor(to_ptr, k, k.bytesize, s.bytes, s.err)
      return nil if code == 5

      Errors.raise_for(code, s) unless code.zero?
      s.take_bytes
    end

    # Stores one CBOR item (e.g. from TotoSession::CBOR.encode: nested bytes survive).
    def set_cbor(key, cbor)
      k = Values.key(key)
      cbor = String(cbor)
      s = Scratch.current
      code = Native.toto_session_set_cbor(to_ptr, k, k.bytesize, cbor, cbor.bytesize, s.err)
      Errors.raise_for(code, s) unless code.zero?
      self
    end

    def inspect
      return "#<#{self.class.name} (closed)>" if closed?

      "#<#{self.class.name} id=#{id.inspect} user_id=#{user_id.inspect} expires=#{expires_at} " \
        "keys=#{keys.inspect}#{key ? ' key=[secret]' : ''}>"
    end
    alias to_s inspect

    private

    # Takes the SessionPointer `owner`: calls pass the handle's address (@ptr).
    def own(owner)
      @owner = owner
      @ptr = owner.to_i
    end

    def disown
      @owner = nil
      @ptr = nil
    end

    # Stores what #[]= does not store with one `_z` call, through the setters with a
    # length: Strings in other encodings (BINARY: bytes) or holding a NUL byte, Symbols
    # (as text), integers outside int64 (CBOR made by the library), Hashes and Arrays
    # (JSON), subclasses of the scalar classes.
    def store_other(key, value)
      e = KEYS[key] || KeyCache.add(key)
      p = @ptr || to_ptr
      k, n = e
      s = nil
      code = case value
             when Integer
               begin
                 Native.toto_session_set_i64(p, k, n, value)
               rescue RangeError
                 cbor = Values.to_cbor(value)
                 Native.toto_session_set_cbor(p, k, n, cbor, cbor.bytesize, (s = Scratch.current).err)
               end
             when String
               enc = value.encoding
               if enc == UTF_8
                 Native.toto_session_set_text(p, k, n, value, value.bytesize)
               elsif enc == BINARY
                 Native.toto_session_set_bytes(p, k, n, value, value.bytesize)
               else
                 t = Values.text(value)
                 Native.toto_session_set_text(p, k, n, t, t.bytesize)
               end
             when Float then Native.toto_session_set_f64(p, k, n, value)
             when true, false then Native.toto_session_set_bool(p, k, n, value)
             when nil then Native.toto_session_set_null(p, k, n)
             when Symbol
               t = value.name
               Native.toto_session_set_text(p, k, n, t, t.bytesize)
             when Hash, Array
               json = Values.json(value)
               Native.toto_session_set_json(p, k, n, json, json.bytesize, (s = Scratch.current).err)
             else
               raise TypeError, "cannot store a #{value.class} in a session (use a String, number, " \
                                "true/false, nil, Hash or Array)"
             end
      Errors.raise_for(code, s) unless code.zero?
      value
    end

    # #read for a key as given (Symbol or String).
    def read_key(key, missing)
      e = KEYS[key] || KeyCache.add(key)
      read(e[0], e[1], missing)
    end

    # The value under the key `k` (a String, or a KeyCache pointer) of `n` bytes;
    # `missing` when absent. #[] is this, inlined.
    def read(k, n, missing)
      p = @ptr || to_ptr
      m = @scalar || scalar_memory
      code = Native.toto_session_get_scalar(p, k, n, m)
      if code == 0
        h = m.get_uint64(0) & HEAD_MASK
        if h == HEAD_INTEGER then m.get_int64(AT_INTEGER)
        elsif h == HEAD_TEXT
          len = m.get_uint64(AT_LEN)
          len == 0 ? +"" : MEMORY.get_bytes(m.get_uint64(AT_DATA) - 1, len).force_encoding(UTF_8)
        elsif h == HEAD_FLOAT then m.get_double(AT_NUMBER)
        elsif h == HEAD_TRUE then true
        elsif h == HEAD_FALSE then false
        elsif h == HEAD_NULL then nil
        elsif h == HEAD_BYTES
          len = m.get_uint64(AT_LEN)
          len == 0 ? String.new : MEMORY.get_bytes(m.get_uint64(AT_DATA) - 1, len)
        else read_more(h, k, n)
        end
      elsif code == 5
        missing
      else
        Errors.raise_for(code)
      end
    end

    # What toto_session_get_scalar does not hand back (head `h`): an integer outside
    # int64 (its CBOR item, converted by the library), an array or a map.
    def read_more(h, k, n)
      h == HEAD_WIDE_INTEGER ? Values.from_cbor(cbor_at(k, n)) : read_structured(k, n)
    end

    # An array or a map: through JSON, or its CBOR item when JSON cannot hold it.
    def read_structured(k, n)
      json = json_at(@ptr || to_ptr, k, n) do |code, s|
        # e.g. a map with non-text keys
        return Values.from_cbor(cbor_at(k, n)) if code == 9

        Errors.raise_for(code, s)
      end
      Values.parse_json(json)
    end

    # The value under `k` (`n` bytes) of session `p` as JSON text: written by the library
    # into this thread's scratch (one call, no allocation in the library), or, when
    # longer than that, in a library buffer. A failure's code (and the scratch holding
    # its error) goes to the block, whose value is then returned.
    def json_at(p, k, n)
      s = Scratch.current
      buf = s.value_json_buf
      code = Native.toto_session_get_json_into(p, k, n, buf, Scratch::VALUE_JSON_LEN, s.len, s.err)
      return s.text_in(buf) if code == 0

      if code == 3 # longer than the scratch (or a key over the limit: reported again)
        code = Native.toto_session_get_json(p, k, n, s.bytes, s.err)
        return s.take_bytes(UTF_8) if code == 0
      end
      yield code, s
    end

    # The value under `k` (`n` bytes) as one CBOR item (it is present).
    def cbor_at(k, n)
      s = Scratch.current
      code = Native.toto_session_get_cbor(@ptr || to_ptr, k, n, s.bytes, s.err)
      Errors.raise_for(code, s) unless code == 0
      s.take_bytes
    end

    # The toto_scalar output of #[] and #read (and the bool of #key?), taken on first
    # use and kept with the session: no allocation and no fiber-local lookup per read.
    # A session is used by one thread at a time, and nothing runs between a call and
    # the reads of its output. It comes from the memory of sessions closed before
    # (SCALAR_POOL), so a request's retrieve, reads and close allocate no
    # FFI::MemoryPointer (one cost about a third of a retrieve); the library writes it
    # in full before every read.
    def scalar_memory
      @scalar = SCALAR_POOL.pop || FFI::MemoryPointer.new(:uint8, Native::Scalar::SIZE)
    end
  end
end
