# frozen_string_literal: true

module TotoSession
  class Cache
    class << self
      # Client-side sessions: nothing is stored on the server; a session's id is the
      # session itself, sealed with AES-256-GCM-SIV (URL-safe base64, a few hundred
      # characters, usable as x-toto-session-id).
      #
      # `keys`: one or more keys, each `{id: Integer (uint32), key: 32-byte String}`
      # (e.g. `SecureRandom.bytes(32)`); every key opens tokens, the first seals new
      # ones (rotate: add the new key last, then move it first, then drop the old one
      # after the longest TTL). `clock`: an optional callable returning Unix seconds
      # (give the Manager the same one); expiry is judged by it.
      #
      # With a Manager, a save, login, rotation or renewal gives the session a new id:
      # send session.id back in every response. A tampered, expired or foreign-key
      # token is not found. Logout cannot revoke a token before its expiry;
      # clear_sessions raises Unsupported.
      def client_side(keys:, clock: nil)
        keys = Array(keys)
        raise ArgumentError, "client_side: at least one key" if keys.empty?

        buf = FFI::MemoryPointer.new(Native::ClientKey, keys.size)
        keys.each_with_index do |k, i|
          id = Integer(k.fetch(:id))
          secret = String(k.fetch(:key)).b
          unless secret.bytesize == Native::CLIENT_KEY_LEN
            raise ArgumentError, "client_side: a key must be #{Native::CLIENT_KEY_LEN} bytes"
          end
          raise ArgumentError, "client_side: key id out of range" unless id.between?(0, 0xffff_ffff)

          entry = Native::ClientKey.new(buf + (i * Native::ClientKey.size))
          entry[:id] = id
          entry[:key].to_ptr.put_bytes(0, secret)
        end
        fn = clock && Callbacks.clock_function(clock)
        s = Scratch.current
        code = Native.toto_cache_new_client_side(buf, keys.size, fn, nil, s.ptr, s.err)
        buf.clear # the library copied the keys
        Errors.raise_for(code, s) unless code.zero?
        build(s.out_pointer, shield: !fn.nil?, keep: fn)
      end
    end
  end
end
