# frozen_string_literal: true

module TotoSession
  # The gem's version: always the Rust crate's (Cargo.toml `version`); a test checks it,
  # and loading refuses a shared library of another major.minor.
  VERSION = "0.1.0"
end
