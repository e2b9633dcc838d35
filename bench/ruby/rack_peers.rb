# frozen_string_literal: true

# The Ruby peers of bench/run.py: Rack's own session middleware next to
# TotoSession::Rack::Middleware doing the same work, in process (a direct call(env),
# no HTTP): a request that reads one value from the session and writes it back + 1.
#
#   pool    Rack::Session::Pool (ids in a cookie, sessions in a Hash in the process)
#           vs TotoSession::Rack::Middleware over the built-in memory cache
#   cookie  Rack::Session::Cookie (the session marshalled into a signed cookie)
#           vs TotoSession::Rack::Middleware over the client-side cache (the session
#           sealed with AES-256-GCM-SIV into its id, sent as the toto-session-id cookie)
#
# Both sides of a pair run alternately, round after round (peer, toto, peer, toto...),
# each round `n` requests; a round's figure is the CPU time of the process per
# request (the calls only: the env of the next request, with the cookie the last
# response set, is built outside the timed part). Every response is checked (the
# value read is the one the previous request wrote).
#
#   ruby -I bindings/ruby/lib bench/ruby/rack_peers.rb [REQUESTS_PER_ROUND] [ROUNDS]
# (defaults 2000, 7; TOTO_BENCH_QUICK=1: 300, 5). Prints one JSON line:
#   {"requests": n, "rounds": r, "pool": {"peer": [ns...], "toto": [ns...]}, "cookie": {...}}
require "json"
require "rack"
require "rack/session/pool"
require "rack/session/cookie"
require "toto_session/rack"

module RackPeers
  module_function

  # The app: reads "n" from the session and writes n + 1; answers the value read.
  def rack_app
    lambda do |env|
      s = env["rack.session"]
      n = s["n"] || 0
      s["n"] = n + 1
      [200, { "content-type" => "text/plain" }, [n.to_s]]
    end
  end

  def toto_app
    lambda do |env|
      s = env[TotoSession::Rack::SESSION]
      n = s[:n] || 0
      s[:n] = n + 1
      [200, { "content-type" => "text/plain" }, [n.to_s]]
    end
  end

  CHEAP = { memory_kib: 64, iterations: 1, parallelism: 1 }.freeze

  def toto_stack(cache)
    manager = TotoSession::Manager.new(cache: cache, password_cost: CHEAP, renew: 60)
    session = manager.create_session("bench")
    session[:n] = 0
    manager.save_session(session)
    app = TotoSession::Rack::Middleware.new(toto_app, manager: manager, hmac: :off, cookies: true)
    [app, "#{TotoSession::Rack::COOKIE}=#{session.id}"]
  end

  SECRET = "s3cr3t" * 11

  # [app, cookie header of the first request] per side.
  def stacks
    {
      "pool" => {
        "peer" => [Rack::Session::Pool.new(rack_app), nil],
        "toto" => toto_stack(TotoSession::Cache.memory),
      },
      "cookie" => {
        "peer" => [Rack::Session::Cookie.new(rack_app, secret: SECRET), nil],
        "toto" => toto_stack(TotoSession::Cache.client_side(keys: [{ id: 1, key: "k" * 32 }])),
      },
    }
  end

  # The cookie the response sets (name=value of its first Set-Cookie), or nil.
  def set_cookie(headers)
    h = headers["set-cookie"] || headers["Set-Cookie"]
    h = h.join("\n") if h.is_a?(Array)
    h&.split("\n")&.first&.split(";")&.first
  end

  # One side: state is {app, cookie, expect}; runs n requests, returns CPU ns/request.
  def run_side(side, n)
    spent = 0.0
    n.times do
      env = Rack::MockRequest.env_for("/", "HTTP_COOKIE" => side[:cookie])
      t = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
      status, headers, body = side[:app].call(env)
      text = +""
      body.each { |c| text << c }
      body.close if body.respond_to?(:close)
      spent += Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID) - t
      raise "status #{status}" unless status == 200
      raise "read #{text}, expected #{side[:expect]}" if side[:expect] && text.to_i != side[:expect]

      side[:expect] = text.to_i + 1
      c = set_cookie(headers)
      side[:cookie] = c if c
    end
    spent * 1e9 / n
  end

  def main(argv)
    quick = ENV["TOTO_BENCH_QUICK"]
    n = Integer(argv[0] || (quick ? 300 : 2000))
    rounds = Integer(argv[1] || (quick ? 5 : 7))
    sides = stacks.transform_values do |pair|
      pair.transform_values { |(app, cookie)| { app: app, cookie: cookie, expect: nil } }
    end
    sides.each_value { |pair| pair.each_value { |s| run_side(s, n / 4) } } # warm up
    out = sides.transform_values { |pair| pair.transform_values { [] } }
    rounds.times do
      sides.each do |name, pair|
        %w[peer toto].each { |k| out[name][k] << run_side(pair[k], n).round(1) }
      end
    end
    $stderr.puts "rack peers: #{rounds} rounds x #{n} requests, ns/request: #{out.inspect}"
    puts JSON.generate({ "requests" => n, "rounds" => rounds, "rack" => Rack.release }.merge(out))
  end
end

RackPeers.main(ARGV) if $PROGRAM_NAME == __FILE__
