# frozen_string_literal: true

module TotoSession
  module Rack
    # Toto's method protocol as a Rack app (Toto's TotoHandler), behind a Middleware:
    #
    #   app = TotoSession::Rack::Methods.new do |m|
    #     m.register("state.get", authenticated: true, requires: %w[key]) do |toto, params|
    #       { "value" => toto.session[params["key"]] }
    #     end
    #   end
    #
    # A call names its method by the URL path (/a/b -> a.b) or else by the JSON body's
    # "method"; its parameters are the body's "parameters" (or the body itself, less
    # "method"), the form fields of a urlencoded POST or the query string of a
    # GET/HEAD (one value -> a String, several -> an Array; Toto gave form fields as
    # lists always). A body
    # {"batch": {"<id>": {"method", "parameters"}, ...}} runs each call in sorted id
    # order. Answers are Toto's: {"result", "error", "batch", "session"}, with HTTP 200
    # also for Toto errors (1001 unknown method, 1002 missing method, 1003 missing
    # parameters, 1004 not authorized, ...); other HTTP methods get 405.
    #
    # A method is a block called with (toto, params): `toto` is a Call (the session, the
    # manager, login/logout helpers), params the parameters; its return value is the
    # result. Raise MethodError for a Toto error; other exceptions answer 1000 with
    # their message, as in Toto. Options of #register:
    #   authenticated: true      needs a live session of a user, else 1004 (Toto's
    #                            @authenticated)
    #   anonymous_session: true  creates an anonymous session when there is none
    #   requires: %w[a b]        1003 "Missing parameters: a, b" when absent
    #
    # Toto's account methods (account.create, account.login, account.logout,
    # account.update) are registered unless `account_methods: false`.
    class Methods
      Entry = Struct.new(:name, :authenticated, :anonymous_session, :requires, :block)

      def initialize(account_methods: true)
        @methods = {}
        AccountMethods.register(self) if account_methods
        yield self if block_given?
      end

      def register(name, authenticated: false, anonymous_session: false, requires: [], &block)
        raise ArgumentError, "register needs a block" unless block

        name = name.to_s
        @methods[name] = Entry.new(name, authenticated ? true : false, anonymous_session ? true : false,
                                   Array(requires).map(&:to_s).freeze, block).freeze
        self
      end

      def registered?(name)
        @methods.key?(name.to_s)
      end

      def call(env)
        unless env[MIDDLEWARE]
          raise ArgumentError, "TotoSession::Rack::Methods runs behind TotoSession::Rack::Middleware"
        end

        case env["REQUEST_METHOD"]
        when "POST" then post(env)
        when "GET", "HEAD" then get(env)
        when "OPTIONS" then [200, {}, []]
        else
          [405, { "content-type" => JSON_TYPE, "allow" => SUPPORTED_METHODS.join(", ") },
           [Rack.response_json(error: { "code" => ERROR_SERVER, "value" => "Method not supported" })]]
        end
      end

      # Runs the method `name` with `params` in the request `env`; returns
      # [result, error object or nil]. For tests and for composing calls.
      def invoke(env, name, params)
        entry = @methods[name]
        raise MethodError.new(ERROR_INVALID_METHOD, "Cannot call '#{name}'.") unless entry

        call = Call.new(env)
        if entry.anonymous_session && env[SESSION].nil?
          call.create_session
        elsif entry.authenticated
          session = env[SESSION]
          if session.nil? || env[REMOVED] || session.anonymous?
            raise MethodError.new(ERROR_NOT_AUTHORIZED, "Not authorized")
          end
        end
        requires = entry.requires
        unless requires.empty? || (params.is_a?(Hash) && requires.all? { |k| params.key?(k) })
          missing = params.is_a?(Hash) ? requires.reject { |k| params.key?(k) } : requires
          raise MethodError.new(ERROR_MISSING_PARAMS, "Missing parameters: #{missing.join(', ')}")
        end
        [entry.block.call(call, params), nil]
      rescue StandardError => e
        if e.is_a?(TotoSession::Error) && e.code < ERROR_SERVER # a backend's details: logged, not sent
          env["rack.errors"]&.puts("toto_session: #{name}: #{e.class}: #{e.message}")
        end
        [nil, Rack.error_object(e)]
      end

      private

      def post(env)
        type = env["CONTENT_TYPE"]
        type = JSON_TYPE if type.nil? || type.empty?
        body = nil
        if type.start_with?(JSON_TYPE)
          raw = Rack.request_body(env)
          begin
            body = raw.empty? ? {} : JSON.parse(raw)
          rescue JSON::ParserError => e
            return respond(env, 400, error: { "code" => ERROR_SERVER, "value" => "Invalid JSON: #{e.message}" })
          end
          unless body.is_a?(Hash)
            return respond(env, 400, error: { "code" => ERROR_SERVER, "value" => "The body must be a JSON object" })
          end
        elsif type.start_with?("application/x-www-form-urlencoded")
          form = parse_query(env, Rack.request_body(env).dup.force_encoding(Encoding::UTF_8))
          return form unless form.is_a?(Hash)

          body = { "parameters" => form }
        end
        return batch(env, body["batch"]) if body.is_a?(Hash) && body.key?("batch")

        params = if body.nil? then {}
                 elsif body.key?("parameters") && !body["parameters"].nil? then body["parameters"]
                 else body.except("method", "parameters")
                 end
        single(env, env["PATH_INFO"], body, params)
      end

      def get(env)
        params = parse_query(env, env["QUERY_STRING"].to_s)
        return params unless params.is_a?(Hash)

        single(env, env["PATH_INFO"], nil, params)
      end

      # The fields of a query string or form (one value -> a String, several -> an
      # Array), or a 400 answer when it cannot be decoded.
      def parse_query(env, text)
        params = ::Rack::Utils.parse_query(text)
        valid = params.all? { |k, v| k.valid_encoding? && Array(v).all? { |x| x.nil? || x.valid_encoding? } }
        return params if valid

        respond(env, 400, error: { "code" => ERROR_SERVER, "value" => "Invalid UTF-8 in the parameters" })
      rescue ArgumentError, ::Rack::Utils::ParameterTypeError, ::Rack::Utils::InvalidParameterError => e
        respond(env, 400, error: { "code" => ERROR_SERVER, "value" => "Invalid parameters: #{e.message}" })
      end

      def single(env, path, body, params)
        result, error = begin
          invoke(env, method_name(path, body), params)
        rescue MethodError => e
          [nil, Rack.error_object(e)]
        end
        respond(env, 200, result: result, error: error)
      end

      def batch(env, requests)
        unless requests.is_a?(Hash)
          return respond(env, 400, error: { "code" => ERROR_SERVER, "value" => "batch must be an object" })
        end

        results = {}
        requests.keys.sort.each do |id|
          call = requests[id]
          result, error = begin
            raise MethodError.new(ERROR_MISSING_METHOD, "Missing method.") unless call.is_a?(Hash)

            invoke(env, method_name(nil, call), call.fetch("parameters", {}))
          rescue MethodError => e
            [nil, Rack.error_object(e)]
          end
          results[id] = error ? { "error" => error } : { "result" => result }
        end
        respond(env, 200, batch: results)
      end

      # Toto's method_select "both": the path (/a/b -> a.b), else the body's "method".
      def method_name(path, body)
        unless path.nil? || path.empty? || path == "/"
          path = path.delete_prefix("/").delete_suffix("/")
          return path.tr("/", ".") unless path.empty?
        end
        return body["method"].to_s if body.is_a?(Hash) && body.key?("method")

        raise MethodError.new(ERROR_MISSING_METHOD, "Missing method.")
      end

      def respond(env, status, result: nil, error: nil, batch: nil)
        session = env[SESSION]
        session = nil if session&.closed?
        json = begin
          Rack.response_json(result: result, error: error, batch: batch, session: session)
        rescue JSON::GeneratorError, EncodingError => e
          Rack.response_json(error: { "code" => ERROR_SERVER, "value" => "The answer is not JSON: #{e.class}" },
                             session: session)
        end
        [status, { "content-type" => JSON_TYPE, "content-length" => json.bytesize.to_s }, [json]]
      end
    end

    # What a method block gets as its first argument (Toto's handler).
    class Call
      attr_reader :env

      def initialize(env)
        @env = env
      end

      def session
        @env[SESSION]
      end

      def manager
        middleware.manager
      end

      def middleware
        @env[MIDDLEWARE]
      end

      # Toto's handler.create_session: logs `user_id` in (checking `password` unless
      # verify_password: false), or makes an anonymous session when user_id is nil or
      # empty. The new session becomes the request's (answered, signed and, with
      # cookies, set in the cookie). A user session has a fresh HMAC key when HMAC is
      # on (give it to the client, as account.login does); an anonymous one never has
      # one, since no answer tells the client its key (Toto made one all the same).
      def create_session(user_id = nil, password = nil, verify_password: true)
        keys = middleware.keys?
        user = user_id.to_s
        session = if !user.empty? && verify_password
                    login(user, password.to_s, keys)
                  else
                    manager.create_session(user, key: keys && !user.empty?)
                  end
        replace_session(session)
      end

      # Removes the request's session (logout); the response still describes it.
      def remove_session
        Rack.logout(@env)
      end

      # The account of the session's user (NotAuthorized without one); with a block,
      # yields it and closes it.
      def account(&block)
        manager.session_account(session, &block)
      end

      private

      def login(user, password, keys)
        session = manager.login(user, password)
        unless keys
          # Toto makes no key when HMAC is off
          session.key = nil
          manager.save_session(session)
        end
        session
      end

      def replace_session(session)
        @env[SESSION] = session
        @env.delete(REMOVED)
        session
      end
    end

    # Toto 1.0.10's toto/methods/account, as its docs intend.
    module AccountMethods
      # parameters that are not account properties
      RESERVED = %w[user_id password new_password].freeze

      module_function

      def register(methods)
        methods.register("account.create", requires: %w[user_id password]) { |toto, params| create(toto, params) }
        methods.register("account.login", requires: %w[user_id password]) { |toto, params| login(toto, params) }
        methods.register("account.logout", authenticated: true) { |toto, _params| logout(toto) }
        methods.register("account.update", authenticated: true) { |toto, params| update(toto, params) }
      end

      # Creates the account (every other parameter becomes an account property), then
      # logs in.
      def create(toto, params)
        values = params.reject { |k, _| RESERVED.include?(k) }
        toto.manager.create_account(params["user_id"].to_s, params["password"].to_s, **values)
        login(toto, params)
      end

      # {session_id, expires, user_id} and the key when the session has one.
      def login(toto, params)
        session = toto.create_session(params["user_id"].to_s, params["password"].to_s)
        login_result(session)
      end

      def login_result(session)
        result = { "session_id" => session.id, "expires" => session.expires_at, "user_id" => session.user_id }
        key = session.key
        result["key"] = key if key
        result
      end

      def logout(toto)
        toto.remove_session
        { "authenticated" => false }
      end

      # new_password (with password) changes the password and logs in again (every
      # older session of the user is removed); every other parameter becomes an
      # account property. {"updated_fields": [...]} (plus the login result).
      def update(toto, params)
        params = {} unless params.is_a?(Hash)
        result = { "updated_fields" => [] }
        user = toto.session.user_id
        if params.key?("new_password")
          unless params.key?("password")
            raise MethodError.new(ERROR_MISSING_PARAMS, "Missing parameters: password")
          end

          toto.manager.change_password(user, params["password"].to_s, params["new_password"].to_s)
          result["updated_fields"] << "password"
          result.update(login_result(toto.create_session(user, params["new_password"].to_s)))
        end
        properties = params.reject { |k, _| RESERVED.include?(k) }
        unless properties.empty?
          toto.account do |account|
            properties.each do |k, v|
              account[k] = v
              result["updated_fields"] << k
            end
            account.save
          end
        end
        result
      end
    end
  end
end
