# frozen_string_literal: true

# What the Rack session layer costs per request: a signed state.get through
# TotoSession::Rack::Middleware (HMAC required, memory cache, no CORS) around an app
# doing the bare app's JSON work with the value read from the session ("middleware":
# the layer the goal is about, configured as Go's middleware row is), the same with
# Toto's default CORS answer headers (allow_origin "*": "cors"), and through Middleware
# + Methods (the example service: Toto's method protocol on top, "toto"), against a
# bare Rack app doing the same JSON work without sessions, all four under Puma, each in three
# server processes of its own (see PROCESSES), driven over one keep-alive HTTP
# connection each in chunks of 100 requests taken in turns in a random order; then the
# same apps called in process (no HTTP), which isolates the layer. Besides the
# round-trip time it reports the servers' CPU time per request (from /proc), which a
# busy machine disturbs far less than wall time.
#   ruby -Ilib bench_rack.rb [REQUESTS_PER_ROUND] [ROUNDS] [--json]   (defaults 2000, 7;
#   TOTO_BENCH_QUICK=1: 500, 3; --json adds one JSON line of ns figures for bench/run.py:
#   the medians, and every round's figures under "per_round")
# (TOTO_SESSION_LIB or PKG_CONFIG_PATH as for the gem.) Prints medians over rounds.
require "json"
require "net/http"
require "rbconfig"
require "toto_session/rack"
require_relative "examples/rack_app"

