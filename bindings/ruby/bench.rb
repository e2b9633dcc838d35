# frozen_string_literal: true

# Per-call cost of the Ruby binding, next to a bare ffi call. Not part of `make test`.
#   ruby -Ilib bench.rb            (TOTO_SESSION_LIB or the repository's target/release)
#   ITERATIONS=500000 ruby -Ilib bench.rb
$LOAD_PATH.unshift(File.expand_path("lib", __dir__))
require "toto_session"

ITERATIONS = Integer(ENV.fetch("ITERATIONS", ENV["TOTO_BENCH_QUICK"] ? 20_000 : 200_000))

def now = Process.clock_gettime(Process::CLOCK_MONOTONIC)

# Best of 3 runs of `n` iterations, in ns per iteration (loop overhead subtracted).
def measure(n = ITERATIONS)
  (n / 10).times { yield } # warm up
  best = Float::INFINITY
  3.times do
    t0 = now
    i = 0
    while i < n
      yield
      i += 1
    end
    best = [best, now - t0].min
  end
  best * 1e9 / n
end

EMPTY = measure { nil }
ROWS = [] # [name, ns], printed at the end (the bare call first)

def report(name, n = ITERATIONS, &block)
  ns = measure(n, &block) - EMPTY
  ROWS << [name, ns]
  ns
end

def bare_call = measure { TotoSession::Native.toto_version_ptr } - EMPTY

puts "toto_session #{TotoSession::VERSION}, ruby #{RUBY_VERSION}, ffi #{FFI::VERSION}, #{ITERATIONS} iterations"
puts "library: #{TotoSession::Native.library_path}"
puts

# The floor is measured before and after the typed get/set rows and the lower figure
# kept, so one slow measurement (a GC, a frequency change) cannot flatter the ratios.
first_base = bare_call
report("TotoSession.library_version (string)") { TotoSession.library_version }

session = TotoSession::Session.new("bench", expires: 4_000_000_000)
session.generate_key
session[:n] = 1
session[:s] = "hello"
session[:h] = { "items" => [1, 2, 3] }
session[:f] = 1.5
session[:b] = true
BIN = ("\x00\x01".b * 8).freeze
session[:bin] = BIN
# The typed get/set (bench/run.py checks the "session[:n] = 42 (int64)" and
# "session[:n] (int64)" rows against 2x the bare call): one library call each.
report("session[:n] = 42 (int64)") { session[:n] = 42 }
report("session[:n] (int64)") { session[:n] }
base = [first_base, bare_call].min
report("session[:s] = \"hello\" (text)") { session[:s] = "hello" }
report("session[:s] (text)") { session[:s] }
report("session[:h] = {...} (JSON)", ITERATIONS / 4) { session[:h] = { "items" => [1, 2, 3] } }
report("session[:h] (JSON)", ITERATIONS / 4) { session[:h] }
report("session.key?(:n)") { session.key?(:n) }
report("session.id") { session.id }
report("session[:f] = 1.5 (float)") { session[:f] = 1.5 }
report("session[:f] (float)") { session[:f] }
report("session[:b] = true (bool)") { session[:b] = true }
report("session[:b] (bool)") { session[:b] }
report("session[:bin] (bytes, 16 B)") { session[:bin] }
report("session[:missing] (nil)") { session[:missing] }
report("session.fetch(:n) (int64)") { session.fetch(:n) }
report("session[\"n\"] (int64, String key)") { session["n"] }
report("session[:bin] = 16 B (bytes)") { session[:bin] = BIN }
report("session[:z] = nil (null)") { session[:z] = nil }

