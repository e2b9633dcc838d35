# frozen_string_literal: true

require "minitest/autorun"
require "json"
require "rbconfig"
require "toto_session"

ROOT = File.expand_path("../../..", __dir__)
RUBY_DIR = File.expand_path("..", __dir__)

# Argon2id costs small enough for tests (the library's minimum-ish).
FAST_COST = { memory_kib: 64, iterations: 1, parallelism: 1 }.freeze

# A settable clock for TTL tests; thread-safe.
class ManualClock
  def initialize(now = 1_000_000.0)
    @now = now
    @mutex = Mutex.new
  end

  def call
    @mutex.synchronize { @now }
  end

  def advance(seconds)
    @mutex.synchronize { @now += seconds }
  end
end

module TotoTestHelpers
  def fast_manager(**opts)
    TotoSession::Manager.new(password_cost: FAST_COST, **opts)
  end

  def header_path
    stage = ENV["TOTO_SESSION_STAGE"]
    staged = stage && File.join(stage, "include", "toto_session.h")
    staged && File.file?(staged) ? staged : File.join(ROOT, "include", "toto_session.h")
  end

  # Runs Ruby code in a child process with this binding on the load path; returns
  # [stdout, stderr, status].
  def run_ruby(code, *args, env: {})
    require "open3"
    Open3.capture3(env, RbConfig.ruby, "-I", File.join(RUBY_DIR, "lib"), "-e", code, *args)
  end

  def vectors
    @vectors ||= JSON.parse(File.read(File.join(ROOT, "tests", "vectors", "toto-wire.json")))
  end
end

Minitest::Test.include(TotoTestHelpers)

# Every C function of the header must be reached by the suite: calls through Native
# are counted, and the run fails after its summary when one was never called.
module NativeCallCounter
  CALLS = Hash.new(0)

  def self.install
    names = TotoSession::Native.singleton_methods.grep(/\Atoto_/)
    counter = Module.new do
      names.each do |name|
        c_name = name.to_s.delete_suffix("_ptr").delete_suffix("_gvl").to_sym
        define_method(name) do |*args|
          CALLS[c_name] += 1
          super(*args)
        end
      end
    end
    TotoSession::Native.singleton_class.prepend(counter)
  end

  def self.header_functions(path)
    File.read(path).scan(/^(?!\s*\*)[a-z_ ]*?\**\s*(toto_[a-z0-9_]+)\(/).flatten.uniq.sort
  end
end
NativeCallCounter.install

Minitest.after_run do
  header = File.join(ENV["TOTO_SESSION_STAGE"] || ROOT, "include", "toto_session.h")
  header = File.join(ROOT, "include", "toto_session.h") unless File.file?(header)
  # toto_session_free is called from C, not through Native: it is the free function of
  # every SessionPointer (Fiddle calls it on close and at collection), so a released
  # session means it ran.
  NativeCallCounter::CALLS[:toto_session_free] += 1 if TotoSession::SessionPointer.release_count.positive?
  # Functions reached only by the library itself, never by a binding, are listed here.
  missing = NativeCallCounter.header_functions(header) - NativeCallCounter::CALLS.keys.map(&:to_s)
  next if ENV["TOTO_SESSION_PARTIAL_RUN"]

  total = NativeCallCounter.header_functions(header).size
  puts "C functions of the header called by the suite: #{total - missing.size}/#{total}"
  unless missing.empty?
    warn "C functions never called by the Ruby tests: #{missing.join(', ')}"
    exit 1
  end
end
