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
    private_constant :NONE

    class << self
      # A new session with a fresh random id (or the given one) for `user_id`
      # (lowercased; "" = anonymous), expiring at `expires` (Time or Unix seconds).
      def new(user_id = "", expires:, id: nil)
        uid = Values.text(user_id.to_s)
        at = Session.seconds(expires)
        s = Scratch.current
        code = if id
                 sid = id.to_s
                 Native.toto_session_new_with_id(sid, sid.bytesize, uid, uid.bytesize, at, s.ptr)
               else
                 Native.toto_session_new(uid, uid.bytesize, at, s.ptr)
               end
        Errors.raise_for(code) unless code.zero?
        wrap(s.out_pointer)
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
        code = Native.toto_session_import(record, record.bytesize, s.ptr, s.err)
        Errors.raise_for(code, s) unless code.zero?
        scoped(wrap(s.out_pointer), &block)
      end

      # @api private: adopts a toto_session* the caller owns.
      def wrap(raw)
        session = allocate
        session.send(:adopt, SessionPointer, raw)
        session
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
      @ptr = copy.instance_variable_get(:@ptr)
      copy.instance_variable_set(:@ptr, nil)
    end

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
      user_id.empty?
    end

    # Unix seconds (Float).
    def expires_at
      s = Scratch.current
      code = Native.toto_session_expires(to_ptr, s.val)
      Errors.raise_for(code) unless code.zero?
      s.f64
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
    def [](key)
      read(key.is_a?(Symbol) ? key.name : Values.key(key), nil)
    end

    # As Hash#fetch: a missing key gives the default, the block's value, or KeyError.
    def fetch(key, default = NONE)
      k = Values.key(key)
      value = read(k, NONE)
      return value unless value.equal?(NONE)
      return yield(key) if block_given?
      return default unless default.equal?(NONE)

      raise KeyError.new("key not found: #{key.inspect}", receiver: self, key: key)
    end

    # Stores `value` under `key` (see Values for the types).
    def []=(key, value)
      k = key.is_a?(Symbol) ? key.name : Values.key(key)
      p = @ptr || to_ptr
      n = k.bytesize
      s = nil
      code = case value
             when nil then Native.toto_session_set_null(p, k, n)
             when true, false then Native.toto_session_set_bool(p, k, n, value)
             when Integer
               if value.bit_length < 64 # fits int64
                 Native.toto_session_set_i64(p, k, n, value)
               else
                 cbor = CBOR.encode(value)
                 Native.toto_session_set_cbor(p, k, n, cbor, cbor.bytesize, (s = Scratch.current).err)
               end
             when Float then Native.toto_session_set_f64(p, k, n, value)
             when String
               if value.encoding == Encoding::BINARY
                 Native.toto_session_set_bytes(p, k, n, value, value.bytesize)
               else
                 t = Values.text(value)
                 Native.toto_session_set_text(p, k, n, t, t.bytesize)
               end
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
    alias store []=

    # Whether `key` is present (a stored nil counts).
    def key?(key)
      k = Values.key(key)
      s = Scratch.current
      code = Native.toto_session_contains(to_ptr, k, k.bytesize, s.val)
      Errors.raise_for(code) unless code.zero?
      s.bool
    end
    alias has_key? key?
    alias include? key?
    alias member? key?

    # Removes `key`; returns the value it had (nil when missing).
    def delete(key)
      k = Values.key(key)
      old = read(k, nil)
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
      keys.map { |k| read(k, nil) }
    end

    # Yields each [key, value] (keys in sorted order); an Enumerator without a block.
    def each
      return enum_for(:each) { size } unless block_given?

      keys.each { |k| yield k, read(k, nil) }
      self
    end
    alias each_pair each

    def each_key(&block)
      return enum_for(:each_key) { size } unless block

      keys.each(&block)
      self
    end

    def to_h
      keys.to_h { |k| [k, read(k, nil)] }
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
      s = Scratch.current
      code = Native.toto_session_get_json(to_ptr, k, k.bytesize, s.bytes, s.err)
      return nil if code == 5

      Errors.raise_for(code, s) unless code.zero?
      s.take_bytes(Encoding::UTF_8)
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

    # Reads `k` (already a key String); `missing` when absent.
    def read(k, missing)
      p = @ptr || to_ptr
      n = k.bytesize
      s = Scratch.current
      code = Native.toto_session_get_type(p, k, n, s.val)
      return missing if code == 5

      Errors.raise_for(code) unless code.zero?
      case s.u32
      when 0 then nil
      when 1
        code = Native.toto_session_get_bool(p, k, n, s.val)
        code.zero? ? s.bool : Errors.raise_for(code)
      when 2
        code = Native.toto_session_get_i64(p, k, n, s.val)
        return s.i64 if code.zero?
        return CBOR.decode(get_cbor(k)) if code == 6 # outside int64

        Errors.raise_for(code)
      when 3
        code = Native.toto_session_get_f64(p, k, n, s.val)
        code.zero? ? s.f64 : Errors.raise_for(code)
      when 4
        code = Native.toto_session_get_text(p, k, n, s.ptr, s.len)
        code.zero? ? s.view(Encoding::UTF_8) : Errors.raise_for(code)
      when 5
        code = Native.toto_session_get_bytes(p, k, n, s.ptr, s.len)
        code.zero? ? s.view(Encoding::BINARY) : Errors.raise_for(code)
      else
        code = Native.toto_session_get_json(p, k, n, s.bytes, s.err)
        return Values.parse_json(s.take_bytes(Encoding::UTF_8)) if code.zero?
        return CBOR.decode(get_cbor(k)) if code == 9 # e.g. a map with non-text keys

        Errors.raise_for(code, s)
      end
    end
  end
end
