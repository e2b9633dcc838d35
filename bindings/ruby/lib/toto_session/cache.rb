# frozen_string_literal: true

module TotoSession
  # A session cache: the built-in memory one, Redis, or any Ruby object that answers
  # the cache protocol (wrapped through toto_cache_vtable):
  #
  #   store(id, record, expires:, user_id:, create_new:)  -> nil, or a new id (String)
  #        keep the BINARY `record` under `id` until `expires` (Unix seconds, Float);
  #        with create_new, refuse a live id by returning false (or raising IdCollision)
  #   load(id)                                           -> record String, or nil
  #   remove(id)                                         (a missing id is fine)
  #   remove_user(user_id)        optional               -> how many were removed
  #   load_renew(id, renew_user_to:, renew_anonymous_to:) optional -> [record, expires] or nil
  #   store_if(id, record, expires:, user_id:, mode:, expected_revision:, revision:) optional
  #        the atomic conditional store (the vtable's store_if): when present, every
  #        store comes here instead of #store. Keep `revision` with the entry (0 for
  #        entries written without one); mode :upsert, :create_new (a live id: return
  #        false), :if_revision (replace only a live entry holding expected_revision:
  #        none -> raise TotoSession::SessionRevoked, another -> raise
  #        TotoSession::Conflict) or :if_exists (only a live entry, else SessionRevoked);
  #        check and write under one lock or transaction, change nothing when refusing.
  #        Without it the library checks by itself (load, compare, store), atomically
  #        only among the threads of this process.
  #
  # Methods run on whichever Ruby thread uses the cache, possibly several at once:
  # guard shared state with a Mutex. Raising in a method fails the library call with
  # BackendFailed carrying "ExceptionClass: message" (the exception is its #cause);
  # raising a TotoSession::Error answers with that code instead. Cache::HashBackend
  # below is a complete example.
  #
  # Thread safety: a Cache is shared by any number of threads. It is freed by the GC
  # or with #close; a Manager using it keeps the native cache (and the Ruby backend)
  # alive until the manager is gone too.
  class Cache
    include Handle

    # The Ruby object behind a vtable cache (nil for built-in caches).
    attr_reader :backend

    class << self
      # The built-in in-memory cache (thread-safe, expiry enforced on load). `clock`:
      # an optional callable returning Unix seconds (tests and simulations: give the
      # Manager the same one). Saved sessions are kept decoded (fast retrieve);
      # `compact: true` keeps encoded records instead (about half of the memory
      # per session, a decode on every load; not available with a clock).
      def memory(clock: nil, compact: false)
        raise ArgumentError, "compact: is not available with clock:" if clock && compact

        s = Scratch.current
        fn = nil
        if clock
          fn = Callbacks.clock_function(clock)
          code = Native.toto_cache_new_memory_with_clock(fn, nil, s.ptr)
        elsif compact
          code = Native.toto_cache_new_memory_compact(s.ptr)
        else
          code = Native.toto_cache_new_memory(s.ptr)
        end
        Errors.raise_for(code) unless code.zero?
        build(s.out_pointer, shield: !fn.nil?, keep: fn, in_process: fn.nil?)
      end

      # The built-in Redis cache at `url` (redis://[:password@]host:port[/db]), or on a
      # Redis Cluster given by seed nodes
      # (redis+cluster://[:password@]host:port[,host:port...]; the toto_* options are
      # refused there, see docs/redis.md "Redis Cluster"). Nothing connects until the
      # first operation; a Redis that is down shows as
      # BackendUnavailable and the same cache works again once it is back. After such a
      # failure every call fails fast for down_backoff_ms (default 1000; 0 = off)
      # instead of waiting for its own timeouts. Fork-safe: a worker forked from a
      # process that used the cache opens its own connections.
      #
      # Python Toto 1.0.10's own session layout (docs/coming-from-toto.md): toto_read
      # reads session:<id> pickles when an id is not in this library's layout and moves
      # them over (deleting the old key unless toto_keep_key); toto_write also writes
      # every stored session there, for a Python service still reading them.
      def redis(url, key_prefix: nil, connect_timeout_ms: nil, io_timeout_ms: nil, pool_size: nil, hash_ids: nil,
                down_backoff_ms: nil, toto_read: false, toto_keep_key: false, toto_write: false)
        url = String(url)
        opts = Native::RedisOptions.new
        code = Native.toto_redis_options_default(opts)
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
        opts[:hash_ids] = hash_ids ? true : false unless hash_ids.nil?
        opts[:down_backoff_ms] = Integer(down_backoff_ms) if down_backoff_ms
        opts[:toto_read] = toto_read ? true : false
        opts[:toto_keep_key] = toto_keep_key ? true : false
        opts[:toto_write] = toto_write ? true : false
        s = Scratch.current
        code = Native.toto_cache_new_redis(url, url.bytesize, opts, s.ptr, s.err)
        prefix = nil # borrowed during the call only
        Errors.raise_for(code, s) unless code.zero?
        build(s.out_pointer, shield: false, keep: prefix)
      end

      # A cache over a Ruby backend object (see the protocol above).
      def new(backend)
        %i[store load remove].each do |m|
          raise ArgumentError, "a cache backend must respond to ##{m}" unless backend.respond_to?(m)
        end
        vt = Native::CacheVtable.new
        vt[:version] = Native::CACHE_VTABLE_VERSION
        user_data = Callbacks.register(backend, vt, :cache)
        vt[:user_data] = user_data
        vt[:store] = Callbacks::CACHE_STORE
        vt[:load] = Callbacks::CACHE_LOAD
        vt[:remove] = Callbacks::CACHE_REMOVE
        vt[:remove_user] = backend.respond_to?(:remove_user) ? Callbacks::CACHE_REMOVE_USER : FFI::Pointer::NULL
        vt[:load_renew] = backend.respond_to?(:load_renew) ? Callbacks::CACHE_LOAD_RENEW : FFI::Pointer::NULL
        vt[:store_if] = backend.respond_to?(:store_if) ? Callbacks::CACHE_STORE_IF : FFI::Pointer::NULL
        vt[:free_user_data] = Callbacks::FREE_USER_DATA
        s = Scratch.current
        code = Native.toto_cache_new_vtable(vt, s.ptr)
        unless code.zero?
          Callbacks.unregister(user_data)
          Errors.raise_for(code)
        end
        build(s.out_pointer, shield: true, backend: backend)
      end

      # A Cache as is; any other object as a Ruby backend.
      def from(obj)
        obj.is_a?(Cache) ? obj : new(obj)
      end

      private

      def build(raw, shield:, keep: nil, backend: nil, in_process: false)
        cache = allocate
        cache.send(:adopt, CachePointer, raw)
        cache.instance_variable_set(:@shield, shield)
        cache.instance_variable_set(:@in_process, in_process)
        cache.instance_variable_set(:@keep, keep)
        cache.instance_variable_set(:@backend, backend)
        cache
      end
    end

    # Whether using this cache can run Ruby code (a Ruby backend or clock).
    def ruby_backed?
      @shield
    end

    # @api private: whether calls on this cache stay in the process and run no Ruby
    # code (the built-in memory cache without a clock): then a short call keeps the GVL
    # (releasing and re-taking it costs more than the call).
    def in_process?
      @in_process ? true : false
    end

    # Stores a raw record; returns the new id when the cache renamed it, else nil.
    # Raises IdCollision (create_new and the id is live), BackendFailed...
    def store(id, record, expires:, user_id: "", create_new: false)
      id = String(id)
      record = String(record)
      uid = Values.text(String(user_id))
      flags = create_new ? Native::STORE_CREATE_NEW : 0
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = Native.toto_cache_store(p, id, id.bytesize, uid, uid.bytesize, Session.seconds(expires),
                                       record, record.bytesize, flags, s.bytes, s.err)
        Errors.raise_for(code, s) unless code.zero?
        renamed = s.take_bytes(Encoding::UTF_8)
        renamed.empty? ? nil : renamed
      end
    end

    # The raw record under `id`, or nil (missing or expired).
    def load(id)
      id = String(id)
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = Native.toto_cache_load(p, id, id.bytesize, s.bytes, s.err)
        next nil if code == 5

        Errors.raise_for(code, s) unless code.zero?
        s.take_bytes
      end
    end

    # Removes `id` (logout); a missing id is fine.
    def remove(id)
      id = String(id)
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = Native.toto_cache_remove(p, id, id.bytesize, s.err)
        Errors.raise_for(code, s) unless code.zero?
      end
      nil
    end

    # Removes every session of `user_id`; returns how many.
    def remove_user(user_id)
      uid = Values.text(String(user_id))
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = Native.toto_cache_remove_user(p, uid, uid.bytesize, s.val, s.err)
        Errors.raise_for(code, s) unless code.zero?
        s.u64
      end
    end

    # Stores the session until its expiry (it takes a new id if the cache renamed it)
    # and marks it clean.
    def store_session(session)
      sp = session.to_ptr
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = Native.toto_cache_store_session(p, sp, s.err)
        Errors.raise_for(code, s) unless code.zero?
      end
      session
    end

    # The session stored under `id` (no renewal, no expiry check: that is the
    # manager's), or nil when missing. With a block: yields it and closes it.
    def load_session(id, &block)
      id = String(id)
      p = to_ptr
      s = Scratch.current
      owner = SessionPointer.fresh
      code = Callbacks.shielded(@shield) do
        Native.toto_cache_load_session(p, id, id.bytesize, owner.out, s.err)
      end
      unless code.zero?
        SessionPointer.unfilled
        return nil if code == 5

        Errors.raise_for(code, s)
      end
      Session.scoped(Session.adopt(owner), &block)
    end

    def inspect
      kind = if @backend then "ruby #{@backend.class}" else "built-in" end
      "#<#{self.class.name} #{kind}#{closed? ? ' (closed)' : ''}>"
    end

    # A thread-safe Hash cache in Ruby: the cache protocol, complete (with
    # remove_user and load_renew). A template for your own (Redis, SQL...).
    class HashBackend
      Entry = Struct.new(:record, :expires, :user_id)

      def initialize(clock: -> { Time.now.to_f })
        @clock = clock
        @entries = {}
        @mutex = Mutex.new
      end

      def store(id, record, expires:, user_id:, create_new:)
        @mutex.synchronize do
          old = @entries[id]
          return false if create_new && old && old.expires > @clock.call

          @entries[id] = Entry.new(record, expires, user_id)
        end
        nil
      end

      def load(id)
        @mutex.synchronize do
          entry = live(id)
          entry&.record
        end
      end

      def load_renew(id, renew_user_to:, renew_anonymous_to:)
        @mutex.synchronize do
          entry = live(id) or return nil
          target = entry.user_id.empty? ? renew_anonymous_to : renew_user_to
          entry.expires = target if target.positive? && entry.expires < target
          [entry.record, entry.expires]
        end
      end

      def remove(id)
        @mutex.synchronize { @entries.delete(id) }
      end

      def remove_user(user_id)
        @mutex.synchronize do
          ids = @entries.select { |_, e| e.user_id == user_id }.keys
          ids.each { |id| @entries.delete(id) }
          ids.size
        end
      end

      def size
        @mutex.synchronize { @entries.size }
      end

      private

      def live(id)
        entry = @entries[id]
        return nil unless entry
        return entry if entry.expires > @clock.call

        @entries.delete(id)
        nil
      end
    end
  end
end
