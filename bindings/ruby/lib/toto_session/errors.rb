# frozen_string_literal: true

module TotoSession
  # Every failure of the library, one subclass per toto_result code.
  #
  #   begin
  #     manager.verify_request(id, mac, "GET", "/x")
  #   rescue TotoSession::InvalidHMAC, TotoSession::InvalidSessionId => e
  #     [401, {}, [JSON.generate(error: e.to_toto)]]   # {"code"=>1008, "value"=>"Invalid HMAC"}
  #   end
  #
  # `#code` is the toto_result number (Toto's own 1004..1010 for domain errors),
  # `#summary` the library's fixed text for it, `#details` the per-call description
  # from `toto_error.message` (a backend's own message where there is one).
  class Error < StandardError
    # code => class, filled in by `Error.define`.
    CODES = {}

    attr_reader :code, :details

    # The code of this class (inherited by further subclasses such as ClosedError).
    def self.code
      klass = self
      while klass && klass <= Error
        return klass.const_get(:CODE, false) if klass.const_defined?(:CODE, false)

        klass = klass.superclass
      end
      nil
    end

    # The exception for a result code (the base class for an unknown one).
    def self.for_code(code, details = nil)
      (CODES[code] || Error).new(details, code: code)
    end

    # The library's fixed English text for a code.
    def self.summary_for(code)
      Native.toto_result_message(code).dup.force_encoding(Encoding::UTF_8)
    end

    def initialize(details = nil, code: nil)
      @code = code || self.class.code || 0
      @details = details.nil? || details.empty? ? nil : details
      super(build_message)
    end

    def summary
      Error.summary_for(@code)
    end

    # The `error` object of a Toto response: {"code" => 1008, "value" => "Invalid HMAC"}.
    def to_toto
      { "code" => @code, "value" => summary }
    end

    private

    def build_message
      text = summary
      @details && @details != text ? "#{text} (#{@code}): #{@details}" : "#{text} (#{@code})"
    end

    class << self
      private

      def define(name, code)
        klass = Class.new(self)
        klass.const_set(:CODE, code)
        TotoSession.const_set(name, klass)
        CODES[code] = klass
        klass
      end
    end

    define :NullArgument, 1
    define :InvalidUtf8, 2
    define :TooLarge, 3
    define :InvalidArgument, 4
    define :NotFound, 5
    define :TypeMismatch, 6
    define :InvalidCbor, 7
    define :UnsupportedVersion, 8
    define :InvalidJson, 9
    define :BackendFailed, 10
    define :BackendMisbehaved, 11
    define :Unsupported, 12
    define :IdCollision, 13
    define :InvalidHandle, 14
    define :Panic, 15
    define :BackendUnavailable, 16
    # A save found its session removed (logout), rotated away, cleared or expired:
    # nothing written, nothing brought back. Treat it as logged out.
    define :SessionRevoked, 17
    # A save found the session saved by another request since it was loaded: nothing
    # written. Manager#update_session retries for you.
    define :Conflict, 18
    define :NotAuthorized, 1004
    define :InvalidCredentials, 1005
    define :UserIdExists, 1006
    define :InvalidSessionId, 1007
    define :InvalidHMAC, 1008
    define :InvalidUserId, 1010
  end

  # Spelling aliases.
  InvalidHmac = InvalidHMAC
  InvalidUTF8 = InvalidUtf8
  InvalidCBOR = InvalidCbor
  InvalidJSON = InvalidJson

  # Raised for a handle used after #close (a subclass of InvalidHandle, code 14).
  class ClosedError < InvalidHandle; end

  # Raised after a library call whose Ruby backend callback killed its own thread
  # (Thread.current.kill / Thread.exit): the kill cannot cross C, so this exception
  # (not a StandardError) ends the thread instead.
  class ThreadKilled < Exception; end # rubocop:disable Lint/InheritException

  # @api private: turning result codes into exceptions.
  module Errors
    PENDING = :__toto_session_callback_exception

    module_function

    # Raises for a non-zero code. `scratch` is passed for calls that take a toto_error
    # (its message is then this call's details).
    def raise_for(code, scratch = nil)
      Callbacks.redo_kill
      details = scratch&.error_message
      error = Error.for_code(code, details)
      pending = Thread.current[PENDING]
      if pending
        Thread.current[PENDING] = nil
        related = details && details.include?(pending.class.name.to_s)
        # An Interrupt, SystemExit, NoMemoryError... inside a Ruby backend callback
        # could not cross C; the call failed with it, so it goes on here.
        raise pending if related && !pending.is_a?(StandardError)
        raise error, cause: pending if related
      end
      raise error
    end
  end
end
