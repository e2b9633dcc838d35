# frozen_string_literal: true

require_relative "lib/toto_session/version"

Gem::Specification.new do |spec|
  spec.name = "toto_session"
  # Always the Rust crate's version (test/version_test.rb checks it against Cargo.toml).
  spec.version = TotoSession::VERSION
  spec.summary = "Ruby binding of toto-session: Toto sessions, HMAC signing and accounts over its C ABI"
  spec.description = "Sessions with a typed state map, Toto's request/response HMAC signing, lazily " \
                     "loaded accounts, pluggable caches and account stores (Ruby ones included) " \
                     "and the login lifecycle, from the toto-session Rust library through ffi."
  spec.authors = ["toto-session developers"]
  spec.license = "MIT"
  spec.homepage = "https://github.com/toto-session/toto-session"
  spec.required_ruby_version = ">= 3.1"
  spec.files = Dir.chdir(__dir__) do
    Dir["lib/**/*.rb"] + Dir["examples/*.{rb,ru}"] + ["README.md", "toto_session.gemspec"]
  end
  # The native library is not in the gem: install it first (`make install` at the
  # repository root); lib/toto_session/native.rb says how it is found.
  spec.requirements << "libtoto_session.so.#{TotoSession::VERSION.split(".").first} (make install in the toto-session repository)"
  spec.require_paths = ["lib"]
  spec.add_dependency "ffi", ">= 1.15", "< 2"
  # Ruby's own (a default gem since 2.7, bundled from 3.4): a session handle's owner is a
  # Fiddle::Pointer whose C free function is toto_session_free (no Ruby finalizer per
  # session); call_free and freed? came with 1.1.
  spec.add_dependency "fiddle", ">= 1.1"
  spec.add_development_dependency "minitest", "~> 5.15"
  spec.metadata["homepage_uri"] = spec.homepage
  spec.metadata["source_code_uri"] = "#{spec.homepage}/tree/main/bindings/ruby"
  spec.metadata["bug_tracker_uri"] = "#{spec.homepage}/issues"
  spec.metadata["documentation_uri"] = "#{spec.homepage}/blob/main/docs/ruby.md"
  spec.metadata["rubygems_mfa_required"] = "true"
end
