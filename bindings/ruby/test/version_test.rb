# frozen_string_literal: true

require_relative "test_helper"

class VersionTest < Minitest::Test
  def cargo_version
    File.read(File.join(ROOT, "Cargo.toml"))[/^version\s*=\s*"([^"]+)"/, 1]
  end

  def test_gem_version_is_the_crates
    assert_equal cargo_version, TotoSession::VERSION
    spec = Gem::Specification.load(File.join(RUBY_DIR, "toto_session.gemspec"))
    assert_equal Gem::Version.new(cargo_version), spec.version
  end

  def test_library_and_header_versions_match
    assert_equal TotoSession::VERSION, TotoSession.library_version
    assert_equal TotoSession.library_version, TotoSession::Native.toto_version
    header = File.read(header_path)
    assert_equal TotoSession::VERSION, header[/#define TOTO_SESSION_VERSION "([^"]+)"/, 1]
  end

  def test_every_header_function_is_attached_and_wrapped
    functions = NativeCallCounter.header_functions(header_path)
    assert_operator functions.size, :>=, 100
    attached = TotoSession::Native.singleton_methods.map(&:to_s)
    assert_empty functions - attached, "functions of the header without attach_function"
    sources = Dir[File.join(RUBY_DIR, "lib", "**", "*.rb")].map { |f| File.read(f) }.join
    unused = functions.reject { |f| sources.include?("Native.#{f}") || sources.include?("Native.public_send(:#{f}") || sources.include?(":#{f}") }
    assert_empty unused, "attached functions no wrapper calls"
  end

  def test_header_constants_match_the_bindings
    header = File.read(header_path)
    {
      "TOTO_ERROR_MESSAGE_CAPACITY" => TotoSession::Native::ERROR_MESSAGE_CAPACITY,
      "TOTO_MAC_BUFFER_LEN" => TotoSession::Native::MAC_BUFFER_LEN,
      "TOTO_ID_BUFFER_LEN" => TotoSession::Native::ID_BUFFER_LEN,
      "TOTO_GENERATED_PASSWORD_BUFFER_LEN" => TotoSession::Native::GENERATED_PASSWORD_BUFFER_LEN,
      "TOTO_STORE_CREATE_NEW" => TotoSession::Native::STORE_CREATE_NEW,
      "TOTO_STORE_IF_REVISION" => TotoSession::Native::STORE_IF_REVISION,
      "TOTO_STORE_IF_EXISTS" => TotoSession::Native::STORE_IF_EXISTS,
      "TOTO_SAVE_DETECT_CONFLICTS" => TotoSession::Native::SAVE_DETECT_CONFLICTS,
      "TOTO_SAVE_LAST_WRITER_WINS" => TotoSession::Native::SAVE_LAST_WRITER_WINS,
      "TOTO_CACHE_VTABLE_VERSION" => TotoSession::Native::CACHE_VTABLE_VERSION,
      "TOTO_ACCOUNT_STORE_VTABLE_VERSION" => TotoSession::Native::ACCOUNT_STORE_VTABLE_VERSION,
      "TOTO_MANAGER_OPTIONS_VERSION" => TotoSession::Native::MANAGER_OPTIONS_VERSION,
      "TOTO_REDIS_OPTIONS_VERSION" => TotoSession::Native::REDIS_OPTIONS_VERSION,
      "TOTO_REDIS_ACCOUNT_STORE_OPTIONS_VERSION" => TotoSession::Native::REDIS_ACCOUNT_STORE_OPTIONS_VERSION,
      "TOTO_MAX_LOAD_NAMES" => TotoSession::Native::MAX_LOAD_NAMES,
      "TOTO_MAX_NAME_LEN" => TotoSession::Native::MAX_NAME_LEN,
      "TOTO_MAX_RECORD_LEN" => TotoSession::Native::MAX_RECORD_LEN,
      "TOTO_MAX_DEPTH" => TotoSession::Native::MAX_DEPTH,
      "TOTO_MAX_SESSION_OBJECT_JSON_LEN" => TotoSession::Native::MAX_SESSION_OBJECT_JSON_LEN,
      "TOTO_MAX_SESSION_ID_LEN" => TotoSession::Native::MAX_SESSION_ID_LEN,
      "TOTO_CLIENT_KEY_LEN" => TotoSession::Native::CLIENT_KEY_LEN,
      "TOTO_MAX_CLIENT_KEYS" => TotoSession::Native::MAX_CLIENT_KEYS,
      "TOTO_MAX_CLIENT_RECORD_LEN" => TotoSession::Native::MAX_CLIENT_RECORD_LEN
    }.each do |name, value|
      assert_equal value, header[/#define #{name} (\d+)/, 1].to_i, name
    end
    assert_operator TotoSession::Scratch::BUF_LEN, :>=, TotoSession::Native::MAC_BUFFER_LEN
  end

  def test_struct_layouts_match_c
    # x86_64 / aarch64 LP64 sizes of the header's structs.
    assert_equal 260, TotoSession::Native::Error.size
    assert_equal 16, TotoSession::Native::Bytes.size
    assert_equal 16, TotoSession::Native::Str.size
    assert_equal 32, TotoSession::Native::Property.size
    assert_equal 72, TotoSession::Native::CacheVtable.size
    assert_equal 56, TotoSession::Native::AccountStoreVtable.size
    assert_equal 88, TotoSession::Native::ManagerOptions.size
    assert_equal 80, TotoSession::Native::ManagerOptions.offset_of(:renew_granularity)
    assert_equal 72, TotoSession::Native::ManagerOptions.offset_of(:save_policy)
    assert_equal 48, TotoSession::Native::RedisOptions.size
    assert_equal 40, TotoSession::Native::RedisOptions.offset_of(:down_backoff_ms)
    assert_equal 44, TotoSession::Native::RedisOptions.offset_of(:toto_read)
    assert_equal 40, TotoSession::Native::RedisAccountStoreOptions.size
    assert_equal 8, TotoSession::Native::ManagerOptions.offset_of(:session_ttl)
    assert_equal 56, TotoSession::Native::ManagerOptions.offset_of(:clock)
  end

  def test_missing_library_is_a_clear_load_error
    code = 'begin; require "toto_session"; rescue LoadError => e; puts e.message; exit 3; end'
    out, _err, status = run_ruby(code, env: { "TOTO_SESSION_LIB" => "/nonexistent/libtoto_session.so" })
    assert_equal 3, status.exitstatus
    assert_includes out, "TOTO_SESSION_LIB"
    assert_includes out, "/nonexistent/libtoto_session.so"

    # Unset: every place of ffi's search and pkg-config is named.
    out, _err, status = run_ruby(code, env: { "TOTO_SESSION_LIB" => nil, "PKG_CONFIG_PATH" => "/nonexistent",
                                              "PKG_CONFIG_LIBDIR" => "/nonexistent", "LD_LIBRARY_PATH" => nil })
    assert_equal 3, status.exitstatus
    assert_includes out, "toto_session (ffi's search for libtoto_session.so)"
    assert_includes out, "libtoto_session.so.#{TotoSession::VERSION.split(".").first}"
    assert_includes out, "pkg-config toto_session (not found"
  end

  def test_library_found_through_env
    out, err, status = run_ruby('require "toto_session"; puts TotoSession::Native::LIBRARY',
                                env: { "TOTO_SESSION_LIB" => TotoSession::Native::LIBRARY })
    assert status.success?, err
    assert_equal TotoSession::Native::LIBRARY, out.strip
  end

  def test_library_found_through_pkg_config_and_ld_library_path
    stage = ENV.fetch("TOTO_SESSION_STAGE")
    code = 'require "toto_session"; puts TotoSession::Native::LIBRARY; puts TotoSession::Native.toto_version'
    out, err, status = run_ruby(code, env: { "TOTO_SESSION_LIB" => nil, "LD_LIBRARY_PATH" => nil,
                                             "PKG_CONFIG_PATH" => File.join(stage, "lib", "pkgconfig") })
    assert status.success?, err
    assert_equal File.join(stage, "lib", "libtoto_session.so.#{TotoSession::VERSION.split(".").first}"), out.lines.first.strip
    assert_equal TotoSession::VERSION, out.lines.last.strip

    out, err, status = run_ruby(code, env: { "TOTO_SESSION_LIB" => nil, "PKG_CONFIG_PATH" => "/nonexistent",
                                             "LD_LIBRARY_PATH" => File.join(stage, "lib") })
    assert status.success?, err
    assert_equal "toto_session", out.lines.first.strip
  end
end
