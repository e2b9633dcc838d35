# frozen_string_literal: true

# Ruby binding of toto-session, the session and account layer of the Toto API
# framework, over its C ABI (libtoto_session.so) through the ffi gem.
#
#   require "toto_session"
#   manager = TotoSession::Manager.new
#   session = manager.create_session
#   session[:cart] = { "items" => [1, 2] }
#   manager.save_session(session)
#
# The shared library is found through ENV["TOTO_SESSION_LIB"] or the repository's
# target/release/libtoto_session.so (see TotoSession::Native).
require_relative "toto_session/version"
require_relative "toto_session/native"
require_relative "toto_session/errors"
require_relative "toto_session/handle"
require_relative "toto_session/callbacks"
require_relative "toto_session/values"
require_relative "toto_session/signing"
require_relative "toto_session/session"
require_relative "toto_session/account"
require_relative "toto_session/cache"
require_relative "toto_session/client_cache"
require_relative "toto_session/account_store"
require_relative "toto_session/manager"

module TotoSession
  class << self
    # The loaded library's version (e.g. "0.1.0").
    def library_version
      Native.toto_version.dup.force_encoding(Encoding::UTF_8)
    end

    # base64(HMAC-SHA1(key, message)), Toto's `hmac`.
    def hmac(key, message) = Signing.hmac(key, message)

    # Toto's `verify(mac, message)` with an explicit key, in constant time.
    def verify(key, mac, message) = Signing.verify(key, mac, message)

    # A fresh random session id / key (22 url-safe characters).
    def generate_id = Signing.generate_id

    # The library's fixed English message for a result code.
    def result_message(code) = Error.summary_for(code)
  end

  # 0.x: the ABI may change with the minor version, so both must match.
  unless library_version.split(".")[0, 2] == VERSION.split(".")[0, 2]
    raise LoadError, "toto_session: the gem is #{VERSION} but #{Native.library_path} is " \
                     "#{library_version}; rebuild the library or use the matching gem"
  end
end
