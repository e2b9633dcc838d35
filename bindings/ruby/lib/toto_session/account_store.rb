# frozen_string_literal: true

module TotoSession
  # An account store: the built-in memory one, or any Ruby object that answers the
  # store protocol (wrapped through toto_account_store_vtable). Property values cross
  # as one CBOR item each (a BINARY String): keep them as opaque blobs, or convert them
  # to and from Ruby values with TotoSession::CBOR.decode / .encode (the library does
  # the conversion).
  #
  #   load(user_id, names)       -> {name => cbor} of those found (names nil = all),
  #                                 or nil when the account does not exist
  #   save(user_id, properties)  write exactly these {name => cbor} (insert or replace);
  #                                 false (or raise NotFound) when there is no account.
  #                                 All or nothing: on failure the Account keeps them.
  #   create(user_id, properties) -> false (or raise UserIdExists) when it exists
  #   remove(user_id)            optional; false (or raise NotFound) when missing
  #
  # As for caches: thread-safe methods, exceptions become BackendFailed with the
  # message (and the exception as #cause). AccountStore::HashBackend is an example.
  # Thread safety: shared by any number of threads; freed by the GC or #close (native
  # accounts and managers keep it alive as long as they need it).
  class AccountStore
    include Handle

    attr_reader :backend

    class << self
      # The built-in in-memory store.
      def memory
        s = Scratch.current
        code = Native.toto_account_store_new_memory(s.ptr)
        Errors.raise_for(code) unless code.zero?
        build(s.out_pointer, shield: false)
      end

      # The built-in Redis account store at `url` (redis://[:password@]host:port[/db],
      # or redis+cluster://[:password@]host:port[,host:port...] for a Redis Cluster):
      # one hash per account under "account:<user_id>" (key_prefix changes
      # "account:"), the password hash in the field "password": Python Toto 1.0.10's
      # layout, so its accounts log in unchanged (their $p5k2$ hashes become Argon2id
      # at login). Text properties are stored as they are; other values as a NUL byte
      # and their CBOR. Nothing connects until the first operation.
      def redis(url, key_prefix: nil, connect_timeout_ms: nil, io_timeout_ms: nil, pool_size: nil)
        url = String(url)
        opts = Native::RedisAccountStoreOptions.new
        code = Native.toto_redis_account_store_options_default(opts)
        Errors.raise_for(code) unless code.zero?
        prefix = nil
        if key_prefix
          prefix = FFI::MemoryPointer.from_string(String(key_prefix))
          opts[:key_prefix] = prefix
          opts[:key_prefix_len] = String(key_prefix).bytesize
        end
        opts[:connect_timeout_ms] = Integer(connect_timeout_ms) if connect_timeout_ms
        opts[:io_timeout_ms] = Integer(io_timeout_ms) if io_timeout_ms
        opts[:pool_size] = Integer(pool_size) if pool_size
        s = Scratch.current
        code = Native.toto_account_store_new_redis(url, url.bytesize, opts, s.ptr, s.err)
        prefix = nil # borrowed during the call only
        Errors.raise_for(code, s) unless code.zero?
        build(s.out_pointer, shield: false)
      end

      # A store over a Ruby backend object (see the protocol above).
      def new(backend)
        %i[load save create].each do |m|
          raise ArgumentError, "an account store backend must respond to ##{m}" unless backend.respond_to?(m)
        end
        vt = Native::AccountStoreVtable.new
        vt[:version] = Native::ACCOUNT_STORE_VTABLE_VERSION
        user_data = Callbacks.register(backend, vt, :account_store)
        vt[:user_data] = user_data
        vt[:load] = Callbacks::STORE_LOAD
        vt[:save] = Callbacks::STORE_SAVE
        vt[:create] = Callbacks::STORE_CREATE
        vt[:remove] = backend.respond_to?(:remove) ? Callbacks::STORE_REMOVE : FFI::Pointer::NULL
        vt[:free_user_data] = Callbacks::FREE_USER_DATA
        s = Scratch.current
        code = Native.toto_account_store_new_vtable(vt, s.ptr)
        unless code.zero?
          Callbacks.unregister(user_data)
          Errors.raise_for(code)
        end
        build(s.out_pointer, shield: true, backend: backend)
      end

      def from(obj)
        obj.is_a?(AccountStore) ? obj : new(obj)
      end

      private

      def build(raw, shield:, backend: nil)
        store = allocate
        store.send(:adopt, AccountStorePointer, raw)
        store.instance_variable_set(:@shield, shield)
        store.instance_variable_set(:@backend, backend)
        store
      end
    end

    def ruby_backed?
      @shield
    end

    # Creates an empty account (fill it through #account and Account#save).
    # Raises InvalidUserId (empty), UserIdExists.
    def create(user_id)
      uid = Values.text(String(user_id))
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = Native.toto_account_store_create(p, uid, uid.bytesize, s.err)
        Errors.raise_for(code, s) unless code.zero?
      end
      nil
    end

    # Deletes an account. Raises InvalidCredentials (no such account), Unsupported.
    def remove(user_id)
      uid = Values.text(String(user_id))
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = Native.toto_account_store_remove(p, uid, uid.bytesize, s.err)
        Errors.raise_for(code, s) unless code.zero?
      end
      nil
    end

    # An Account handle for `user_id` (nothing loaded yet); with a block, yields it and
    # closes it afterwards.
    def account(user_id, &block)
      uid = Values.text(String(user_id))
      s = Scratch.current
      code = Native.toto_account_new(to_ptr, uid, uid.bytesize, s.ptr)
      Errors.raise_for(code) unless code.zero?
      Account.scoped(Account.wrap(s.out_pointer, shield: @shield), &block)
    end

    def inspect
      kind = @backend ? "ruby #{@backend.class}" : "built-in"
      "#<#{self.class.name} #{kind}#{closed? ? ' (closed)' : ''}>"
    end

    # A thread-safe Hash account store in Ruby keeping Ruby values (converted from and to
    # CBOR by the library): the store protocol, complete. A template for your own (SQL,
    # LDAP...).
    class HashBackend
      def initialize
        @accounts = {}
        @mutex = Mutex.new
      end

      def load(user_id, names)
        @mutex.synchronize do
          props = @accounts[user_id] or return nil
          picked = names ? props.slice(*names) : props
          picked.transform_values { |v| Values.to_cbor(v) }
        end
      end

      def save(user_id, properties)
        @mutex.synchronize do
          props = @accounts[user_id] or return false
          properties.each { |name, cbor| props[name] = Values.from_cbor(cbor) }
        end
        true
      end

      def create(user_id, properties)
        @mutex.synchronize do
          return false if @accounts.key?(user_id)

          @accounts[user_id] = properties.transform_values { |cbor| Values.from_cbor(cbor) }
        end
        true
      end

      def remove(user_id)
        @mutex.synchronize { @accounts.delete(user_id) ? true : false }
      end

      # The decoded properties of an account (a copy), or nil.
      def [](user_id)
        @mutex.synchronize { @accounts[user_id]&.dup }
      end

      def size
        @mutex.synchronize { @accounts.size }
      end
    end
  end
end
