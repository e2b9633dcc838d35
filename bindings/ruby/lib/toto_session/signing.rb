# frozen_string_literal: true

module TotoSession
  # Toto's HMAC signing. Module functions work with an explicit key; Session includes
  # this module for the same with the session's own key:
  #
  #   request  x-toto-hmac = base64(HMAC-SHA1(key, METHOD + URI + BODY))
  #   response x-toto-hmac = base64(HMAC-SHA1(key, SESSION_ID + BODY))
  #
  # Comparisons run in constant time inside the library. `verify*` return true/false
  # (false is Toto's 1008, also when there is no key); the `!` forms raise InvalidHMAC.
  # Other failures (e.g. TooLarge for messages over 64 MiB) raise in both forms.
  module Signing
    INVALID_HMAC = 1008

    # base64(HMAC-SHA1(key, message)): 28 characters.
    def self.hmac(key, message)
      key = String(key)
      message = String(message)
      s = Scratch.current
      code = Native.toto_hmac(key, key.bytesize, message, message.bytesize, s.buf, Scratch::BUF_LEN)
      Errors.raise_for(code) unless code.zero?
      s.buf_string
    end

    # Whether `mac` is base64(HMAC-SHA1(key, message)) (false for an empty key, mac or
    # message, as in Toto).
    def self.verify(key, mac, message)
      key = String(key)
      mac = String(mac)
      message = String(message)
      code = Native.toto_verify(key, key.bytesize, mac, mac.bytesize, message, message.bytesize)
      return false if code == INVALID_HMAC

      Errors.raise_for(code) unless code.zero?
      true
    end

    # A fresh random id in Toto's format (22 url-safe characters).
    def self.generate_id
      s = Scratch.current
      code = Native.toto_generate_id(s.buf, Scratch::BUF_LEN)
      Errors.raise_for(code) unless code.zero?
      s.buf_string
    end

    # ---- instance methods for Session (the session's key) ---------------------------

    # Toto's session.hmac(message).
    def hmac(message)
      message = String(message)
      s = Scratch.current
      code = Native.toto_session_hmac(to_ptr, message, message.bytesize, s.buf, Scratch::BUF_LEN)
      Errors.raise_for(code) unless code.zero?
      s.buf_string
    end

    # Toto's session.verify(mac, message).
    def verify(mac, message)
      mac = String(mac)
      message = String(message)
      signing_result(Native.toto_session_verify(to_ptr, mac, mac.bytesize, message, message.bytesize))
    end

    # The x-toto-hmac a client sends with a request: over METHOD + URI + BODY, URI
    # being the raw path with its query string.
    def sign_request(method, uri, body = "")
      method = String(method)
      uri = String(uri)
      body = body.nil? ? "" : String(body)
      s = Scratch.current
      code = Native.toto_session_sign_request(to_ptr, method, method.bytesize, uri, uri.bytesize,
                                              body, body.bytesize, s.buf, Scratch::BUF_LEN)
      Errors.raise_for(code) unless code.zero?
      s.buf_string
    end

    # Checks a request's x-toto-hmac.
    def verify_request(mac, method, uri, body = "")
      signing_result(verify_request_code(mac, method, uri, body))
    end

    def verify_request!(mac, method, uri, body = "")
      code = verify_request_code(mac, method, uri, body)
      Errors.raise_for(code) unless code.zero?
      true
    end

    # The x-toto-hmac of a response: over the session's current id + BODY.
    def sign_response(body)
      body = body.nil? ? "" : String(body)
      s = Scratch.current
      code = Native.toto_session_sign_response(to_ptr, body, body.bytesize, s.buf, Scratch::BUF_LEN)
      Errors.raise_for(code) unless code.zero?
      s.buf_string
    end

    # Checks a response's x-toto-hmac (what a Toto client does; 1009 on its side).
    def verify_response(mac, body)
      signing_result(verify_response_code(mac, body))
    end

    def verify_response!(mac, body)
      code = verify_response_code(mac, body)
      Errors.raise_for(code) unless code.zero?
      true
    end

    private

    def verify_request_code(mac, method, uri, body)
      mac = String(mac)
      method = String(method)
      uri = String(uri)
      body = body.nil? ? "" : String(body)
      Native.toto_session_verify_request(to_ptr, mac, mac.bytesize, method, method.bytesize,
                                         uri, uri.bytesize, body, body.bytesize)
    end

    def verify_response_code(mac, body)
      mac = String(mac)
      body = body.nil? ? "" : String(body)
      Native.toto_session_verify_response(to_ptr, mac, mac.bytesize, body, body.bytesize)
    end

    def signing_result(code)
      return true if code.zero?
      return false if code == INVALID_HMAC

      Errors.raise_for(code)
    end
  end
end
