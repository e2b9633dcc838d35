# frozen_string_literal: true

module TotoSession
  # The session lifecycle around a cache and an account store (Toto's DBConnection):
  # TTLs and renewal, accounts, login with Argon2id passwords (legacy $p5k2$ hashes
  # verified and upgraded), logout, request verification.
  #
  #   manager = TotoSession::Manager.new(ttl: 30 * 86_400, anon_ttl: 3600)
  #   manager.create_account("alice", "s3cret", email: "alice@example.com")
  #   session = manager.login("alice", "s3cret")      # has a fresh HMAC key
  #   manager.with_session(session.id) { |s| s[:visits] = (s[:visits] || 0) + 1 }
  #
  # Thread safety: a Manager is shared by any number of threads. Calls that reach the
  # cache or store, or hash a password, release the GVL while the library works. The
  # sessions and accounts it returns are each used by one thread at a time.
  class Manager
    include Handle

    PASSWORD_COST_KEYS = %i[memory_kib iterations parallelism].freeze

    SAVE_POLICIES = {
      detect_conflicts: Native::SAVE_DETECT_CONFLICTS,
      last_writer_wins: Native::SAVE_LAST_WRITER_WINS
    }.freeze

    # How many times #update_session tries by default.
    UPDATE_ATTEMPTS = 16

    attr_reader :cache, :account_store

    # cache / account_store: a Cache / AccountStore, or a Ruby backend object for one
    # (default: the built-in memory ones). ttl: lifetime of a user session in seconds
    # (default 365 days); anon_ttl: of an anonymous one (default 1 day; 0 = ttl);
    # renew / anon_renew: renewal windows (0 = the TTL: expiry slides to now + TTL on
    # every retrieve). password_cost: Argon2id {memory_kib:, iterations:,
    # parallelism:} for new hashes (default OWASP's 19456 KiB, 2, 1). clock: a callable
    # returning Unix seconds (default: the wall clock). save_policy: :detect_conflicts
    # (the default: a save over another request's newer save raises Conflict; see
    # #update_session) or :last_writer_wins (Toto's behaviour). Either way a removed
    # session is never saved back (SessionRevoked). max_sessions_per_user: a login
    # beyond it first removes that user's sessions that expire soonest (default nil: no
    # cap, as Toto; needs the memory or Redis cache, else a user's login raises
    # Unsupported). renew_granularity: how far an expiry may lag its renewal target
    # before a retrieve moves it (and writes), a fraction 0..1 of the window (default
    # 0.01: a retrieve is usually a pure read; 0 renews on every retrieve, as Toto).
    def initialize(cache: nil, account_store: nil, ttl: nil, anon_ttl: nil, renew: nil, anon_renew: nil,
                   password_cost: nil, clock: nil, save_policy: :detect_conflicts, max_sessions_per_user: nil,
                   renew_granularity: nil)
      @cache = cache.nil? ? Cache.memory : Cache.from(cache)
      @account_store = account_store.nil? ? AccountStore.memory : AccountStore.from(account_store)
      opts = Native::ManagerOptions.new
      code = Native.toto_manager_options_default(opts)
      Errors.raise_for(code) unless code.zero?
      opts[:session_ttl] = Float(ttl) unless ttl.nil?
      opts[:anon_session_ttl] = Float(anon_ttl) unless anon_ttl.nil?
      opts[:session_renew] = Float(renew) unless renew.nil?
      opts[:anon_session_renew] = Float(anon_renew) unless anon_renew.nil?
      opts[:save_policy] = SAVE_POLICIES.fetch(save_policy) do
        raise ArgumentError, "save_policy must be one of #{SAVE_POLICIES.keys.inspect}"
      end
      opts[:max_sessions_per_user] = Integer(max_sessions_per_user) unless max_sessions_per_user.nil?
      opts[:renew_granularity] = Float(renew_granularity) unless renew_granularity.nil?
      if password_cost
        unknown = password_cost.keys - PASSWORD_COST_KEYS
        raise ArgumentError, "unknown password_cost keys: #{unknown.inspect}" unless unknown.empty?

        PASSWORD_COST_KEYS.each do |k|
          opts[:"password_#{k}"] = Integer(password_cost[k]) if password_cost.key?(k)
        end
      end
      if clock
        @clock = Callbacks.clock_function(clock) # referenced for the manager's lifetime
        opts[:clock] = @clock
      end
      @shield = @cache.ruby_backed? || @account_store.ruby_backed? || !@clock.nil?
      # retrieve_session on the built-in memory cache holds the GVL (see Cache#in_process?)
      @gvl = @cache.in_process? && !@shield
      s = Scratch.current
      code = Callbacks.shielded(@shield) do
        Native.toto_manager_new(@cache.to_ptr, @account_store.to_ptr, opts, s.ptr, s.err)
      end
      Errors.raise_for(code, s) unless code.zero?
      adopt(ManagerPointer, s.out_pointer)
    end

    # Whether this manager can run Ruby code (a Ruby cache, store or clock).
    def ruby_backed?
      @shield
    end

    # ---- sessions -------------------------------------------------------------------

    # Creates and stores a session for `user_id` ("" = anonymous, with the anonymous
    # TTL); `key: true` gives it a fresh HMAC key. With a block: yields it, saves it if
    # it changed (when the block returns normally) and closes it.
    def create_session(user_id = "", key: false, &block)
      uid = Values.text(String(user_id))
      session = call_session { |p, out, s| Native.toto_manager_create_session(p, uid, uid.bytesize, key ? true : false, out, s.err) }
      scoped_saving(session, &block)
    end

    # Toto's retrieve_session: the live session `id`, renewed; nil when it is unknown,
    # expired or malformed (Toto's 1007). With a block: as #with_session, but a missing
    # session gives nil without calling the block.
    def retrieve_session(id, &block)
      session = retrieve(id, true)
      return nil if session.nil?

      scoped_saving(session, &block)
    end

    # As retrieve_session, raising InvalidSessionId (1007) instead of returning nil.
    def retrieve_session!(id, &block)
      scoped_saving(retrieve(id, false), &block)
    end

    # Yields the live session `id` (InvalidSessionId when there is none), saves it if
    # the block changed it and returned normally, and closes it. Returns the block's
    # value.
    def with_session(id, &block)
      raise ArgumentError, "with_session needs a block" unless block

      retrieve_session!(id, &block)
    end

    # Writes the session if it changed (a no-op otherwise). A session retrieved from
    # the cache is saved only over its stored record: SessionRevoked when that is gone
    # (logout, rotation, clear_sessions, a password change, expiry; nothing is brought
    # back), and with the default save_policy Conflict when another request saved it
    # since it was loaded (nothing written; #update_session retries).
    def save_session(session)
      sp = session.to_ptr
      call_plain { |p, s| Native.toto_manager_save_session(p, sp, s.err) }
      session
    end

    # Retrieves session `id`, yields it, saves it; when the save raises Conflict
    # (another request saved the session in between) does it all again with fresh state,
    # up to `attempts` times in all. The block may run more than once and should only
    # change the session; an exception from it ends the loop (nothing saved). Returns
    # the block's last value. Raises InvalidSessionId (missing or expired),
    # SessionRevoked (removed meanwhile) or Conflict (after the last attempt).
    #
    #   manager.update_session(id) { |s| s[:visits] = (s[:visits] || 0) + 1 }
    def update_session(id, attempts: UPDATE_ATTEMPTS)
      raise ArgumentError, "update_session needs a block" unless block_given?

      left = [Integer(attempts), 1].max
      loop do
        session = retrieve(id, false)
        begin
          result = yield session
          save_session(session)
          return result
        rescue Conflict
          left -= 1
          raise if left.zero?
        ensure
          session.close
        end
      end
    end

    # Replaces the session's contents with what the cache holds now.
    def refresh_session(session)
      sp = session.to_ptr
      call_plain { |p, s| Native.toto_manager_refresh_session(p, sp, s.err) }
      session
    end
    alias refresh refresh_session

    # Moves the session to a fresh id (session-fixation protection); returns it.
    def rotate_session(session)
      sp = session.to_ptr
      call_plain { |p, s| Native.toto_manager_rotate_session(p, sp, s.err) }
      session
    end
    alias rotate rotate_session

    # Logout: removes the session (a Session or an id); a missing one is fine.
    def remove_session(session_or_id)
      id = session_or_id.is_a?(Session) ? session_or_id.id : String(session_or_id)
      call_plain { |p, s| Native.toto_manager_remove_session(p, id, id.bytesize, s.err) }
      nil
    end
    alias logout remove_session

    # Log out everywhere: removes every session of `user_id`; returns how many.
    def clear_sessions(user_id)
      uid = Values.text(String(user_id))
      call_plain { |p, s| Native.toto_manager_clear_sessions(p, uid, uid.bytesize, s.val, s.err) }
      Scratch.current.u64
    end

    # ---- accounts -------------------------------------------------------------------

    # Toto's create_account: stores the account with a hash of `password` and the
    # given properties (e.g. email: "a@example.com"; "password" is reserved).
    # Raises InvalidUserId (1010), UserIdExists (1006).
    def create_account(user_id, password, **values)
      uid = Values.text(String(user_id))
      pw = Values.text(String(password))
      json = values.empty? ? nil : Values.json(values)
      call_plain do |p, s|
        Native.toto_manager_create_account(p, uid, uid.bytesize, pw, pw.bytesize, json, json ? json.bytesize : 0, s.err)
      end
      nil
    end

    # Toto's login: checks the password and creates a session with a fresh HMAC key
    # (send the client its id, expires and key). Raises InvalidCredentials (1005). With
    # a block: yields the session, saves it if changed and closes it.
    def login(user_id, password, &block)
      uid = Values.text(String(user_id))
      pw = Values.text(String(password))
      session = call_session { |p, out, s| Native.toto_manager_login(p, uid, uid.bytesize, pw, pw.bytesize, out, s.err) }
      scoped_saving(session, &block)
    end

    # Toto's change_password. Every session of the user is removed; `current` (a
    # Session of that user), when given, survives under a fresh id (read current.id).
    def change_password(user_id, old_password, new_password, current: nil)
      uid = Values.text(String(user_id))
      old = Values.text(String(old_password))
      new = Values.text(String(new_password))
      cur = current ? current.to_ptr : 0
      call_plain do |p, s|
        Native.toto_manager_change_password(p, uid, uid.bytesize, old, old.bytesize, new, new.bytesize, cur, s.err)
      end
      nil
    end

    # Toto's generate_password: sets and returns a random 10-character password and
    # removes every session of the user.
    def generate_password(user_id)
      uid = Values.text(String(user_id))
      call_plain do |p, s|
        Native.toto_manager_generate_password(p, uid, uid.bytesize, s.buf, Scratch::BUF_LEN, s.err)
      end
      Scratch.current.buf_string
    end

    # An Account for `user_id` (nothing loaded yet); with a block, yields it and closes
    # it afterwards.
    def account(user_id, &block)
      uid = Values.text(String(user_id))
      s = Scratch.current
      code = Native.toto_manager_account(to_ptr, uid, uid.bytesize, s.ptr)
      Errors.raise_for(code) unless code.zero?
      Account.scoped(Account.wrap(s.out_pointer, shield: @account_store.ruby_backed?), &block)
    end

    # The account of a session's user (Toto's get_account); NotAuthorized (1004) for an
    # anonymous session. With a block, yields it and closes it afterwards.
    def session_account(session, &block)
      s = Scratch.current
      code = Native.toto_manager_session_account(to_ptr, session.to_ptr, s.ptr)
      Errors.raise_for(code) unless code.zero?
      Account.scoped(Account.wrap(s.out_pointer, shield: @account_store.ruby_backed?), &block)
    end

    # ---- requests -------------------------------------------------------------------

    # Checks a Toto request in one call: session `session_id` (x-toto-session-id),
    # `mac` (x-toto-hmac) over METHOD + URI + BODY; renews the session only when the
    # mac is right. Returns the session (sign the response with it); with a block,
    # yields it, saves it if changed and closes it. Raises InvalidSessionId (1007) or
    # InvalidHMAC (1008).
    def verify_request(session_id, mac, method, uri, body = "", &block)
      body = body.nil? ? "" : String(body)
      session = verify_strings(String(session_id), String(mac), String(method), String(uri), body)
      block ? scoped_saving(session, &block) : session
    end

    # @api private: verify_request for five Strings (what an HTTP layer has), the
    # session returned. The hot path of an HTTP layer: written out as #retrieve is (no
    # block per call).
    def verify_strings(sid, mac, method, uri, body)
      p = @ptr || to_ptr
      s = Scratch.current
      owner = SessionPointer.fresh
      code = if @gvl && body.bytesize <= GVL_BODY_LIMIT
               Native.toto_manager_verify_request_gvl(p, sid, sid.bytesize, mac, mac.bytesize, method, method.bytesize,
                                                      uri, uri.bytesize, body, body.bytesize, owner.out, s.err)
             else
               Callbacks.shielded(@shield) do
                 Native.toto_manager_verify_request(p, sid, sid.bytesize, mac, mac.bytesize, method, method.bytesize,
                                                    uri, uri.bytesize, body, body.bytesize, owner.out, s.err)
               end
             end
      code == 0 ? Session.adopt(owner) : Session.failed(code, s)
    end

    # The end of a request in one call: saves `session` if it changed (as
    # #save_session), then answers the response x-toto-hmac for `body` (as
    # Session#sign_response), or nil when the session has no key. When the save raises,
    # nothing is signed.
    def finish_response(session, body)
      body = String(body)
      sp = session.to_ptr
      p = @ptr || to_ptr
      s = Scratch.current
      code = if @gvl && body.bytesize <= GVL_BODY_LIMIT
               Native.toto_manager_finish_response_gvl(p, sp, body, body.bytesize, s.buf, Scratch::BUF_LEN, s.err)
             else
               Callbacks.shielded(@shield) do
                 Native.toto_manager_finish_response(p, sp, body, body.bytesize, s.buf, Scratch::BUF_LEN, s.err)
               end
             end
      Errors.raise_for(code, s) unless code.zero?
      mac = s.buf_string
      mac.empty? ? nil : mac
    end

    # As verify_request, without making a session handle: true, or raises.
    def verify_request?(session_id, mac, method, uri, body = "")
      sid = String(session_id)
      mac = String(mac)
      method = String(method)
      uri = String(uri)
      body = body.nil? ? "" : String(body)
      call_plain do |p, s|
        Native.toto_manager_verify_request(p, sid, sid.bytesize, mac, mac.bytesize, method, method.bytesize,
                                           uri, uri.bytesize, body, body.bytesize, 0, s.err)
      end
      true
    end

    def inspect
      "#<#{self.class.name} cache=#{@cache.inspect} account_store=#{@account_store.inspect}" \
        "#{closed? ? ' (closed)' : ''}>"
    end

    private

    # verify_request holds the GVL (as retrieve_session does on the memory cache) for
    # bodies up to this many bytes, where the whole call (retrieve + HMAC of 64 KiB at
    # most) is tens of microseconds and releasing and re-taking the GVL costs a fair
    # part of a short call; longer bodies release it, so other threads run meanwhile.
    GVL_BODY_LIMIT = 65_536

    # The hot path of retrieve_session: one library call, the handle written into its
    # owner (SessionPointer) by the call itself, so an interrupt arriving as the call
    # returns cannot leak it and nothing needs deferring (with built-in backends).
    def retrieve(id, missing_is_nil)
      id = String(id)
      p = @ptr || to_ptr
      s = Scratch.current
      owner = SessionPointer.fresh
      code = if @gvl
               Native.toto_manager_retrieve_session_gvl(p, id, id.bytesize, owner.out, s.err)
             else
               Callbacks.shielded(@shield) { Native.toto_manager_retrieve_session(p, id, id.bytesize, owner.out, s.err) }
             end
      return Session.adopt(owner) if code == 0

      SessionPointer.unfilled
      return nil if code == 1007 && missing_is_nil

      Errors.raise_for(code, s)
    end

    # Runs a call that writes a session handle (yielded the manager, the out address
    # and the scratch); returns the Session. The call writes the handle into its owner
    # (SessionPointer), so an interrupt arriving as the call returns cannot leak it;
    # Ruby backends' callbacks are shielded as in every call.
    def call_session
      p = to_ptr
      s = Scratch.current
      owner = SessionPointer.fresh
      code = Callbacks.shielded(@shield) { yield(p, owner.out, s) }
      return Session.adopt(owner) if code.zero?

      Session.failed(code, s)
    end

    def call_plain
      p = to_ptr
      s = Scratch.current
      Callbacks.shielded(@shield) do
        code = yield(p, s)
        Errors.raise_for(code, s) unless code.zero?
      end
      nil
    end

    # Without a block: the session. With one: yields, saves if dirty after a normal
    # return, always closes; returns the block's value.
    def scoped_saving(session)
      return session unless block_given?

      begin
        result = yield session
        save_session(session) if !session.closed? && session.dirty?
        result
      ensure
        session.close
      end
    end
  end
end
