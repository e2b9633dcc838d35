# frozen_string_literal: true

require "json"
require "rack"
require "toto_session"

module TotoSession
  # Toto's HTTP protocol for Rack: TotoSession::Rack::Middleware (the session layer:
  # transport, HMAC, signing, CORS) and TotoSession::Rack::Methods (Toto's method
  # dispatch and its built-in account methods), e.g. in a config.ru:
  #
  #   require "toto_session/rack"
  #   manager = TotoSession::Manager.new
  #   use TotoSession::Rack::Middleware, manager: manager, hmac: :required
  #   run(TotoSession::Rack::Methods.new do |m|
  #     m.register("hello", authenticated: true) { |toto, params| "hi #{toto.session.user_id}" }
  #   end)
  #
  # Why a middleware of its own and not a Rack::Session::Abstract::PersistedSecure store:
  # that base class is built around a cookie-carried id and a Hash of plain values that
  # it loads lazily and writes back whole. Toto's session id travels in a header first
  # (the cookie is optional), the request must be checked against the session's HMAC key
  # over the raw body before the app runs, the response must be signed over the exact
  # bytes the app wrote, and errors must be Toto envelopes; none of that has a hook
  # there. The session here is the library's TotoSession::Session (typed state, key,
  # expiry), kept in env["toto.session"], and saved only when it changed (one call).
  module Rack
    # env keys
    SESSION = "toto.session"           # the request's TotoSession::Session, or nil
    REMOVED = "toto.session.removed"   # true once the session was removed (logout)
    MIDDLEWARE = "toto.middleware"     # the Middleware serving the request
    BODY = "toto.body"                 # the raw request body (BINARY), read once

    HMAC_POLICIES = %i[off if_key required].freeze
    SUPPORTED_METHODS = %w[POST OPTIONS GET HEAD].freeze
    ALLOW_HEADERS = %w[x-toto-hmac x-toto-session-id origin content-type].freeze
    COOKIE = "toto-session-id"
    DEFAULT_MAX_BODY_BYTES = 10 << 20
    JSON_TYPE = "application/json"

    # Toto's error codes (toto/exceptions.py).
    ERROR_SERVER = 1000
    ERROR_INVALID_METHOD = 1001
    ERROR_MISSING_METHOD = 1002
    ERROR_MISSING_PARAMS = 1003
    ERROR_NOT_AUTHORIZED = 1004
    ERROR_INVALID_HMAC = 1008

    # A Toto error with its code and value (Toto's TotoException): raise it from a
    # method to answer {"error": {"code": code, "value": value}}.
    class MethodError < StandardError
      attr_reader :code, :value

      def initialize(code, value)
        @code = Integer(code)
        @value = value
        super(value.is_a?(String) ? value : value.inspect)
      end
    end

    class << self
      # The `error` object of a Toto response for an exception: a MethodError as
      # given, a library error with a Toto code (1004..1010) with its Toto text, another
      # library error as 1000 with the library's fixed summary (its details, which may
      # name a backend's internals, are not sent), and anything else as 1000 with its
      # message (Toto's error_info).
      def error_object(exception)
        case exception
        when MethodError
          { "code" => exception.code, "value" => exception.value }
        when TotoSession::Error
          { "code" => [exception.code, ERROR_SERVER].max, "value" => exception.summary }
        else
          { "code" => ERROR_SERVER, "value" => exception.message }
        end
      end

      # A whole Toto response body: result (unless nil), error, batch, session (its
      # object made by the library in one call, Session#toto_json, and spliced in last).
      def response_json(result: nil, error: nil, batch: nil, session: nil)
        response = {}
        response["result"] = result unless result.nil?
        response["error"] = error if error
        response["batch"] = batch if batch
        json = JSON.generate(response)
        return json unless session

        json.chop! # the closing brace
        json << "," unless response.empty?
        json << '"session":' << session.toto_json << "}"
      end

      # Logs the request's session out: removes it from the cache; the response still
      # describes it (as Toto's does), it is not saved, and the cookie is cleared.
      def logout(env)
        session = env[SESSION]
        return unless session

        env[MIDDLEWARE].manager.remove_session(session.id)
        env[REMOVED] = true
      end
    end

    # The session layer (see the module comment). Options:
    #   manager:       a TotoSession::Manager (shared by every thread)
    #   hmac:          :off (Toto's default), :if_key (check requests whose session has
    #                  a key) or :required (Toto's hmac_enabled: a request naming a live
    #                  session must carry x-toto-hmac; a keyless one fails with 1008)
    #   cookies:       also read/write the session id in the toto-session-id cookie
    #   cookie_domain: the cookie's domain; cookie_secure: mark it Secure;
    #   cookie_same_site: its SameSite attribute ("Lax"; nil for none)
    #   max_body_bytes: the longest request body read (to check its mac and parse it;
    #                  10 MiB); a longer one is answered with 413
    #   allow_origin:  CORS: "*" (Toto's default), an origin, a list of origins (the
    #                  request's Origin is echoed when listed), or nil for no CORS
    #                  headers and no preflight answers
    #
    # Per request: takes the id from x-toto-session-id (then the cookie), retrieves and
    # renews the session (with HMAC on, in one call through Manager#verify_request),
    # puts it in env["toto.session"] (nil when there is none: an
    # unknown, expired or removed id is no session, as in Toto), calls the app, saves
    # the session when it changed, and signs the response with x-toto-hmac =
    # base64(HMAC-SHA1(key, SESSION_ID + BODY)) over the exact body bytes (buffering
    # the body; streamed bodies are read whole) when the session has a key. A bad or
    # missing request mac answers 1008 in a Toto envelope without calling the app,
    # signed when the session has a key. OPTIONS preflights are answered here.
    #
    # Thread-safe: no per-request state in the object; the manager is shared.
    class Middleware
      attr_reader :manager, :hmac, :cookies, :allow_origin

      def initialize(app, manager:, hmac: :off, cookies: false, cookie_domain: nil, cookie_secure: false,
                     cookie_same_site: "Lax", allow_origin: "*", max_body_bytes: DEFAULT_MAX_BODY_BYTES)
        raise ArgumentError, "hmac: must be one of #{HMAC_POLICIES.inspect}" unless HMAC_POLICIES.include?(hmac)

        @app = app
        @manager = manager
        @hmac = hmac
        @cookies = cookies ? true : false
        @cookie_domain = cookie_domain
        @cookie_secure = cookie_secure ? true : false
        @cookie_same_site = cookie_same_site&.to_s
        @max_body_bytes = Integer(max_body_bytes)
        @allow_origin = allow_origin.is_a?(Array) ? allow_origin.map(&:to_s).freeze : allow_origin&.to_s
      end

      # Whether sessions made for this service get an HMAC key (login, anonymous).
      def keys?
        @hmac != :off
      end

      # Written for what over HTTP costs (a profile of the server under load, and the
      # layer timed between bursts of other work, as a server runs it): each Ruby call
      # the layer makes costs several times its price in a loop, the server's caches being
      # cold between requests, so the usual request (the id in the header, its mac
      # checked in one library call, a session left unchanged, the app's one-String
      # body) takes as few calls as it can and the rare cases go to methods of their own.
      def call(env)
        method = env["REQUEST_METHOD"]
        return preflight(env) if method == "OPTIONS" && @allow_origin

        env[MIDDLEWARE] = self
        body = Rack.request_body(env, @max_body_bytes)
        return too_large(env) unless body

        session, refused = load(env, method, body)
        env[SESSION] = session
        if refused
          status = 200
          headers = { "content-type" => JSON_TYPE }
          out = [Rack.response_json(error: refused, session: session)]
        else
          status, headers, out = @app.call(env)
        end
        finish(env, status, headers, out)
      rescue TotoSession::Error => e
        # The cache or store failed (or the app let a library error escape): logged, and
        # a Toto envelope (1000 with the library's summary), HTTP 200 as Toto answers.
        env["rack.errors"]&.puts("toto_session: #{e.class}: #{e.message}")
        [200, cors({ "content-type" => JSON_TYPE }, env), [Rack.response_json(error: Rack.error_object(e))]]
      ensure
        session&.close
        current = env[SESSION]
        current.close if current && !current.equal?(session)
      end

      # Toto's request URI: the raw path with its query string.
      def self.request_uri(env)
        uri = env["REQUEST_URI"]
        if uri && !uri.empty?
          return uri if uri.start_with?("/")

          # absolute form (WEBrick): scheme://authority/path?query
          scheme = uri.index("://")
          if scheme
            start = uri.index(%r{[/?#]}, scheme + 3)
            return "/" if start.nil?

            path = uri[start..]
            return path.start_with?("/") ? path : "/#{path}"
          end
        end
        path = "#{env['SCRIPT_NAME']}#{env['PATH_INFO']}"
        query = env["QUERY_STRING"].to_s
        query.empty? ? path : "#{path}?#{query}"
      end

      private

      NO_SESSION = [nil, nil].freeze
      # What an unknown, expired or malformed id raises: no session, as in Toto.
      NO_SUCH_SESSION = [TotoSession::InvalidSessionId, TotoSession::InvalidArgument, TotoSession::InvalidUtf8,
                         TotoSession::TooLarge].freeze
      INVALID_HMAC = { "code" => ERROR_INVALID_HMAC, "value" => "Invalid HMAC" }.freeze
      private_constant :NO_SESSION, :NO_SUCH_SESSION, :INVALID_HMAC

      # [session or nil, refusal (an error object) or nil]
      def load(env, method, body)
        id = env["HTTP_X_TOTO_SESSION_ID"]
        id = cookie_session_id(env) if id.nil? || id.empty?
        return NO_SESSION if id.nil? || id.empty?
        return [@manager.retrieve_session(id), nil] if @hmac == :off

        mac = env["HTTP_X_TOTO_HMAC"]
        return unverified(id, nil) if mac.nil? || mac.empty?

        uri = env["REQUEST_URI"]
        uri = Middleware.request_uri(env) unless uri&.start_with?("/")
        [@manager.verify_strings(id, mac, method, uri, body), nil]
      rescue TotoSession::InvalidHMAC
        unverified(id, mac)
      rescue *NO_SUCH_SESSION
        NO_SESSION
      end

      # A request without a mac (`mac` nil), or whose mac was wrong: is there a
      # session, does it need a mac?
      def unverified(id, mac)
        if @hmac == :if_key
          session = @manager.retrieve_session(id)
          return [session, nil] if session.nil? || session.key.nil?
        else
          # Read without renewing: a request without a mac does not extend the session.
          # (One with a wrong mac was renewed by verify_request, which, like Toto's
          # retrieve-then-verify, renews before it checks.)
          session = @manager.cache.load_session(id)
          return NO_SESSION if session.nil?
        end
        [session, INVALID_HMAC]
      rescue *NO_SUCH_SESSION
        NO_SESSION
      end

      def cookie_session_id(env)
        return nil unless @cookies

        cookie = env["HTTP_COOKIE"]
        return nil if cookie.nil? || cookie.empty?

        id = ::Rack::Utils.parse_cookies_header(cookie)[COOKIE]
        id.is_a?(Array) ? id.first : id
      end

      def finish(env, status, headers, out)
        headers = headers.dup if headers.frozen?
        session = env[SESSION]
        if session
          removed = env[REMOVED]
          open = session.ptr
          # (signed below saves and signs in one call)
          @manager.save_session(session) if open && !removed && @hmac == :off && session.dirty?
          cookie(headers, session, removed) if @cookies
        end
        cors(headers, env) if @allow_origin
        out = signed(headers, session, removed, out) if open && @hmac != :off
        return [status, headers, out] unless env["REQUEST_METHOD"] == "HEAD"

        out.close if out.respond_to?(:close)
        [status, headers, []]
      end

      # The body as a one-String Array (the app's own when it is one), signed: x-toto-hmac
      # = base64(HMAC-SHA1(key, SESSION_ID + BODY)) and its content-length when the
      # session has a key, the session saved first if it changed (one library call,
      # Manager#finish_response) unless it was removed.
      def signed(headers, session, removed, out)
        if out.is_a?(Array) && out.size == 1 && (data = out[0]).is_a?(String)
          body = out
        else
          data = +"".b
          out.each { |chunk| data << chunk.b }
          out.close if out.respond_to?(:close)
          body = [data]
        end
        mac = if removed
                session.key && session.sign_response(data)
              else
                @manager.finish_response(session, data)
              end
        if mac
          headers["x-toto-hmac"] = mac
          headers["content-length"] = data.bytesize.to_s unless headers.key?("content-length") || headers.key?("Content-Length")
        end
        body
      end

      def too_large(env)
        error = { "code" => ERROR_SERVER, "value" => "Request body too large" }
        [413, cors({ "content-type" => JSON_TYPE }, env), [Rack.response_json(error: error)]]
      end

      # Toto's cookie: toto-session-id, expires_days = ceil(ttl / 86400) days from now.
      def cookie(headers, session, removed)
        return add_cookie(headers, cleared_cookie) if removed

        now = Process.clock_gettime(Process::CLOCK_REALTIME)
        days = ((session.expires_at - now) / 86_400.0).ceil
        expires = httpdate((now + (days * 86_400)).to_i)
        add_cookie(headers, "#{COOKIE}=#{session.id}#{cookie_attributes[0]}; expires=#{expires}#{cookie_attributes[1]}")
      end

      # The cookie's attributes before and after its expiry (domain, path; secure,
      # HttpOnly, SameSite), made once.
      def cookie_attributes
        @cookie_attributes ||= [
          "#{"; domain=#{@cookie_domain}" if @cookie_domain}; path=/",
          "#{'; secure' if @cookie_secure}; HttpOnly#{"; SameSite=#{@cookie_same_site}" if @cookie_same_site}"
        ].map(&:freeze).freeze
      end

      def cleared_cookie
        @cleared_cookie ||= "#{COOKIE}=#{cookie_attributes[0]}; expires=#{Time.at(0).httpdate}#{cookie_attributes[1]}".freeze
      end

      # Time#httpdate of Unix second `sec`, remembered for the last second asked (most
      # answers of one second share their cookie's expiry). The memo is one frozen
      # pair, replaced whole: safe to share between threads.
      def httpdate(sec)
        memo = @httpdate
        return memo[1] if memo && memo[0] == sec

        text = Time.at(sec).httpdate.freeze
        @httpdate = [sec, text].freeze
        text
      end

      def add_cookie(headers, value)
        name = headers.key?("Set-Cookie") ? "Set-Cookie" : "set-cookie"
        existing = headers[name]
        headers[name] = case existing
                        when nil, "" then value
                        when Array then existing + [value]
                        else "#{existing}\n#{value}"
                        end
      end

      def origin_for(env)
        return @allow_origin unless @allow_origin.is_a?(Array)

        origin = env["HTTP_ORIGIN"]
        origin if origin && @allow_origin.include?(origin)
      end

      def cors(headers, env)
        return headers unless @allow_origin

        if @allow_origin.is_a?(String) # one origin (or "*"): two fixed headers
          headers["access-control-allow-origin"] = @allow_origin
          headers["access-control-expose-headers"] = "x-toto-hmac"
          return headers
        end
        origin = origin_for(env)
        headers["access-control-allow-origin"] = origin if origin
        headers["vary"] = "Origin" if @allow_origin.is_a?(Array) && !headers.key?("vary")
        headers["access-control-expose-headers"] = "x-toto-hmac"
        headers
      end

      # Toto's options(): the allowed headers (Toto's four plus any requested), 405 for
      # a requested method it does not serve, then origin, methods and exposed headers.
      def preflight(env)
        allowed = ALLOW_HEADERS.dup
        requested = env["HTTP_ACCESS_CONTROL_REQUEST_HEADERS"]
        allowed |= requested.downcase.delete(" ").split(",").reject(&:empty?) if requested
        headers = { "access-control-allow-headers" => allowed.join(",") }
        wanted = env["HTTP_ACCESS_CONTROL_REQUEST_METHOD"]
        if wanted && !SUPPORTED_METHODS.include?(wanted)
          headers["content-type"] = JSON_TYPE
          headers["allow"] = SUPPORTED_METHODS.join(", ")
          return [405, headers, [Rack.response_json(error: { "code" => ERROR_SERVER, "value" => "Method not supported" })]]
        end
        origin = origin_for(env)
        headers["access-control-allow-origin"] = origin if origin
        headers["vary"] = "Origin" if @allow_origin.is_a?(Array)
        headers["access-control-allow-methods"] = SUPPORTED_METHODS.join(",")
        headers["access-control-expose-headers"] = "x-toto-hmac"
        [200, headers, []]
      end
    end

    # The request body as BINARY, read once per request (kept in env["toto.body"]; the
    # input is rewound for the app); nil when it is longer than `limit` bytes.
    def self.request_body(env, limit = nil)
      body = env[BODY]
      return body if body

      input = env["rack.input"]
      return env[BODY] = "".b unless input
      return nil if limit && env["CONTENT_LENGTH"].to_i > limit

      body = (limit ? input.read(limit + 1) : input.read) || +""
      # IO#read(n) answers BINARY already; read() and other inputs may not (one copy then)
      body = body.b unless body.encoding == Encoding::BINARY && !body.frozen?
      input.rewind if input.respond_to?(:rewind)
      return nil if limit && body.bytesize > limit

      env[BODY] = body
    end
  end
end

require_relative "rack/methods"