module BenchRack
  # The same JSON work without sessions: parse {"method", "parameters"}, look the key
  # up, answer {"result": {"value": ...}}.
  class Bare
    STATE = { "k" => "v" * 32 }.freeze

    def call(env)
      body = JSON.parse(env["rack.input"].read)
      json = JSON.generate("result" => { "value" => STATE[body["parameters"]["key"]] })
      [200, { "content-type" => "application/json", "content-length" => json.bytesize.to_s }, [json]]
    end
  end

  # Bare's work with the value read from the request's session, behind the Middleware.
  class FromSession
    def call(env)
      body = JSON.parse(env["rack.input"].read)
      json = JSON.generate("result" => { "value" => env[TotoSession::Rack::SESSION][body["parameters"]["key"]] })
      [200, { "content-type" => "application/json", "content-length" => json.bytesize.to_s }, [json]]
    end
  end

  KINDS = %w[toto middleware cors bare].freeze

  module_function

  # A manager with user "bench" logged in and "k" set in the session: [manager, session].
  def bench_session
    manager = TotoSession::Manager.new(password_cost: { memory_kib: 64, iterations: 1, parallelism: 1 })
    manager.create_account("bench", "pw")
    session = manager.login("bench", "pw")
    session[:k] = "v" * 32
    manager.save_session(session)
    [manager, session]
  end

  # The session layer alone (no CORS headers, as Go's middleware by default), or with
  # Toto's default CORS answer headers (`cors`).
  def middleware_app(manager, cors: false)
    TotoSession::Rack::Middleware.new(FromSession.new, manager: manager, hmac: :required,
                                                        allow_origin: cors ? "*" : nil)
  end

  # Every round's figure (seconds per request) by measurement and side, for the
  # --json line (bench/run.py computes a ratio per round from them).
  PER_ROUND = {}

  # Puma (Debian's package), one worker thread: the server Rack users deploy; its own
  # cost per request is a fraction of WEBrick's, so the layer's share is not lost in
  # the server's noise.
  # Prints the port (and, for "middleware" and "cors", the session's id and key: those
  # servers have no account methods to log in through).
  def serve(kind)
    require "puma"
    require "puma/server"
    session = nil
    app = case kind
          when "bare" then Bare.new
          when "middleware", "cors"
            manager, session = bench_session
            middleware_app(manager, cors: kind == "cors")
          else TotoRackExample.app(TotoRackExample.manager({}), {})
          end
    server = Puma::Server.new(app, Puma::Events.null, min_threads: 1, max_threads: 1)
    server.add_tcp_listener("127.0.0.1", 0) # TCP_NODELAY set by Puma
    thread = server.run
    trap("TERM") { Thread.new { server.stop(true) } }
    puts [server.connected_ports.first, session&.id, session&.key].compact.join(" ")
    $stdout.flush
    thread.join
  end

  # [io, port, session id, key] (id and key for "middleware" and "cors" only).
  def spawn_server(kind)
    io = IO.popen([RbConfig.ruby, "-I", File.join(__dir__, "lib"), __FILE__, "--serve", kind], "r")
    port, id, key = io.gets.split
    [io, Integer(port), id, key]
  end

  BODY = '{"method":"state.get","parameters":{"key":"k"}}'

  # Logs in through the example service's account.create, stores the state and
  # answers signed_get's headers.
  def toto_request(http)
    create = JSON.generate("method" => "account.create", "parameters" => { "user_id" => "bench", "password" => "pw" })
    login = JSON.parse(http.post("/", create, "content-type" => "application/json").body)["result"]
    sid = login["session_id"]
    key = login["key"]
    set = JSON.generate("method" => "state.set", "parameters" => { "key" => "k", "value" => "v" * 32 })
    http.post("/", set, "content-type" => "application/json", "x-toto-session-id" => sid,
                        "x-toto-hmac" => TotoSession.hmac(key, "POST/#{set}"))
    signed_get(http, sid, key)
  end

  # The headers of a signed state.get on session `sid`, checked once (the answer and
  # its signature).
  def signed_get(http, sid, key)
    headers = { "content-type" => "application/json", "x-toto-session-id" => sid,
                "x-toto-hmac" => TotoSession.hmac(key, "POST/#{BODY}") }
    res = http.post("/", BODY, headers)
    raise "no result: #{res.body}" unless JSON.parse(res.body)["result"] == { "value" => "v" * 32 }
    raise "bad response signature" unless TotoSession.verify(key, res["x-toto-hmac"], sid + res.body)

    headers
  end

  # CPU time (seconds) the process `pid` has run, summed over its live threads (the
  # Linux scheduler's own count, in ns; Puma's threads, one worker here, live as long
  # as the server).
  def cpu(pid)
    Dir["/proc/#{pid}/task/*/schedstat"].sum { |f| File.read(f).split[0].to_i rescue 0 } / 1e9
  end

  # [wall seconds, server CPU seconds] spent on `n` requests.
  def round(http, headers, n, pid)
    c = cpu(pid)
    t = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    n.times { http.post("/", BODY, headers) }
    [Process.clock_gettime(Process::CLOCK_MONOTONIC) - t, cpu(pid) - c]
  end

  # One round: `n` requests to each side in chunks of CHUNK, every side's server
  # processes taking turns in a new random order each turn, so all see the same moments
  # of a shared machine and none is always first after another; [side => [wall, cpu] per
  # request], each side's figure over all its processes.
  CHUNK = 100

  def interleaved_round(servers, n)
    sums = KINDS.to_h { |k| [k, [0.0, 0.0, 0]] }
    turns = servers.flat_map { |k, list| list.map { |server| [k, server] } }
    [n / (CHUNK * PROCESSES), 1].max.times do
      turns.shuffle.each do |k, server|
        wall, cpu = round(server[:http], server[:headers], CHUNK, server[:pid])
        sum = sums[k]
        sum[0] += wall
        sum[1] += cpu
        sum[2] += CHUNK
      end
    end
    sums.transform_values { |(wall, cpu, count)| [wall / count, cpu / count] }
  end

  def median(values)
    s = values.sort
    s[s.size / 2]
  end

  def us(seconds) = format("%.1f", seconds * 1e6)

  # Server processes per side: two processes of the same code differ by several us per
  # request (where their heaps and code happen to lie), as much as the layer's own
  # changes; each side's figure is over PROCESSES of them so that no one process decides
  # a ratio. TOTO_BENCH_RACK_PROCESSES overrides.
  PROCESSES = Integer(ENV["TOTO_BENCH_RACK_PROCESSES"] || 3)

  def http_bench(n, rounds)
    servers = KINDS.to_h { |kind| [kind, []] }
    KINDS.each do |kind|
      PROCESSES.times do
        io, port, sid, key = spawn_server(kind)
        http = Net::HTTP.new("127.0.0.1", port).tap(&:start)
        headers = case kind
                  when "toto" then toto_request(http)
                  when "middleware", "cors" then signed_get(http, sid, key)
                  else { "content-type" => "application/json" }
                  end
        servers[kind] << { io: io, pid: io.pid, http: http, headers: headers }
      end
    end
    interleaved_round(servers, n / 2) # warm up
    times = KINDS.to_h { |k| [k, []] }
    cpus = KINDS.to_h { |k| [k, []] }
    rounds.times do
      interleaved_round(servers, n).each do |k, (wall, cpu)|
        times[k] << wall
        cpus[k] << cpu
      end
    end
    PER_ROUND["http_wall"] = times
    PER_ROUND["http_server_cpu"] = cpus
    [times.transform_values { |v| median(v) }, cpus.transform_values { |v| median(v) }]
  ensure
    # Also when a server or a check failed: no server outlives the bench.
    (servers || {}).each_value do |list|
      list.each do |server|
        server[:http]&.finish
        Process.kill("TERM", server[:pid])
        server[:io].close
      rescue SystemCallError, IOError
        nil
      end
    end
  end

  def env_for(headers)
    Rack::MockRequest.env_for("/", { method: "POST", input: BODY }.merge(headers))
  end

  # CPU seconds per call of `app` over `n` requests. The envs are built (not measured)
  # in batches of BATCH, as a server has a few requests in flight: holding all `n`
  # alive would make every GC mark thousands of young envs, a cost of the harness
  # that grows with each allocation the app makes.
  BATCH = 50

  def in_process_round(app, headers, n)
    spent = 0.0
    (n / BATCH).times do
      envs = Array.new(BATCH) { env_for(headers) }
      t = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
      envs.each do |env|
        _, _, b = app.call(env)
        b.each { |_| nil }
      end
      spent += Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID) - t
    end
    spent / (n / BATCH * BATCH)
  end

  def in_process_bench(n, rounds)
    manager, session = bench_session
    toto = TotoRackExample.app(manager, {})
    toto_headers = { "CONTENT_TYPE" => "application/json", "HTTP_X_TOTO_SESSION_ID" => session.id,
                     "HTTP_X_TOTO_HMAC" => TotoSession.hmac(session.key, "POST/#{BODY}") }
    apps = { "toto" => [toto, toto_headers], "middleware" => [middleware_app(manager), toto_headers],
             "cors" => [middleware_app(manager, cors: true), toto_headers],
             "bare" => [Bare.new, { "CONTENT_TYPE" => "application/json" }] }
    apps.each do |k, (app, headers)|
      _, _, body = app.call(env_for(headers))
      raise "in-process call of #{k} failed: #{body.join}" unless JSON.parse(body.join)["result"]
    end

    times = KINDS.to_h { |k| [k, []] }
    (rounds + 1).times do |r|
      apps.each do |k, (app, headers)|
        times[k] << in_process_round(app, headers, n) if r.positive?
      end
    end
    PER_ROUND["in_process_cpu"] = times
    times.transform_values { |v| median(v) }
  end

  def main(argv)
    return serve(argv[1]) if argv[0] == "--serve"

    json = argv.delete("--json")
    quick = ENV["TOTO_BENCH_QUICK"]
    n = Integer(argv[0] || (quick ? 500 : 2000))
    rounds = Integer(argv[1] || (quick ? 3 : 7))
    wall, server = http_bench(n, rounds)
    local = in_process_bench(n, rounds)
    puts "signed state.get, median of #{rounds} rounds x #{n} requests (µs per request); " \
         "load average #{File.read('/proc/loadavg').split[0, 3].join(' ')}"
    puts format("%-40s %10s %10s %10s %10s %10s %10s %10s", "", "toto", "middleware", "cors", "bare", "layer",
                "+cors", "+methods")
    [["HTTP round trip (Puma, keep-alive)", wall], ["HTTP, server CPU time", server],
     ["in process (app.call), CPU time", local]].each do |label, t|
      puts format("%-40s %10s %10s %10s %10s %10s %10s %10s", label, us(t["toto"]), us(t["middleware"]),
                  us(t["cors"]), us(t["bare"]), us(t["middleware"] - t["bare"]), us(t["cors"] - t["bare"]),
                  us(t["toto"] - t["bare"]))
    end
    return unless json

    ns = ->(t) { t.transform_values { |v| (v * 1e9).round } }
    per_round = PER_ROUND.transform_values { |t| t.transform_values { |v| v.map { |x| (x * 1e9).round } } }
    puts JSON.generate("requests" => n, "rounds" => rounds, "http_wall" => ns.call(wall),
                       "http_server_cpu" => ns.call(server), "in_process_cpu" => ns.call(local),
                       "per_round" => per_round)
  end
end

BenchRack.main(ARGV) if $PROGRAM_NAME == __FILE__
