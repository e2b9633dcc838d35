# frozen_string_literal: true

module TotoSession
  # One user's account properties, loaded lazily from the account store:
  #
  #   account = manager.account("alice")
  #   account["email"]                 # loads "email" on first access (nil if absent)
  #   account.load("email", "plan")    # or several in one store call
  #   account["email"] = "a@new.example"
  #   account.modified?                # => true
  #   account.save                     # writes only the modified properties
  #
  # Values map as for sessions (see Values). Reading may reach the store and so fail as
  # a load does: InvalidCredentials (no such account), BackendFailed. `save` keeps the
  # changes when the store fails, so it can be retried. An Account is used by one
  # thread at a time; freed by the GC or #close (unsaved changes are dropped).
  class Account
    include Handle

    NONE = Object.new.freeze
    private_constant :NONE

    class << self
      # @api private: adopts a toto_account* the caller owns.
      def wrap(raw, shield:)
        account = allocate
        account.send(:adopt, AccountPointer, raw)
        account.instance_variable_set(:@shield, shield)
        account
      end

      # @api private
      def scoped(account)
        return account unless block_given?

        begin
          yield account
        ensure
          account.close
        end
      end
    end

    # The (lowercased) user id.
    def user_id
      s = Scratch.current
      code = Native.toto_account_user_id(to_ptr, s.ptr, s.len)
      Errors.raise_for(code) unless code.zero?
      s.view(Encoding::UTF_8)
    end

    # The property's value, or nil when the account does not have it.
    def [](name)
      read(Values.key(name), nil)
    end

    # As Hash#fetch.
    def fetch(name, default = NONE)
      value = read(Values.key(name), NONE)
      return value unless value.equal?(NONE)
      return yield(name) if block_given?
      return default unless default.equal?(NONE)

      raise KeyError.new("property not found: #{name.inspect}", receiver: self, key: name)
    end

    # Whether the account has the property (loading it if needed).
    def key?(name)
      !type_of(name).nil?
    end
    alias has_key? key?
    alias include? key?

    # Sets a property (written by #save). The "password" property is refused
    # (InvalidArgument): see #password_hash=.
    def []=(name, value)
      k = Values.key(name)
      p = to_ptr
      n = k.bytesize
      s = nil
      code = case value
             when nil then Native.toto_account_set_null(p, k, n)
             when true, false then Native.toto_account_set_bool(p, k, n, value)
             when Integer
               if value.bit_length < 64 # fits int64
                 Native.toto_account_set_i64(p, k, n, value)
               else
                 cbor = Values.to_cbor(value)
                 Native.toto_account_set_cbor(p, k, n, cbor, cbor.bytesize, (s = Scratch.current).err)
               end
             when Float then Native.toto_account_set_f64(p, k, n, value)
             when String
               if value.encoding == Encoding::BINARY
                 Native.toto_account_set_bytes(p, k, n, value, value.bytesize)
               else
                 t = Values.text(value)
                 Native.toto_account_set_text(p, k, n, t, t.bytesize)
               end
             when Symbol
               t = value.name
               Native.toto_account_set_text(p, k, n, t, t.bytesize)
             when Hash, Array
               json = Values.json(value)
               Native.toto_account_set_json(p, k, n, json, json.bytesize, (s = Scratch.current).err)
             else
               raise TypeError, "cannot store a #{value.class} in an account"
             end
      Errors.raise_for(code, s) unless code.zero?
      value
    end

    # Loads the named properties (those not loaded or modified yet) in one store call.
    def load(*names)
      names = names.flatten.map { |n| Values.key(n) }
      raise TooLarge, "at most #{Native::MAX_LOAD_NAMES} names per load" if names.size > Native::MAX_LOAD_NAMES

      array = nil
      blob = nil
      unless names.empty?
        blob = FFI::MemoryPointer.new(:uint8, [names.sum(&:bytesize), 1].max)
        array = FFI::MemoryPointer.new(Native::Str, names.size)
        offset = 0
        names.each_with_index do |n, i|
          blob.put_bytes(offset, n) unless n.empty?
          entry = Native::Str.new(array + (i * Native::Str.size))
          entry[:ptr] = blob + offset
          entry[:len] = n.bytesize
          offset += n.bytesize
        end
      end
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = Native.toto_account_load(p, array, names.size, s.err)
        Errors.raise_for(code, s) unless code.zero?
      end
      self
    end

    # Loads every property in one store call (modified ones keep their new values).
    def load_all
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = Native.toto_account_load_all(p, s.err)
        Errors.raise_for(code, s) unless code.zero?
      end
      self
    end

    # Writes the modified properties, and only those, in one store call.
    def save
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = Native.toto_account_save(p, s.err)
        Errors.raise_for(code, s) unless code.zero?
      end
      self
    end

    # Whether anything (or `name`) was set since the last successful save.
    def modified?(name = nil)
      return modified_count.positive? if name.nil?

      k = Values.key(name)
      s = Scratch.current
      code = Native.toto_account_is_modified(to_ptr, k, k.bytesize, s.val)
      Errors.raise_for(code) unless code.zero?
      s.bool
    end

    def modified_count
      s = Scratch.current
      code = Native.toto_account_modified_count(to_ptr, s.len)
      Errors.raise_for(code) unless code.zero?
      s.out_size
    end

    # The stored type of a property (:null, :bool, ... see Session#type_of), or nil.
    def type_of(name)
      k = Values.key(name)
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = Native.toto_account_get_type(p, k, k.bytesize, s.val, s.err)
        next nil if code == 5

        Errors.raise_for(code, s) unless code.zero?
        Values::TYPES[s.u32]
      end
    end

    # A property as JSON text (nil when absent); set one from JSON text.
    def get_json(name)
      bytes_of(:toto_account_get_json, name, Encoding::UTF_8)
    end

    def set_json(name, json)
      k = Values.key(name)
      json = String(json)
      s = Scratch.current
      code = Native.toto_account_set_json(to_ptr, k, k.bytesize, json, json.bytesize, s.err)
      Errors.raise_for(code, s) unless code.zero?
      self
    end

    # Sets the account's password hash as it is, to migrate accounts from another
    # system (written by #save). It must be an Argon2 PHC string or a Toto $p5k2$
    # hash (InvalidArgument otherwise); a legacy hash is upgraded to Argon2id at the
    # next successful login.
    def password_hash=(hash)
      h = Values.text(String(hash))
      code = Native.toto_account_set_password_hash(to_ptr, h, h.bytesize)
      Errors.raise_for(code) unless code.zero?
    end

    # A property as one CBOR item (nil when absent); set one from CBOR.
    def get_cbor(name)
      bytes_of(:toto_account_get_cbor, name, Encoding::BINARY)
    end

    def set_cbor(name, cbor)
      k = Values.key(name)
      cbor = String(cbor)
      s = Scratch.current
      code = Native.toto_account_set_cbor(to_ptr, k, k.bytesize, cbor, cbor.bytesize, s.err)
      Errors.raise_for(code, s) unless code.zero?
      self
    end

    def inspect
      return "#<#{self.class.name} (closed)>" if closed?

      "#<#{self.class.name} user_id=#{user_id.inspect} modified=#{modified_count}>"
    end

    private

    def bytes_of(function, name, encoding)
      k = Values.key(name)
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = Native.public_send(function, p, k, k.bytesize, s.bytes, s.err)
        next nil if code == 5

        Errors.raise_for(code, s) unless code.zero?
        s.take_bytes(encoding)
      end
    end

    def read(k, missing)
      Callbacks.shielded(@shield) { read_unshielded(k, missing) }
    end

    def read_unshielded(k, missing)
      p = to_ptr
      n = k.bytesize
      s = Scratch.current
      code = Native.toto_account_get_type(p, k, n, s.val, s.err)
      return missing if code == 5

      Errors.raise_for(code, s) unless code.zero?
      case s.u32
      when 0 then nil
      when 1
        code = Native.toto_account_get_bool(p, k, n, s.val, s.err)
        code.zero? ? s.bool : Errors.raise_for(code, s)
      when 2
        code = Native.toto_account_get_i64(p, k, n, s.val, s.err)
        return s.i64 if code.zero?
        return Values.from_cbor(get_cbor(k)) if code == 6

        Errors.raise_for(code, s)
      when 3
        code = Native.toto_account_get_f64(p, k, n, s.val, s.err)
        code.zero? ? s.f64 : Errors.raise_for(code, s)
      when 4
        code = Native.toto_account_get_text(p, k, n, s.ptr, s.len, s.err)
        code.zero? ? s.view(Encoding::UTF_8) : Errors.raise_for(code, s)
      when 5
        code = Native.toto_account_get_bytes(p, k, n, s.ptr, s.len, s.err)
        code.zero? ? s.view(Encoding::BINARY) : Errors.raise_for(code, s)
      else
        code = Native.toto_account_get_json(p, k, n, s.bytes, s.err)
        return Values.parse_json(s.take_bytes(Encoding::UTF_8)) if code.zero?
        return Values.from_cbor(get_cbor(k)) if code == 9

        Errors.raise_for(code, s)
      end
    end
  end
end
