# frozen_string_literal: true

# Toto's protocol over Rack with toto_session: the account methods plus
#   state.set {key, value} -> {"value": value}    (authenticated)
#   state.get {key}        -> {"value": value}    (authenticated)
# Run it (`make serve-ruby`, or `ruby -Ilib examples/rack_app.rb`) with PORT (8080),
# HOST (127.0.0.1), TOTO_HMAC=off, TOTO_COOKIES=on, TOTO_ALLOW_ORIGIN (comma-separated;
# default *), TOTO_REDIS_URL (Redis cache instead of memory), TOTO_SESSION_TTL (seconds;
# default Toto's 365 days). WEBrick serves it; any Rack server runs TotoRackExample.app
# from a config.ru.
require "toto_session/rack"

module TotoRackExample
  def self.manager(env = ENV)
    url = env["TOTO_REDIS_URL"].to_s
    ttl = env["TOTO_SESSION_TTL"].to_s.empty? ? nil : Float(env["TOTO_SESSION_TTL"])
    TotoSession::Manager.new(cache: url.empty? ? TotoSession::Cache.memory : TotoSession::Cache.redis(url),
                             account_store: TotoSession::AccountStore.memory, ttl: ttl)
  end

  def self.app(manager = self.manager, env = ENV)
    methods = TotoSession::Rack::Methods.new do |m|
      m.register("state.set", authenticated: true, requires: %w[key value]) do |toto, params|
        toto.session[params["key"].to_s] = params["value"]
        { "value" => params["value"] }
      end
      m.register("state.get", authenticated: true, requires: %w[key]) do |toto, params|
        { "value" => toto.session[params["key"].to_s] }
      end
    end
    origins = env.fetch("TOTO_ALLOW_ORIGIN", "*").split(",").map(&:strip)
    TotoSession::Rack::Middleware.new(methods, manager: manager, hmac: env["TOTO_HMAC"] == "off" ? :off : :required,
                                               cookies: env["TOTO_COOKIES"] == "on",
                                               allow_origin: origins.size == 1 ? origins.first : origins)
  end

  def self.serve(env = ENV)
    require "rack/handler/webrick"
    host = env.fetch("HOST", "127.0.0.1")
    port = Integer(env.fetch("PORT", "8080"))
    server = nil
    listening = -> { warn "toto rack example listening on http://#{host}:#{server.config[:Port]}/"; $stderr.flush }
    options = { Host: host, Port: port, AccessLog: [], Logger: WEBrick::Log.new(nil, WEBrick::BasicLog::WARN),
                StartCallback: -> { listening.call } }
    %w[INT TERM].each { |sig| trap(sig) { server&.shutdown } }
    Rack::Handler::WEBrick.run(app(manager(env), env), **options) do |s|
      server = s # no Nagle delay between WEBrick's header and body writes
      s.listeners.each { |l| l.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1) }
    end
  end
end

TotoRackExample.serve if $PROGRAM_NAME == __FILE__
