# frozen_string_literal: true

module TotoSession
  # @api private
  #
  # Ruby backends behind the C vtables, and the rules that keep them safe:
  #
  # - The callback trampolines are FFI::Function constants, created once and never
  #   released, so no function pointer the library holds can dangle. Each native cache
  #   or store gets a small integer as its `user_data`; REGISTRY maps it to the Ruby
  #   backend (and the vtable struct) until the library calls `free_user_data`, i.e.
  #   until the last native reference (cache handle, manager, account) is gone.
  # - Nothing may unwind through C: every trampoline rescues Exception, turns it into a
  #   failure code plus toto_callback_set_error(message), and even a throw, break or
  #   Thread#kill is stopped at the boundary (an `ensure` that returns; a thread that
  #   killed itself is then ended by ThreadKilled after the call). The exception
  #   is remembered for the thread, and the library error raised by the outer call gets
  #   it as its #cause (an Interrupt or SystemExit is re-raised as itself).
  # - Calls on Ruby-backed objects run with asynchronous interrupts (Thread#raise,
  #   Thread#kill, Timeout) deferred until the C call returned: see `shielded`.
  # - Callbacks run on the calling Ruby thread, with the GVL (ffi re-acquires it when
  #   the call was attached with `blocking: true`). Several threads may be inside one
  #   backend at once: a backend must be thread-safe (a Mutex around its state).
  module Callbacks
    OK = 0
    NOT_FOUND = 5
    BACKEND_FAILED = 10
    ID_COLLISION = 13
    USER_ID_EXISTS = 1006

    # Exceptions that are answers, not failures: not remembered for the outer call.
    CONTROL = [NotFound, IdCollision, UserIdExists, Unsupported].freeze

    REGISTRY = {}
    Entry = Struct.new(:backend, :vtable, :kind)

    NEVER = { Object => :never }.freeze
    PENDING_KILL = :__toto_session_callback_kill

    @next_id = 0
    @mutex = Mutex.new

    class << self
      # Registers a backend; returns the user_data pointer for its vtable.
      def register(backend, vtable, kind)
        id = @mutex.synchronize { @next_id += 1 }
        REGISTRY[id] = Entry.new(backend, vtable, kind)
        FFI::Pointer.new(id)
      end

      # Drops a registration whose native object was never created.
      def unregister(user_data)
        REGISTRY.delete(user_data.address)
      end

      # Backends still referenced by a native cache or store.
      def live_count(kind = nil)
        kind ? REGISTRY.values.count { |e| e.kind == kind } : REGISTRY.size
      end

      def backend(user_data)
        entry = REGISTRY[user_data.address]
        raise BackendMisbehaved, "no Ruby backend is registered for this user_data" unless entry

        entry.backend
      end

      # Runs a C call that may call back into Ruby with async interrupts deferred until
      # it returns (a Thread#raise or #kill cannot then land inside a callback, where
      # it would have to cross C).
      def shielded(shield, &block)
        shield ? Thread.handle_interrupt(NEVER, &block) : yield
      end

      # Runs a callback body; always returns an Integer result code.
      def guard(ctx)
        code = BACKEND_FAILED
        finished = false
        begin
          code = yield
          code = OK unless code.is_a?(Integer)
          finished = true
        rescue Exception => e # rubocop:disable Lint/RescueException -- nothing may cross C
          code = failure(ctx, e)
          finished = true
        ensure
          unless finished
            # A throw, break or Thread#kill: it stops here (returning from `ensure`
            # ends it) and the operation fails; a self-kill then ends the thread with
            # ThreadKilled once the call returned (see redo_kill).
            Thread.current[PENDING_KILL] = true if Thread.current.status == "aborting"
            message(ctx, "a Ruby callback exited non-locally (throw, break or Thread#kill); stopped at the C boundary")
          end
          return code # rubocop:disable Lint/EnsureReturn -- see above
        end
      end

      def failure(ctx, error)
        if error.is_a?(TotoSession::Error) && error.code.positive?
          code = error.code
          Thread.current[Errors::PENDING] = error unless CONTROL.any? { |c| error.is_a?(c) }
        else
          code = BACKEND_FAILED
          Thread.current[Errors::PENDING] = error
        end
        text = begin
          "#{error.class}: #{error.message}"
        rescue Exception # rubocop:disable Lint/RescueException
          error.class.name.to_s
        end
        message(ctx, text)
        code
      end

      def message(ctx, text)
        text = text.b
        Native.toto_callback_set_error(ctx, text, text.bytesize)
      rescue Exception # rubocop:disable Lint/RescueException
        nil
      end

      # A String copied from a (pointer, length) argument.
      def text(ptr, len)
        len.zero? ? +"" : ptr.get_bytes(0, len).force_encoding(Encoding::UTF_8)
      end

      def binary(ptr, len)
        len.zero? ? "".b : ptr.get_bytes(0, len)
      end

      def set_result(ctx, data)
        data = String(data)
        Native.toto_callback_set_result(ctx, data, data.bytesize)
      end

      # Called after a failed call. A Thread#kill of the thread by itself inside a
      # callback had to be stopped at the boundary, and Ruby cannot restart a kill
      # once begun; ThreadKilled (an Exception, not a StandardError) unwinds the thread
      # from here instead.
      def redo_kill
        return unless Thread.current[PENDING_KILL]

        Thread.current[PENDING_KILL] = nil
        raise ThreadKilled, "Thread#kill inside a Ruby backend callback (stopped at the C boundary)"
      end
    end

    # ---- trampolines: one FFI::Function per vtable slot, for the whole process -----

    FREE_USER_DATA = FFI::Function.new(:void, [:pointer], lambda { |user_data|
      begin
        REGISTRY.delete(user_data.address)
      rescue Exception # rubocop:disable Lint/RescueException
        nil
      ensure
        return nil # rubocop:disable Lint/EnsureReturn
      end
    })

    CACHE_STORE = FFI::Function.new(
      :uint32, %i[pointer pointer size_t pointer size_t double pointer size_t uint32 pointer],
      lambda { |ud, id, id_len, uid, uid_len, expires, rec, rec_len, flags, ctx|
        Callbacks.guard(ctx) do
          sid = Callbacks.text(id, id_len)
          answer = Callbacks.backend(ud).store(
            sid, Callbacks.binary(rec, rec_len),
            expires: expires, user_id: Callbacks.text(uid, uid_len),
            create_new: (flags & Native::STORE_CREATE_NEW) != 0
          )
          if answer == false
            ID_COLLISION
          elsif answer.is_a?(String) && answer != sid
            Callbacks.set_result(ctx, answer)
          else
            OK
          end
        end
      }
    )

    # store_if modes, by the vtable's flags.
    STORE_IF_MODES = {
      0 => :upsert,
      Native::STORE_CREATE_NEW => :create_new,
      Native::STORE_IF_REVISION => :if_revision,
      Native::STORE_IF_EXISTS => :if_exists
    }.freeze

    CACHE_STORE_IF = FFI::Function.new(
      :uint32, %i[pointer pointer size_t pointer size_t double pointer size_t uint32 uint64 uint64 pointer],
      lambda { |ud, id, id_len, uid, uid_len, expires, rec, rec_len, flags, expected, revision, ctx|
        Callbacks.guard(ctx) do
          sid = Callbacks.text(id, id_len)
          answer = Callbacks.backend(ud).store_if(
            sid, Callbacks.binary(rec, rec_len),
            expires: expires, user_id: Callbacks.text(uid, uid_len),
            mode: STORE_IF_MODES.fetch(flags), expected_revision: expected, revision: revision
          )
          if answer == false
            ID_COLLISION
          elsif answer.is_a?(String) && answer != sid
            Callbacks.set_result(ctx, answer)
          else
            OK
          end
        end
      }
    )

    CACHE_LOAD = FFI::Function.new(
      :uint32, %i[pointer pointer size_t pointer],
      lambda { |ud, id, id_len, ctx|
        Callbacks.guard(ctx) do
          record = Callbacks.backend(ud).load(Callbacks.text(id, id_len))
          record.nil? || record == false ? NOT_FOUND : Callbacks.set_result(ctx, record)
        end
      }
    )

    CACHE_LOAD_RENEW = FFI::Function.new(
      :uint32, %i[pointer pointer size_t double double pointer],
      lambda { |ud, id, id_len, renew_user_to, renew_anonymous_to, ctx|
        Callbacks.guard(ctx) do
          found = Callbacks.backend(ud).load_renew(Callbacks.text(id, id_len),
                                                   renew_user_to: renew_user_to,
                                                   renew_anonymous_to: renew_anonymous_to)
          if found.nil? || found == false
            NOT_FOUND
          else
            record, expires = found
            code = Callbacks.set_result(ctx, record)
            code = Native.toto_callback_set_expires(ctx, Float(expires)) if code.zero? && !expires.nil?
            code
          end
        end
      }
    )

    CACHE_REMOVE = FFI::Function.new(
      :uint32, %i[pointer pointer size_t pointer],
      lambda { |ud, id, id_len, ctx|
        Callbacks.guard(ctx) do
          Callbacks.backend(ud).remove(Callbacks.text(id, id_len))
          OK
        end
      }
    )

    CACHE_REMOVE_USER = FFI::Function.new(
      :uint32, %i[pointer pointer size_t pointer pointer],
      lambda { |ud, uid, uid_len, removed, ctx|
        Callbacks.guard(ctx) do
          n = Callbacks.backend(ud).remove_user(Callbacks.text(uid, uid_len))
          removed.put_uint64(0, Integer(n || 0)) unless removed.null?
          OK
        end
      }
    )

    STR_SIZE = Native::Str.size
    PROPERTY_SIZE = Native::Property.size

    STORE_LOAD = FFI::Function.new(
      :uint32, %i[pointer pointer size_t pointer size_t pointer],
      lambda { |ud, uid, uid_len, names, count, ctx|
        Callbacks.guard(ctx) do
          wanted = if names.null?
                     nil
                   else
                     Array.new(count) do |i|
                       Callbacks.text(names.get_pointer(i * STR_SIZE), names.get_uint64((i * STR_SIZE) + 8))
                     end
                   end
          props = Callbacks.backend(ud).load(Callbacks.text(uid, uid_len), wanted)
          if props.nil? || props == false
            NOT_FOUND
          else
            code = OK
            props.each do |name, cbor|
              name = name.to_s.b
              cbor = String(cbor)
              code = Native.toto_callback_add_property(ctx, name, name.bytesize, cbor, cbor.bytesize)
              break unless code.zero?
            end
            code
          end
        end
      }
    )

    # {name => CBOR bytes} from a toto_property array.
    def self.properties(ptr, count)
      Array.new(count) do |i|
        base = i * PROPERTY_SIZE
        [text(ptr.get_pointer(base), ptr.get_uint64(base + 8)),
         binary(ptr.get_pointer(base + 16), ptr.get_uint64(base + 24))]
      end.to_h
    end

    STORE_SAVE = FFI::Function.new(
      :uint32, %i[pointer pointer size_t pointer size_t pointer],
      lambda { |ud, uid, uid_len, props, count, ctx|
        Callbacks.guard(ctx) do
          answer = Callbacks.backend(ud).save(Callbacks.text(uid, uid_len), Callbacks.properties(props, count))
          answer == false ? NOT_FOUND : OK
        end
      }
    )

    STORE_CREATE = FFI::Function.new(
      :uint32, %i[pointer pointer size_t pointer size_t pointer],
      lambda { |ud, uid, uid_len, props, count, ctx|
        Callbacks.guard(ctx) do
          answer = Callbacks.backend(ud).create(Callbacks.text(uid, uid_len), Callbacks.properties(props, count))
          answer == false ? USER_ID_EXISTS : OK
        end
      }
    )

    STORE_REMOVE = FFI::Function.new(
      :uint32, %i[pointer pointer size_t pointer],
      lambda { |ud, uid, uid_len, ctx|
        Callbacks.guard(ctx) do
          answer = Callbacks.backend(ud).remove(Callbacks.text(uid, uid_len))
          answer == false ? NOT_FOUND : OK
        end
      }
    )

    # A clock for the library (manager options, memory cache): an FFI::Function over
    # a Ruby callable returning Unix seconds. A clock that raises or returns something
    # that is not a number gives the wall clock for that reading. The caller keeps the
    # function referenced for as long as the native object using it lives.
    def self.clock_function(callable)
      FFI::Function.new(:double, [:pointer], lambda { |_data|
        now = nil
        begin
          value = callable.call
          now = value.is_a?(Time) ? value.to_f : Float(value)
        rescue Exception # rubocop:disable Lint/RescueException
          now = nil
        ensure
          return now || Process.clock_gettime(Process::CLOCK_REALTIME) # rubocop:disable Lint/EnsureReturn
        end
      })
    end
  end
end
