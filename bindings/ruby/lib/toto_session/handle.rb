# frozen_string_literal: true

require "fiddle"

module TotoSession
  # @api private
  #
  # Caller memory for the outputs of one C call at a time: out-pointers, lengths,
  # scalars, a toto_bytes, a small char buffer and a toto_error. One per fiber
  # (Thread.current[] is fiber-local), so concurrent calls from several threads never
  # share one, and no allocation happens per call. A wrapper reads what it needs right
  # after its call, before making another. (A Ruby backend callback running inside a
  # call may use the same scratch: the library writes the outer call's outputs and
  # error only after its callbacks returned, so that is harmless.)
  class Scratch
    PTR = 0        # void* / handle out
    LEN = 8        # size_t out
    VAL = 16       # int64 / double / bool / uint32 / uint64 out
    BYTES = 24     # struct toto_bytes
    BUF = 40       # char[64]: MACs, ids, generated passwords
    BUF_LEN = 64
    ERR = BUF + BUF_LEN # struct toto_error
    SIZE = ERR + 4 + Native::ERROR_MESSAGE_CAPACITY + 4
    KEY = :__toto_session_scratch

    attr_reader :ptr, :len, :val, :bytes, :buf, :err

    def self.current
      Thread.current[KEY] ||= new
    end

    def initialize
      @mem = FFI::MemoryPointer.new(:uint8, SIZE, true)
      @ptr = @mem
      @len = @mem + LEN
      @val = @mem + VAL
      @bytes = @mem + BYTES
      @buf = @mem + BUF
      @err = @mem + ERR
    end

    def out_pointer
      @mem.get_pointer(PTR)
    end

    # A buffer for toto_session_object_json (made on first use; per thread like the rest).
    def json_buf
      @json_buf ||= FFI::MemoryPointer.new(:uint8, Native::MAX_SESSION_OBJECT_JSON_LEN + 1, false)
    end

    # Room for a value's JSON text written by toto_session_get_json_into (made on first
    # use); a longer text is read through toto_session_get_json instead.
    VALUE_JSON_LEN = 1024

    def value_json_buf
      @value_json_buf ||= FFI::MemoryPointer.new(:uint8, VALUE_JSON_LEN, false)
    end

    # The text a call just wrote into `buf` (json_buf or value_json_buf; its length in
    # the LEN slot), as UTF-8.
    def text_in(buf)
      buf.get_bytes(0, @mem.get_uint64(LEN)).force_encoding(Encoding::UTF_8)
    end

    def out_size
      @mem.get_uint64(LEN)
    end

    def i64
      @mem.get_int64(VAL)
    end

    def u64
      @mem.get_uint64(VAL)
    end

    def f64
      @mem.get_double(VAL)
    end

    def u32
      @mem.get_uint32(VAL)
    end

    def bool
      @mem.get_uint8(VAL) != 0
    end

    # The borrowed view (pointer + length outputs) copied into a new String.
    def view(encoding)
      n = @mem.get_uint64(LEN)
      s = n.zero? ? +"" : @mem.get_pointer(PTR).get_bytes(0, n)
      s.force_encoding(encoding)
    end

    # The library-owned toto_bytes copied into a String, then released.
    def take_bytes(encoding = Encoding::BINARY)
      n = @mem.get_uint64(BYTES + 8)
      data = @mem.get_pointer(BYTES)
      s = n.zero? || data.null? ? +"" : data.get_bytes(0, n)
      Native.toto_bytes_free(@bytes)
      s.force_encoding(encoding)
    end

    # The NUL-terminated text in the char buffer.
    def buf_string
      @mem.get_string(BUF, BUF_LEN).force_encoding(Encoding::UTF_8)
    end

    def error_message
      @mem.get_string(ERR + 4, Native::ERROR_MESSAGE_CAPACITY).force_encoding(Encoding::UTF_8).scrub
    end

    def error_code
      @mem.get_uint32(ERR)
    end
  end

  # @api private
  #
  # An owned library handle: an FFI::AutoPointer whose releaser is the matching
  # toto_*_free, so a handle nobody references is freed by the GC. Each subclass counts
  # its releases (`TotoSession::HandlePointer.releases`), explicit and GC-driven alike.
  class HandlePointer < FFI::AutoPointer
    class << self
      attr_reader :release_count

      def inherited(sub)
        super
        sub.instance_variable_set(:@release_count, 0)
      end

      # Called once per handle: by #free (explicit close) or by the finalizer.
      def release(ptr)
        free_native(ptr)
        @release_count += 1
      end

      # Releases counted per handle type: {session: n, account: n, ...}.
      def releases
        HANDLE_TYPES.to_h { |name, klass| [name, klass.release_count] }
      end
    end
  end

  # @api private
  #
  # The owner of one toto_session*, made before the call that creates the session: the
  # call writes the handle straight into it (`out` is the address of its pointer
  # field), so there is no moment when a handle exists that nothing owns, and no need to
  # defer interrupts around the call. A Fiddle::Pointer (Ruby's standard library) whose
  # free function is toto_session_free itself: the GC frees an unreferenced session from
  # C, with no Ruby finalizer (an FFI::AutoPointer costs a Releaser, a finalizer-table
  # entry and a Ruby call at collection: most of a retrieve's time); #release
  # (Session#close) frees it at once. Either way it is freed exactly once (Fiddle's
  # `freed?` flag).
  class SessionPointer < Fiddle::Pointer
    FREE = Native.ffi_libraries.first.find_function("toto_session_free").address

    @made = 0
    @unfilled = 0

    class << self
      # An empty owner (NULL, nothing to free yet); pass #out to the creating call.
      def fresh
        owner = new(0)
        owner.free = FREE
        @made += 1
        owner
      end

      # Releases counted the way HandlePointer counts them (explicit and GC-driven):
      # owners that held a handle, minus those still holding it. Walks the heap: for
      # tests and diagnostics, not for a hot path.
      def release_count
        live = ObjectSpace.each_object(self).count { |o| !o.freed? && !o.null? }
        @made - @unfilled - live
      end

      # @api private: the creating call failed; the owner holds nothing (the library
      # writes `*out` only on success) and is left to the GC.
      def unfilled
        @unfilled += 1
        nil
      end
    end

    # The address the creating call writes the toto_session* to.
    def out
      ref.to_i
    end

    # Frees the session now (Session#close); a no-op once freed.
    def release
      call_free
    end
  end

  class AccountPointer < HandlePointer
    def self.free_native(ptr) = Native.toto_account_free(ptr)
  end

  class CachePointer < HandlePointer
    def self.free_native(ptr) = Native.toto_cache_free(ptr)
  end

  class AccountStorePointer < HandlePointer
    def self.free_native(ptr) = Native.toto_account_store_free(ptr)
  end

  class ManagerPointer < HandlePointer
    def self.free_native(ptr) = Native.toto_manager_free(ptr)
  end

  HANDLE_TYPES = {
    session: SessionPointer, account: AccountPointer, cache: CachePointer,
    account_store: AccountStorePointer, manager: ManagerPointer
  }.freeze

  # @api private
  #
  # What every wrapper of a handle shares: the AutoPointer, an idempotent #close (also
  # #free), #closed?, and ClosedError for use after close.
  module Handle
    def close
      ptr = @ptr
      @ptr = nil
      ptr&.free
      nil
    end
    alias free close

    def closed?
      @ptr.nil?
    end

    # The raw pointer, for passing to Native (raises after close).
    def to_ptr
      @ptr || raise(ClosedError, "#{self.class.name.split('::').last.downcase} is closed")
    end

    private

    # Adopts the handle the last call wrote into the scratch's out-pointer.
    def adopt(pointer_class, raw)
      @ptr = pointer_class.new(raw)
    end
  end
end