# Each accessor's bare-ffi peer: the same library call straight through Native, with
# its arguments made beforehand and its output left unread (what the wrapper adds is
# the row above minus this one).
sp = session.to_ptr
kz = ->(k) { TotoSession::KeyCache::Z[k] || TotoSession::KeyCache.z(k) }
nz, sz, fz, bz, binz, zz, missz = kz[:n], kz[:s], kz[:f], kz[:b], kz[:bin], kz[:z], kz[:missing]
out = FFI::MemoryPointer.new(:uint8, TotoSession::Native::Scalar.size)
native = TotoSession::Native
report("raw ffi: toto_session_set_i64_z (int64)") { native.toto_session_set_i64_z(sp, nz, 42) }
report("raw ffi: toto_session_get_scalar_z (int64)") { native.toto_session_get_scalar_z(sp, nz, out) }
report("raw ffi: toto_session_set_text_z (text)") { native.toto_session_set_text_z(sp, sz, "hello") }
report("raw ffi: toto_session_get_scalar_z (text)") { native.toto_session_get_scalar_z(sp, sz, out) }
report("raw ffi: toto_session_set_f64_z (float)") { native.toto_session_set_f64_z(sp, fz, 1.5) }
report("raw ffi: toto_session_get_scalar_z (float)") { native.toto_session_get_scalar_z(sp, fz, out) }
report("raw ffi: toto_session_set_bool_z (bool)") { native.toto_session_set_bool_z(sp, bz, true) }
report("raw ffi: toto_session_get_scalar_z (bool)") { native.toto_session_get_scalar_z(sp, bz, out) }
report("raw ffi: toto_session_set_bytes_z (bytes)") { native.toto_session_set_bytes_z(sp, binz, BIN, BIN.bytesize) }
report("raw ffi: toto_session_get_scalar_z (bytes)") { native.toto_session_get_scalar_z(sp, binz, out) }
report("raw ffi: toto_session_set_null_z (null)") { native.toto_session_set_null_z(sp, zz) }
report("raw ffi: toto_session_get_scalar_z (missing)") { native.toto_session_get_scalar_z(sp, missz, out) }

mac = session.sign_request("GET", "/bench?x=1", "")
report("session.sign_request") { session.sign_request("GET", "/bench?x=1", "") }
report("session.verify_request") { session.verify_request(mac, "GET", "/bench?x=1", "") }
report("session.sign_response (64 B body)") { session.sign_response("x" * 64) }

manager = TotoSession::Manager.new(password_cost: { memory_kib: 64, iterations: 1, parallelism: 1 })
managed = manager.create_session("bench", key: true)
managed[:n] = 1
manager.save_session(managed)
managed_mac = managed.sign_request("GET", "/bench", "")
id = managed.id
report("manager.retrieve_session(id) + close", ITERATIONS / 4) { manager.retrieve_session(id).close }
report("manager.retrieve_session(id) (GC frees)", ITERATIONS / 4) { manager.retrieve_session(id) }
report("manager.retrieve_session(id), one read, close", ITERATIONS / 4) do
  r = manager.retrieve_session(id)
  r[:n]
  r.close
end
report("manager.verify_request?(id, mac, ...)", ITERATIONS / 4) { manager.verify_request?(id, managed_mac, "GET", "/bench") }
report("manager.verify_request(...) + close", ITERATIONS / 4) { manager.verify_request(id, managed_mac, "GET", "/bench").close }
report("manager.verify_request(...) { }", ITERATIONS / 4) { manager.verify_request(id, managed_mac, "GET", "/bench") { nil } }

ruby_manager = TotoSession::Manager.new(cache: TotoSession::Cache::HashBackend.new,
                                        password_cost: { memory_kib: 64, iterations: 1, parallelism: 1 })
rid = ruby_manager.create_session("bench").id
report("retrieve_session + close, Ruby HashBackend cache", ITERATIONS / 10) { ruby_manager.retrieve_session(rid).close }
printf("%-46s %9.0f ns/op\n", "bare ffi call: toto_version (pointer)", base)
ROWS.each { |name, ns| printf("%-46s %9.0f ns/op\n", name, ns) }
puts
printf("(a bare ffi call costs %.0f ns here; the figures above include it)\n", base)
