# frozen_string_literal: true

require "ffi"

module TotoSession
  # The raw C ABI of libtoto_session (include/toto_session.h), one attach_function per
  # exported function. Nothing here is idiomatic: the classes around it (Session,
  # Manager, ...) are the API. Texts and bytes go in as `:buffer_in` + length (a Ruby
  # String's bytes, NULs included); outputs go through caller memory (see Scratch).
  #
  # Calls that can reach a backend (cache, account store) or hash a password are
  # attached with `blocking: true`: the GVL is released while Rust works, so other Ruby
  # threads run meanwhile; a Ruby backend's callbacks re-acquire the GVL (ffi does it).
  module Native
    extend FFI::Library

    # Where the shared library is looked for, in order:
    #   1. ENV["TOTO_SESSION_LIB"], a path, when set (then nothing else is tried);
    #   2. ffi's normal search (dlopen: LD_LIBRARY_PATH, the ldconfig cache, /lib,
    #      /usr/lib) for "toto_session" (libtoto_session.so), then for the soname
    #      libtoto_session.so.<major> (a runtime-only install has no unversioned link);
    #   3. the libdir of the installed pkg-config module toto_session
    #      (`pkg-config --variable=libdir toto_session`, honouring PKG_CONFIG_PATH), for
    #      a prefix the dynamic loader does not search.
    # The LoadError raised when all fail names every attempt and why it failed.
    SONAME = "libtoto_session.so.#{TotoSession::VERSION.split(".").first}"

    def self.library_candidates
      env = ENV["TOTO_SESSION_LIB"]
      return [[env, "ENV[\"TOTO_SESSION_LIB\"]"]] if env && !env.empty?

      found = [["toto_session", "ffi's search for libtoto_session.so"], [SONAME, "ffi's search for the soname"]]
      libdir = pkg_config_libdir
      found << [File.join(libdir, SONAME), "pkg-config's libdir"] if libdir
      found
    end

    def self.pkg_config_libdir
      out = IO.popen(%w[pkg-config --variable=libdir toto_session], err: File::NULL, &:read)
      dir = out.to_s.strip
      $?.success? && !dir.empty? ? dir : nil
    rescue SystemCallError
      nil
    end

    def self.load_library
      tried = []
      library_candidates.each do |name, how|
        ffi_lib name
        return name
      rescue LoadError => e
        tried << "#{name} (#{how}): #{e.message.lines.first.to_s.strip}"
      end
      env = ENV["TOTO_SESSION_LIB"]
      if (env.nil? || env.empty?) && pkg_config_libdir.nil?
        tried << "pkg-config toto_session (not found: set PKG_CONFIG_PATH to PREFIX/lib/pkgconfig)"
      end
      raise LoadError, "toto_session: could not load libtoto_session. Tried:\n  " + tried.join("\n  ") +
                       "\nInstall the library (`make install` in the toto-session repository, then " \
                       "`ldconfig` for a system prefix), or set LD_LIBRARY_PATH or TOTO_SESSION_LIB."
    end

    LIBRARY = load_library

    # The library that was loaded: the path or name ffi opened.
    def self.library_path = LIBRARY

    # ---- constants (the header's #defines) -----------------------------------------

    ERROR_MESSAGE_CAPACITY = 256
    MAC_BUFFER_LEN = 29
    ID_BUFFER_LEN = 23
    GENERATED_PASSWORD_BUFFER_LEN = 11
    STORE_CREATE_NEW = 1
    STORE_IF_REVISION = 2
    STORE_IF_EXISTS = 4
    CACHE_VTABLE_VERSION = 3
    ACCOUNT_STORE_VTABLE_VERSION = 1
    MANAGER_OPTIONS_VERSION = 4
    SAVE_DETECT_CONFLICTS = 0
    SAVE_LAST_WRITER_WINS = 1
    REDIS_OPTIONS_VERSION = 3
    REDIS_ACCOUNT_STORE_OPTIONS_VERSION = 1
    MAX_LOAD_NAMES = 4096
    MAX_SESSION_ID_LEN = 4000
    MAX_USER_ID_LEN = 256
    MAX_KEY_LEN = 256
    MAX_NAME_LEN = 1024
    MAX_RECORD_LEN = 1_048_576
    MAX_MESSAGE_LEN = 67_108_864
    MAX_DEPTH = 64
    MAX_SESSION_OBJECT_JSON_LEN = 9601
    MAX_PASSWORD_LEN = 4096
    MAX_REDIS_TEXT_LEN = 4096
    CLIENT_KEY_LEN = 32
    MAX_CLIENT_KEYS = 256
    MAX_CLIENT_RECORD_LEN = 2959

    # toto_value_type
    VALUE_TYPES = %i[null bool integer float text bytes array map].freeze

    # ---- structs --------------------------------------------------------------------

    # struct toto_error: the details of a failure (written only when a call fails).
    class Error < FFI::Struct
      layout :code, :uint32,
             :message, [:char, ERROR_MESSAGE_CAPACITY]
    end

    # struct toto_bytes: a library-owned buffer, released with toto_bytes_free.
    class Bytes < FFI::Struct
      layout :data, :pointer,
             :len, :size_t
    end

    # struct toto_scalar: a value's type and, for a scalar, the value itself (written by
    # toto_session_get_scalar). The binding reads it through a raw MemoryPointer at the
    # offsets below (FFI::Struct#[] costs about as much as the call itself).
    class Scalar < FFI::Struct
      layout :value_type, :uint32,
             :boolean, :bool,
             :integer_fits, :bool,
             :integer, :int64,
             :number, :double,
             :data, :pointer,
             :len, :size_t

      TYPE = offset_of(:value_type)
      BOOLEAN = offset_of(:boolean)
      INTEGER_FITS = offset_of(:integer_fits)
      INTEGER = offset_of(:integer)
      NUMBER = offset_of(:number)
      DATA = offset_of(:data)
      LEN = offset_of(:len)
      SIZE = size
    end

    # struct toto_str: a borrowed text in an array.
    class Str < FFI::Struct
      layout :ptr, :pointer,
             :len, :size_t
    end

    # struct toto_property: a name and one CBOR item, valid during a store callback.
    class Property < FFI::Struct
      layout :name, :pointer,
             :name_len, :size_t,
             :value, :pointer,
             :value_len, :size_t
    end

    # Callback signatures (the vtables' function pointer types).
    callback :clock_fn, [:pointer], :double
    callback :free_user_data_fn, [:pointer], :void
    callback :cache_store_fn, %i[pointer pointer size_t pointer size_t double pointer size_t uint32 pointer], :uint32
    callback :cache_load_fn, %i[pointer pointer size_t pointer], :uint32
    callback :cache_remove_fn, %i[pointer pointer size_t pointer], :uint32
    callback :cache_remove_user_fn, %i[pointer pointer size_t pointer pointer], :uint32
    callback :cache_load_renew_fn, %i[pointer pointer size_t double double pointer], :uint32
    callback :cache_store_if_fn, %i[pointer pointer size_t pointer size_t double pointer size_t uint32 uint64 uint64 pointer], :uint32
    callback :store_load_fn, %i[pointer pointer size_t pointer size_t pointer], :uint32
    callback :store_write_fn, %i[pointer pointer size_t pointer size_t pointer], :uint32
    callback :store_remove_fn, %i[pointer pointer size_t pointer], :uint32

    # struct toto_cache_vtable. Function fields are plain pointers: the FFI::Function
    # objects behind them are kept alive by Callbacks (constants) for the process.
    class CacheVtable < FFI::Struct
      layout :version, :uint32,
             :user_data, :pointer,
             :store, :pointer,
             :load, :pointer,
             :remove, :pointer,
             :remove_user, :pointer,
             :free_user_data, :pointer,
             :load_renew, :pointer,
             # Version 3. NULL here: the library checks revisions itself (load, compare,
             # store, under a per-id lock in this process).
             :store_if, :pointer
    end

    # struct toto_account_store_vtable.
    class AccountStoreVtable < FFI::Struct
      layout :version, :uint32,
             :user_data, :pointer,
             :load, :pointer,
             :save, :pointer,
             :create, :pointer,
             :remove, :pointer,
             :free_user_data, :pointer
    end

    # struct toto_manager_options.
    class ManagerOptions < FFI::Struct
      layout :version, :uint32,
             :session_ttl, :double,
             :anon_session_ttl, :double,
             :session_renew, :double,
             :anon_session_renew, :double,
             :password_memory_kib, :uint32,
             :password_iterations, :uint32,
             :password_parallelism, :uint32,
             :clock, :pointer,
             :clock_data, :pointer,
             :save_policy, :uint32,
             :max_sessions_per_user, :uint32,
             :renew_granularity, :double
    end

    # struct toto_redis_options.
    class RedisOptions < FFI::Struct
      layout :version, :uint32,
             :key_prefix, :pointer,
             :key_prefix_len, :size_t,
             :connect_timeout_ms, :uint32,
             :io_timeout_ms, :uint32,
             :pool_size, :uint32,
             :hash_ids, :bool,
             :down_backoff_ms, :uint32,
             :toto_read, :bool,
             :toto_keep_key, :bool,
             :toto_write, :bool
    end

    # struct toto_redis_account_store_options.
    class RedisAccountStoreOptions < FFI::Struct
      layout :version, :uint32,
             :key_prefix, :pointer,
             :key_prefix_len, :size_t,
             :connect_timeout_ms, :uint32,
             :io_timeout_ms, :uint32,
             :pool_size, :uint32
    end

    # struct toto_client_key.
    class ClientKey < FFI::Struct
      layout :id, :uint32,
             :key, [:uint8, 32]
    end

    B = { blocking: true }.freeze

    # A session handle (toto_session*) goes in as its address, an Integer: ffi converts
    # that with one NUM2ULONG, where a Pointer argument costs a class-hierarchy check per
    # call. A new session handle comes out through `session_out`: the address where the
    # library writes the toto_session*, the inside of a SessionPointer made before the
    # call (see SessionPointer), so no handle exists that nothing owns.
    typedef :uintptr_t, :session_handle
    typedef :uintptr_t, :session_out

    # ---- version, results, ids, signing ---------------------------------------------

    attach_function :toto_version, [], :string
    attach_function :toto_version_ptr, :toto_version, [], :pointer
    attach_function :toto_result_message, [:uint32], :string
    attach_function :toto_generate_id, %i[pointer size_t], :uint32
    attach_function :toto_hmac, %i[buffer_in size_t buffer_in size_t pointer size_t], :uint32
    attach_function :toto_verify, %i[buffer_in size_t buffer_in size_t buffer_in size_t], :uint32
    attach_function :toto_bytes_free, [:pointer], :void
    # a value's CBOR item <-> tagged JSON (Values.to_cbor / from_cbor)
    attach_function :toto_value_cbor_to_tagged_json, %i[buffer_in size_t pointer pointer], :uint32
    attach_function :toto_value_tagged_json_to_cbor, %i[buffer_in size_t pointer pointer], :uint32

    # ---- sessions ---------------------------------------------------------------------

    attach_function :toto_session_new, %i[buffer_in size_t double session_out], :uint32
    attach_function :toto_session_new_with_id, %i[buffer_in size_t buffer_in size_t double session_out], :uint32
    attach_function :toto_session_free, [:session_handle], :void
    attach_function :toto_session_id, %i[session_handle pointer pointer], :uint32
    attach_function :toto_session_set_id, %i[session_handle buffer_in size_t], :uint32
    attach_function :toto_session_user_id, %i[session_handle pointer pointer], :uint32
    attach_function :toto_session_expires, %i[session_handle pointer], :uint32
    attach_function :toto_session_set_expires, %i[session_handle double], :uint32
    attach_function :toto_session_key, %i[session_handle pointer pointer], :uint32
    attach_function :toto_session_set_key, %i[session_handle buffer_in size_t], :uint32
    attach_function :toto_session_generate_key, %i[session_handle pointer pointer], :uint32
    attach_function :toto_session_is_dirty, %i[session_handle pointer], :uint32
    attach_function :toto_session_mark_clean, [:session_handle], :uint32
    attach_function :toto_session_export, %i[session_handle pointer pointer], :uint32
    attach_function :toto_session_import, %i[buffer_in size_t session_out pointer], :uint32
    attach_function :toto_session_hmac, %i[session_handle buffer_in size_t pointer size_t], :uint32
    attach_function :toto_session_verify, %i[session_handle buffer_in size_t buffer_in size_t], :uint32
    attach_function :toto_session_sign_request,
                    %i[session_handle buffer_in size_t buffer_in size_t buffer_in size_t pointer size_t], :uint32
    attach_function :toto_session_verify_request,
                    %i[session_handle buffer_in size_t buffer_in size_t buffer_in size_t buffer_in size_t], :uint32
    attach_function :toto_session_sign_response, %i[session_handle buffer_in size_t pointer size_t], :uint32
    attach_function :toto_session_object_json, %i[session_handle pointer size_t pointer], :uint32
    attach_function :toto_session_verify_response, %i[session_handle buffer_in size_t buffer_in size_t], :uint32

    # session state
    attach_function :toto_session_len, %i[session_handle pointer], :uint32
    attach_function :toto_session_key_at, %i[session_handle size_t pointer pointer], :uint32
    attach_function :toto_session_contains, %i[session_handle buffer_in size_t pointer], :uint32
    attach_function :toto_session_delete, %i[session_handle buffer_in size_t], :uint32
    attach_function :toto_session_clear, [:session_handle], :uint32
    attach_function :toto_session_get_type, %i[session_handle buffer_in size_t pointer], :uint32
    attach_function :toto_session_get_scalar, %i[session_handle buffer_in size_t pointer], :uint32
    attach_function :toto_session_get_bool, %i[session_handle buffer_in size_t pointer], :uint32
    attach_function :toto_session_get_i64, %i[session_handle buffer_in size_t pointer], :uint32
    attach_function :toto_session_get_f64, %i[session_handle buffer_in size_t pointer], :uint32
    attach_function :toto_session_get_text, %i[session_handle buffer_in size_t pointer pointer], :uint32
    attach_function :toto_session_get_bytes, %i[session_handle buffer_in size_t pointer pointer], :uint32
    attach_function :toto_session_get_cbor, %i[session_handle buffer_in size_t pointer pointer], :uint32
    attach_function :toto_session_get_json, %i[session_handle buffer_in size_t pointer pointer], :uint32
    attach_function :toto_session_get_json_into,
                    %i[session_handle buffer_in size_t pointer size_t pointer pointer], :uint32
    attach_function :toto_session_set_null, %i[session_handle buffer_in size_t], :uint32
    attach_function :toto_session_set_bool, %i[session_handle buffer_in size_t bool], :uint32
    attach_function :toto_session_set_i64, %i[session_handle buffer_in size_t int64], :uint32
    attach_function :toto_session_set_f64, %i[session_handle buffer_in size_t double], :uint32
    attach_function :toto_session_set_text, %i[session_handle buffer_in size_t buffer_in size_t], :uint32
    attach_function :toto_session_set_bytes, %i[session_handle buffer_in size_t buffer_in size_t], :uint32
    # The same with NUL-terminated keys (KeyCache::Z addresses; see Session#[]): one
    # argument fewer per call, and the value's type comes back as the return value.
    attach_function :toto_session_get_scalar_z, %i[session_handle uintptr_t pointer], :int64
    attach_function :toto_session_set_null_z, %i[session_handle uintptr_t], :uint32
    attach_function :toto_session_set_bool_z, %i[session_handle uintptr_t bool], :uint32
    attach_function :toto_session_set_i64_z, %i[session_handle uintptr_t int64], :uint32
    attach_function :toto_session_set_f64_z, %i[session_handle uintptr_t double], :uint32
    # `string`: ffi passes the String's own NUL-terminated bytes (ArgumentError when it
    # holds a NUL: Session#[]= then takes toto_session_set_text)
    attach_function :toto_session_set_text_z, %i[session_handle uintptr_t string], :uint32
    attach_function :toto_session_set_bytes_z, %i[session_handle uintptr_t buffer_in size_t], :uint32
    attach_function :toto_session_set_cbor, %i[session_handle buffer_in size_t buffer_in size_t pointer], :uint32
    attach_function :toto_session_set_json, %i[session_handle buffer_in size_t buffer_in size_t pointer], :uint32

    # ---- caches -----------------------------------------------------------------------

    attach_function :toto_cache_new_memory, [:pointer], :uint32
    attach_function :toto_cache_new_memory_compact, [:pointer], :uint32
    attach_function :toto_cache_new_memory_with_clock, %i[pointer pointer pointer], :uint32
    attach_function :toto_cache_new_vtable, %i[pointer pointer], :uint32
    attach_function :toto_redis_options_default, [:pointer], :uint32
    attach_function :toto_cache_new_redis, %i[buffer_in size_t pointer pointer pointer], :uint32
    attach_function :toto_cache_new_client_side, %i[pointer size_t pointer pointer pointer pointer], :uint32
    attach_function :toto_cache_free, [:pointer], :void
    attach_function :toto_cache_store,
                    %i[pointer buffer_in size_t buffer_in size_t double buffer_in size_t uint32 pointer pointer],
                    :uint32, B
    attach_function :toto_cache_load, %i[pointer buffer_in size_t pointer pointer], :uint32, B
    attach_function :toto_cache_remove, %i[pointer buffer_in size_t pointer], :uint32, B
    attach_function :toto_cache_remove_user, %i[pointer buffer_in size_t pointer pointer], :uint32, B
    attach_function :toto_cache_store_session, %i[pointer session_handle pointer], :uint32, B
    attach_function :toto_cache_load_session, %i[pointer buffer_in size_t session_out pointer], :uint32, B

    # callback context (only from inside a backend callback, which holds the GVL)
    attach_function :toto_callback_set_result, %i[pointer buffer_in size_t], :uint32
    attach_function :toto_callback_add_property, %i[pointer buffer_in size_t buffer_in size_t], :uint32
    attach_function :toto_callback_set_expires, %i[pointer double], :uint32
    attach_function :toto_callback_set_error, %i[pointer buffer_in size_t], :uint32

    # ---- account stores and accounts ------------------------------------------------

    attach_function :toto_account_store_new_memory, [:pointer], :uint32
    attach_function :toto_redis_account_store_options_default, [:pointer], :uint32
    attach_function :toto_account_store_new_redis, %i[buffer_in size_t pointer pointer pointer], :uint32
    attach_function :toto_account_store_new_vtable, %i[pointer pointer], :uint32
    attach_function :toto_account_store_free, [:pointer], :void
    attach_function :toto_account_store_create, %i[pointer buffer_in size_t pointer], :uint32, B
    attach_function :toto_account_store_remove, %i[pointer buffer_in size_t pointer], :uint32, B

    attach_function :toto_account_new, %i[pointer buffer_in size_t pointer], :uint32
    attach_function :toto_account_free, [:pointer], :void
    attach_function :toto_account_user_id, %i[pointer pointer pointer], :uint32
    attach_function :toto_account_load, %i[pointer pointer size_t pointer], :uint32, B
    attach_function :toto_account_load_all, %i[pointer pointer], :uint32, B
    attach_function :toto_account_save, %i[pointer pointer], :uint32, B
    attach_function :toto_account_is_modified, %i[pointer buffer_in size_t pointer], :uint32
    attach_function :toto_account_modified_count, %i[pointer pointer], :uint32
    # getters may load the property from the store
    attach_function :toto_account_get_type, %i[pointer buffer_in size_t pointer pointer], :uint32, B
    attach_function :toto_account_get_bool, %i[pointer buffer_in size_t pointer pointer], :uint32, B
    attach_function :toto_account_get_i64, %i[pointer buffer_in size_t pointer pointer], :uint32, B
    attach_function :toto_account_get_f64, %i[pointer buffer_in size_t pointer pointer], :uint32, B
    attach_function :toto_account_get_text, %i[pointer buffer_in size_t pointer pointer pointer], :uint32, B
    attach_function :toto_account_get_bytes, %i[pointer buffer_in size_t pointer pointer pointer], :uint32, B
    attach_function :toto_account_get_cbor, %i[pointer buffer_in size_t pointer pointer], :uint32, B
    attach_function :toto_account_get_json, %i[pointer buffer_in size_t pointer pointer], :uint32, B
    attach_function :toto_account_set_null, %i[pointer buffer_in size_t], :uint32
    attach_function :toto_account_set_bool, %i[pointer buffer_in size_t bool], :uint32
    attach_function :toto_account_set_i64, %i[pointer buffer_in size_t int64], :uint32
    attach_function :toto_account_set_f64, %i[pointer buffer_in size_t double], :uint32
    attach_function :toto_account_set_text, %i[pointer buffer_in size_t buffer_in size_t], :uint32
    attach_function :toto_account_set_bytes, %i[pointer buffer_in size_t buffer_in size_t], :uint32
    attach_function :toto_account_set_cbor, %i[pointer buffer_in size_t buffer_in size_t pointer], :uint32
    attach_function :toto_account_set_json, %i[pointer buffer_in size_t buffer_in size_t pointer], :uint32
    attach_function :toto_account_set_password_hash, %i[pointer buffer_in size_t], :uint32

    # ---- manager ----------------------------------------------------------------------

    attach_function :toto_manager_options_default, [:pointer], :uint32
    # toto_manager_new computes a decoy password hash: blocking.
    attach_function :toto_manager_new, %i[pointer pointer pointer pointer pointer], :uint32, B
    attach_function :toto_manager_free, [:pointer], :void
    attach_function :toto_manager_create_session, %i[pointer buffer_in size_t bool session_out pointer], :uint32, B
    attach_function :toto_manager_retrieve_session, %i[pointer buffer_in size_t session_out pointer], :uint32, B
    # The same, holding the GVL: for a manager over the built-in memory cache (no I/O,
    # no Ruby code), where releasing and re-taking the GVL costs more than the call.
    attach_function :toto_manager_retrieve_session_gvl, :toto_manager_retrieve_session,
                    %i[pointer buffer_in size_t session_out pointer], :uint32
    attach_function :toto_manager_save_session, %i[pointer session_handle pointer], :uint32, B
    attach_function :toto_manager_refresh_session, %i[pointer session_handle pointer], :uint32, B
    attach_function :toto_manager_rotate_session, %i[pointer session_handle pointer], :uint32, B
    attach_function :toto_manager_remove_session, %i[pointer buffer_in size_t pointer], :uint32, B
    attach_function :toto_manager_clear_sessions, %i[pointer buffer_in size_t pointer pointer], :uint32, B
    attach_function :toto_manager_create_account,
                    %i[pointer buffer_in size_t buffer_in size_t buffer_in size_t pointer], :uint32, B
    attach_function :toto_manager_login, %i[pointer buffer_in size_t buffer_in size_t session_out pointer], :uint32, B
    attach_function :toto_manager_change_password,
                    %i[pointer buffer_in size_t buffer_in size_t buffer_in size_t session_handle pointer], :uint32, B
    attach_function :toto_manager_generate_password, %i[pointer buffer_in size_t pointer size_t pointer], :uint32, B
    attach_function :toto_manager_account, %i[pointer buffer_in size_t pointer], :uint32
    attach_function :toto_manager_session_account, %i[pointer session_handle pointer], :uint32
    attach_function :toto_manager_verify_request,
                    %i[pointer buffer_in size_t buffer_in size_t buffer_in size_t buffer_in size_t
                       buffer_in size_t session_out pointer], :uint32, B
    # The same, holding the GVL (memory cache, short body): see retrieve_session_gvl.
    attach_function :toto_manager_verify_request_gvl, :toto_manager_verify_request,
                    %i[pointer buffer_in size_t buffer_in size_t buffer_in size_t buffer_in size_t
                       buffer_in size_t session_out pointer], :uint32
    attach_function :toto_manager_finish_response,
                    %i[pointer session_handle buffer_in size_t pointer size_t pointer], :uint32, B
    attach_function :toto_manager_finish_response_gvl, :toto_manager_finish_response,
                    %i[pointer session_handle buffer_in size_t pointer size_t pointer], :uint32
  end
end
