# frozen_string_literal: true

require "json"
require "rack"
require "toto_session"

# A Toto client as handler.py defines the wire: x-toto-session-id, request mac over
# METHOD + URI + BODY, response mac over SESSION_ID + BODY (checked on every response
# that carries one), 1004 = logged out. The transport is a callable
# (verb, uri, body, headers) -> [status, headers (lowercase names), body String].
class TotoTestClient
  Response = Struct.new(:status, :headers, :body, :json, :signed) do
    def result = json && json["result"]
    def error = json && json["error"]
    def code = error && error["code"]
  end

  attr_accessor :session_id, :key, :sign

  def initialize(transport)
    @transport = transport
    @sign = true
  end

  # A Toto call in a JSON POST; options (Symbol keys): uri: ("/"), tamper: (changes
  # the body after signing), headers:; String keys are parameters.
  def call(method, params = {}, **opts)
    params = params.merge(opts.reject { |k, _| k.is_a?(Symbol) })
    body = JSON.generate("method" => method, "parameters" => params)
    request("POST", opts.fetch(:uri, "/"), body, opts.fetch(:headers, {}), tamper: opts[:tamper])
  end

  def request(verb, uri, body = "", headers = {}, tamper: nil, content_type: "application/json")
    h = {}
    h["content-type"] = content_type if content_type && verb == "POST"
    if @session_id
      h["x-toto-session-id"] = @session_id
      h["x-toto-hmac"] = TotoSession.hmac(@key, "#{verb}#{uri}#{body}") if @key && @sign
    end
    h.merge!(headers)
    body = tamper.call(body) if tamper
    status, rh, rb = @transport.call(verb, uri, body, h)
    json = rb.empty? ? nil : JSON.parse(rb)
    signed = nil
    if (mac = rh["x-toto-hmac"]) && verb != "HEAD" # HEAD: signed over the unsent body
      sid = json && json["session"] ? json["session"]["session_id"] : @session_id
      key = json && json["result"].is_a?(Hash) && json["result"]["key"] ? json["result"]["key"] : @key
      if key # a client without a key cannot check (e.g. a new anonymous session)
        signed = TotoSession.verify(key, mac, "#{sid}#{rb}")
        raise "1009: invalid response HMAC" unless signed
      end
    end
    @session_id = @key = nil if json && json["error"] && json["error"]["code"] == 1004
    Response.new(status, rh, rb, json, signed)
  end

  # account.login / account.create: keeps the session id and key.
  def login(user, password, method: "account.login", **extra)
    r = call(method, { "user_id" => user, "password" => password }.merge(extra))
    if r.result.is_a?(Hash) && r.result["session_id"]
      @session_id = r.result["session_id"]
      @key = r.result["key"]
    end
    r
  end

  # Transport over Rack::MockRequest (through Rack::Lint).
  def self.mock(app)
    mock = Rack::MockRequest.new(Rack::Lint.new(app))
    transport = lambda do |verb, uri, body, headers|
      env = { method: verb, input: body }
      headers.each do |k, v|
        name = k.downcase == "content-type" ? "CONTENT_TYPE" : "HTTP_#{k.upcase.tr('-', '_')}"
        env[name] = v
      end
      r = mock.request(verb, uri, env)
      [r.status, r.headers.to_h { |k, v| [k.downcase, v] }, r.body]
    end
    new(transport)
  end

  # Transport over real HTTP (one keep-alive connection).
  def self.http(host, port)
    require "net/http"
    http = Net::HTTP.new(host, port)
    http.start
    transport = lambda do |verb, uri, body, headers|
      req = Net::HTTPGenericRequest.new(verb, verb == "POST", verb != "HEAD", uri, headers)
      req.body = body if verb == "POST"
      res = http.request(req)
      [res.code.to_i, res.each_header.to_h, res.body.to_s]
    end
    client = new(transport)
    client.instance_variable_set(:@http, http)
    client
  end

  def close
    @http&.finish
  end
end
