# frozen_string_literal: true

# A small Rack-style application speaking Toto's HTTP protocol with toto_session:
#
#   POST /login    body {"user_id": ..., "password": ...}
#                  -> {"result": {"session_id", "expires", "user_id", "key"}}
#   anything else  needs the headers x-toto-session-id and x-toto-hmac =
#                  base64(HMAC-SHA1(key, METHOD + URI + BODY)), URI being the raw path
#                  with its query string; answers {"result": ..., "session": {...}}
#                  signed with x-toto-hmac = base64(HMAC-SHA1(key, SESSION_ID + BODY)).
#   errors         {"error": {"code": 1007|1008|..., "value": "..."}} (HTTP 401/400)
#
# It is a plain object with #call(env) -> [status, headers, body], so any Rack server
# runs it (`rackup` with `run TotoRackApp.new(manager)`), and tests drive it with
# hand-made env hashes. Run this file for a self-contained demo:
#   ruby -Ilib examples/rack_app.rb
require "json"
require "stringio"
require "toto_session"

class TotoRackApp
  JSON_HEADERS = { "content-type" => "application/json" }.freeze

  attr_reader :manager

  def initialize(manager)
    @manager = manager
  end

  def call(env)
    method = env["REQUEST_METHOD"].to_s
    body = read_body(env)
    return login(body) if method == "POST" && env["PATH_INFO"] == "/login"

    session_id = env["HTTP_X_TOTO_SESSION_ID"].to_s
    mac = env["HTTP_X_TOTO_HMAC"].to_s
    # Retrieves the session, checks the mac in constant time, renews only then; the
    # block's changes are saved when it returns, and the handle closed.
    @manager.verify_request(session_id, mac, method, uri(env), body) do |session|
      result = handle(method, env["PATH_INFO"], session)
      respond(session, 200, result)
    end
  rescue TotoSession::InvalidSessionId, TotoSession::InvalidHMAC, TotoSession::InvalidCredentials,
         TotoSession::NotAuthorized => e
    error(401, e)
  rescue TotoSession::Error => e
    error(e.code < 1000 ? 500 : 400, e)
  end

  private

  # The routes behind the HMAC check.
  def handle(method, path, session)
    case [method, path]
    when %w[GET /counter]
      session[:count] = (session[:count] || 0) + 1
    when %w[GET /whoami]
      { "user_id" => session.user_id, "email" => @manager.session_account(session) { |a| a["email"] } }
    when %w[POST /logout]
      @manager.remove_session(session.id)
      true
    else
      { "echo" => path }
    end
  end

  def login(body)
    params = JSON.parse(body)
    @manager.login(params["user_id"].to_s, params["password"].to_s) do |session|
      result = { "session_id" => session.id, "expires" => session.expires_at,
                 "user_id" => session.user_id, "key" => session.key }
      [200, JSON_HEADERS.dup, [JSON.generate("result" => result)]]
    end
  rescue JSON::ParserError
    error(400, TotoSession::InvalidJson.new("login expects a JSON object"))
  rescue TotoSession::Error => e
    error(401, e)
  end

  def respond(session, status, result)
    payload = JSON.generate("result" => result,
                            "session" => { "session_id" => session.id, "expires" => session.expires_at,
                                           "user_id" => session.user_id })
    headers = JSON_HEADERS.merge("x-toto-session-id" => session.id,
                                 "x-toto-hmac" => session.sign_response(payload))
    [status, headers, [payload]]
  end

  def error(status, exception)
    [status, JSON_HEADERS.dup, [JSON.generate("error" => exception.to_toto)]]
  end

  # Toto signs the raw path with its query string.
  def uri(env)
    path = "#{env['SCRIPT_NAME']}#{env['PATH_INFO']}"
    query = env["QUERY_STRING"].to_s
    query.empty? ? path : "#{path}?#{query}"
  end

  def read_body(env)
    input = env["rack.input"]
    return "".b unless input

    data = input.read.to_s.b
    input.rewind if input.respond_to?(:rewind)
    data
  end
end

# Builds a Rack env by hand (what a server would pass).
def toto_env(method, path, body: "", query: "", headers: {})
  env = { "REQUEST_METHOD" => method, "SCRIPT_NAME" => "", "PATH_INFO" => path,
          "QUERY_STRING" => query, "rack.input" => StringIO.new(body.b) }
  headers.each { |k, v| env["HTTP_#{k.upcase.tr('-', '_')}"] = v }
  env
end

if $PROGRAM_NAME == __FILE__
  manager = TotoSession::Manager.new
  manager.create_account("alice", "s3cret", email: "alice@example.com")
  app = TotoRackApp.new(manager)

  _, _, body = app.call(toto_env("POST", "/login", body: '{"user_id":"alice","password":"s3cret"}'))
  login = JSON.parse(body.join)["result"]
  puts "login: session #{login['session_id']}"

  # The client signs with the key it got at login (TotoSession.hmac is Toto's hmac).
  mac = TotoSession.hmac(login["key"], "GET/counter")
  headers = { "x-toto-session-id" => login["session_id"], "x-toto-hmac" => mac }
  status, response_headers, body = app.call(toto_env("GET", "/counter", headers: headers))
  signed = TotoSession.verify(login["key"], response_headers["x-toto-hmac"], login["session_id"] + body.join)
  puts "GET /counter: #{status} #{body.join} (response signature ok: #{signed})"

  status, _, body = app.call(toto_env("GET", "/counter", headers: headers.merge("x-toto-hmac" => "AAAA")))
  puts "tampered: #{status} #{body.join}"
end
