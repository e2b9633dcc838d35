/*
 * demo.c: the whole Toto flow from C, end to end.
 *
 * A manager (Toto's DBConnection) over
 *   - an account store on a SQLite file (sqlite_store.c, written through
 *     toto_account_store_vtable; every database call it makes is printed as a
 *     "[sqlite]" line, so you can see when properties are loaded and saved), and
 *   - the built-in memory session cache, or Redis when TOTO_REDIS_URL is set.
 * With TOTO_ACCOUNTS=redis (and TOTO_REDIS_URL) the accounts live in Redis instead, in
 * Python Toto's layout (hashes under account:<user_id>: toto_account_store_new_redis),
 * and the cache also reads Toto's own session:<id> pickles (toto_read).
 *
 * Account creation, login, signed requests (x-toto-session-id + x-toto-hmac),
 * a tampered request, session state, response signatures, account properties,
 * password change, logout and an anonymous session.
 *
 *   make demo                          (runs build/demo build/demo.sqlite3)
 *   scripts/with-redis.sh make demo    (the same over a private redis-server)
 *   TOTO_ACCOUNTS=redis scripts/with-redis.sh make demo   (accounts in Redis too)
 *   build/demo FILE.sqlite3            (or TOTO_DEMO_DB=FILE.sqlite3 build/demo)
 *
 * It can run any number of times on the same database: step 4 removes the account a
 * previous run left. Every call's toto_result is checked: an unexpected one stops the
 * demo with the code, its fixed message (toto_result_message) and the details in the
 * caller-owned toto_error. Every handle and buffer is released (valgrind-clean).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <toto_session.h>

#include "sqlite_store.h"

/* ---- small helpers --------------------------------------------------------------- */

static int step_no = 0;

static void step(const char *title) {
  printf("\n[%d] %s\n", ++step_no, title);
  fflush(stdout); /* the store's [sqlite] lines go to stdout too */
}

/* Stops the demo when `rc` is not TOTO_RESULT_OK. `err` may be NULL for functions that
 * take no toto_error argument. */
static void check(toto_result rc, const toto_error *err, const char *what) {
  if (rc == TOTO_RESULT_OK) {
    return;
  }
  fflush(stdout);
  fprintf(stderr, "\nFAILED: %s\n  code %u: %s\n", what, (unsigned)rc,
          toto_result_message(rc));
  if (err != NULL && err->message[0] != '\0') {
    fprintf(stderr, "  details: %s\n", err->message);
  }
  exit(1);
}

/* For a call that must fail: stops the demo when it did something else. */
static void expect_code(toto_result rc, toto_result expected, const char *what) {
  if (rc != expected) {
    fflush(stdout);
    fprintf(stderr, "\nFAILED: %s: expected code %u (%s), got %u (%s)\n", what,
            (unsigned)expected, toto_result_message(expected), (unsigned)rc,
            toto_result_message(rc));
    exit(1);
  }
}

/* Strings cross the API as pointer + length; these keep the calls short. */
#define S(literal) literal, sizeof(literal) - 1
#define B(literal) (const uint8_t *)literal, sizeof(literal) - 1

static const char *type_name(toto_value_type t) {
  switch (t) {
    case TOTO_VALUE_TYPE_NULL: return "null";
    case TOTO_VALUE_TYPE_BOOL: return "bool";
    case TOTO_VALUE_TYPE_INTEGER: return "integer";
    case TOTO_VALUE_TYPE_FLOAT: return "float";
    case TOTO_VALUE_TYPE_TEXT: return "text";
    case TOTO_VALUE_TYPE_BYTES: return "bytes";
    case TOTO_VALUE_TYPE_ARRAY: return "array";
    case TOTO_VALUE_TYPE_MAP: return "map";
    default: return "?";
  }
}

/* A session id as a NUL-terminated copy (toto_session_id is a view into the session,
 * invalid once the id changes). */
typedef struct {
  char s[TOTO_MAX_SESSION_ID_LEN + 1];
  size_t len;
} id_buf;

static id_buf copy_id(const toto_session *session) {
  id_buf out;
  const char *view;
  check(toto_session_id(session, &view, &out.len), NULL, "toto_session_id");
  memcpy(out.s, view, out.len);
  out.s[out.len] = '\0';
  return out;
}

/* "2026-05-01 12:00:00 UTC" */
static const char *utc(double t, char buf[32]) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(buf, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

/* "in 365.0 days" relative to now */
static double days_from_now(double t) {
  return (t - (double)time(NULL)) / 86400.0;
}

/* Prints a URL with any password hidden (user:secret@host shown as ***@host). */
static void print_url(const char *url) {
  const char *scheme_end = strstr(url, "://");
  const char *at = strrchr(url, '@');
  if (scheme_end != NULL && at != NULL && at > scheme_end) {
    printf("%.*s***%s", (int)(scheme_end + 3 - url), url, at);
  } else {
    printf("%s", url);
  }
}

/* Shows how the account sits in the database file, read with a second, read-only
 * connection: one row per property, the value being the CBOR the library passed. */
static void show_rows(const char *path, const char *user_id) {
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  const char *sql =
      "SELECT name, length(value), hex(value) FROM properties WHERE user_id = ?1 "
      "ORDER BY name";
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
      sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC) != SQLITE_OK) {
    fprintf(stderr, "\nFAILED: reading %s: %s\n", path, sqlite3_errmsg(db));
    exit(1);
  }
  printf("    table properties, user_id = '%s' (value = CBOR blob):\n", user_id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(s, 0);
    int len = sqlite3_column_int(s, 1);
    const char *hex = (const char *)sqlite3_column_text(s, 2);
    if (strcmp(name, "password") == 0) {
      printf("      %-13s %3d bytes  (CBOR text: the Argon2id hash, not shown)\n", name, len);
    } else if (strlen(hex) > 48) {
      printf("      %-13s %3d bytes  %.48s...\n", name, len, hex);
    } else {
      printf("      %-13s %3d bytes  %s\n", name, len, hex);
    }
  }
  if (rc != SQLITE_DONE) {
    fprintf(stderr, "\nFAILED: reading %s: %s\n", path, sqlite3_errmsg(db));
    exit(1);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
}

/* ---- the walk-through ------------------------------------------------------------ */

int main(int argc, char **argv) {
  const char *db_path = argc > 1 ? argv[1] : getenv("TOTO_DEMO_DB");
  if (db_path == NULL || db_path[0] == '\0') {
    fprintf(stderr, "usage: %s DATABASE.sqlite3   (or set TOTO_DEMO_DB)\n", argv[0]);
    return 2;
  }
  const char *redis_url = getenv("TOTO_REDIS_URL");
  if (redis_url != NULL && redis_url[0] == '\0') {
    redis_url = NULL;
  }
  const char *accounts = getenv("TOTO_ACCOUNTS");
  bool redis_accounts = accounts != NULL && strcmp(accounts, "redis") == 0;
  if (redis_accounts && redis_url == NULL) {
    fprintf(stderr, "TOTO_ACCOUNTS=redis needs TOTO_REDIS_URL (scripts/with-redis.sh)\n");
    return 2;
  }

  /* The user, as typed at sign-up; Toto lowercases user ids. */
  static const char user_typed[] = "Alice@Example.com";
  static const char user[] = "alice@example.com";
  static const char password[] = "correct horse battery staple";
  static const char new_password[] = "Tr0ub4dor&3 is worse";

  toto_error err = {0};
  toto_result rc;
  char when[32];
  printf("toto-session %s, SQLite %s: the Toto flow end to end, from C\n", toto_version(),
         sqlite3_libversion());

  /* ------------------------------------------------------------------------------- */
  toto_account_store *store = NULL;
  if (redis_accounts) {
    step("Account store: Redis hashes in Python Toto's layout");
    check(toto_account_store_new_redis(redis_url, strlen(redis_url), NULL, &store, &err),
          &err, "toto_account_store_new_redis");
    printf("    toto_account_store_new_redis: one hash per account under "
           "account:<user_id>, password in the field \"password\"\n");
    printf("    accounts a Python Toto service made log in unchanged; their $p5k2$ hashes "
           "become Argon2id at login\n");
  } else {
    step("Account store: a SQLite file, through toto_account_store_vtable");
    bool existed = access(db_path, F_OK) == 0;
    check(sqlite_store_open(db_path, stdout, &store, &err), &err, "sqlite_store_open");
    printf("    %s: %s\n", db_path,
           existed ? "reopened (tables and data of earlier runs kept)"
                   : "created, tables accounts and properties made");
    printf("    load/save/create/remove are C callbacks; each runs in one SQLite "
           "transaction\n");
  }

  /* ------------------------------------------------------------------------------- */
  step("Session cache");
  toto_cache *cache = NULL;
  if (redis_url != NULL) {
    toto_redis_options ro;
    check(toto_redis_options_default(&ro), NULL, "toto_redis_options_default");
    ro.toto_read = redis_accounts; /* a Toto deployment's sessions are read too */
    check(toto_cache_new_redis(redis_url, strlen(redis_url), &ro, &cache, &err), &err,
          "toto_cache_new_redis");
    printf("    Redis (TOTO_REDIS_URL set): toto_cache_new_redis(\"");
    print_url(redis_url);
    printf("\")\n    sessions are keyed by SHA-256 of their id; Redis expires them\n");
    if (redis_accounts) {
      printf("    toto_read: a session id not found is looked up in Toto's session:<id> "
             "and moved over\n");
    }
  } else {
    check(toto_cache_new_memory(&cache), NULL, "toto_cache_new_memory");
    printf("    built-in memory cache: toto_cache_new_memory (set TOTO_REDIS_URL to use "
           "Redis)\n");
  }

  /* ------------------------------------------------------------------------------- */
  step("Manager over the cache and the store (Toto's DBConnection)");
  toto_manager_options opts;
  check(toto_manager_options_default(&opts), NULL, "toto_manager_options_default");
  toto_manager *manager = NULL;
  check(toto_manager_new(cache, store, &opts, &manager, &err), &err, "toto_manager_new");
  printf("    default options: user sessions %.0f days, anonymous %.0f day, renewed on "
         "every request\n", opts.session_ttl / 86400, opts.anon_session_ttl / 86400);
  printf("    passwords: Argon2id, %u KiB, %u passes, %u lane(s)\n", opts.password_memory_kib,
         opts.password_iterations, opts.password_parallelism);

  /* ------------------------------------------------------------------------------- */
  step("Start clean: remove what an earlier run left for this user");
  uint64_t removed = 0;
  check(toto_manager_clear_sessions(manager, S(user), &removed, &err), &err,
        "toto_manager_clear_sessions");
  printf("    toto_manager_clear_sessions(\"%s\") -> %llu session(s) removed\n", user,
         (unsigned long long)removed);
  rc = toto_account_store_remove(store, S(user), &err);
  if (rc == TOTO_RESULT_INVALID_CREDENTIALS) {
    printf("    toto_account_store_remove -> code %u: no account yet (first run on this "
           "file)\n", (unsigned)rc);
  } else {
    check(rc, &err, "toto_account_store_remove");
    printf("    toto_account_store_remove -> OK: the previous run's account is gone, so "
           "this run can create it again\n");
  }

  /* ------------------------------------------------------------------------------- */
  step("Create the account (Toto's create_account)");
  static const char values[] =
      "{\"email\":\"alice@example.com\",\"display_name\":\"Alice\",\"age\":31,"
      "\"newsletter\":false,\"address\":{\"city\":\"Oxford\",\"zip\":\"OX1 1AA\"}}";
  printf("    toto_manager_create_account(\"%s\", password, %s)\n", user_typed, values);
  fflush(stdout);
  check(toto_manager_create_account(manager, S(user_typed), S(password), S(values), &err),
        &err, "toto_manager_create_account");
  printf("    -> OK: user id lowercased to \"%s\"; the password is stored as an Argon2id "
         "hash in the property \"password\"\n", user);
  if (redis_accounts) {
    printf("    in Redis: the hash account:%s, one field per property (text as is, other "
           "values as NUL + CBOR; redis-cli HGETALL shows it)\n", user);
  } else {
    show_rows(db_path, user);
  }
  fflush(stdout);
  rc = toto_manager_create_account(manager, S(user), S("another"), NULL, 0, &err);
  expect_code(rc, TOTO_RESULT_USER_ID_EXISTS, "create_account of an existing user");
  printf("    the same user id again -> code %u \"%s\"\n", (unsigned)rc,
         toto_result_message(rc));

  /* ------------------------------------------------------------------------------- */
  step("Log in (Toto's login: check the password, new session with an HMAC key)");
  toto_session *login = NULL;
  fflush(stdout);
  rc = toto_manager_login(manager, S(user), S("wrong password"), &login, &err);
  expect_code(rc, TOTO_RESULT_INVALID_CREDENTIALS, "login with a wrong password");
  printf("    wrong password -> code %u \"%s\" (same answer as an unknown user)\n",
         (unsigned)rc, toto_result_message(rc));

  fflush(stdout);
  check(toto_manager_login(manager, S(user_typed), S(password), &login, &err), &err,
        "toto_manager_login");
  id_buf sid = copy_id(login);
  const char *view, *key_view;
  size_t view_len, key_len;
  double expires;
  check(toto_session_user_id(login, &view, &view_len), NULL, "toto_session_user_id");
  check(toto_session_expires(login, &expires), NULL, "toto_session_expires");
  check(toto_session_key(login, &key_view, &key_len), NULL, "toto_session_key");
  char key[TOTO_MAX_KEY_LEN + 1];
  memcpy(key, key_view, key_len);
  key[key_len] = '\0';
  printf("    right password -> the login response Toto sends (the only time the key "
         "travels):\n");
  printf("    {\"session_id\": \"%s\", \"expires\": %.3f, \"user_id\": \"%.*s\", "
         "\"key\": \"%s\"}\n", sid.s, expires, (int)view_len, view, key);
  printf("      session_id  %zu chars, random (CSPRNG)\n", sid.len);
  printf("      expires     %s, in %.1f days\n", utc(expires, when), days_from_now(expires));
  printf("      key         %zu chars: the client signs requests with it\n", key_len);
  toto_session_free(login); /* the server keeps nothing between requests */
  login = NULL;

  fflush(stdout);
  toto_session *phone = NULL;
  check(toto_manager_login(manager, S(user), S(password), &phone, &err), &err,
        "toto_manager_login (phone)");
  id_buf phone_sid = copy_id(phone);
  toto_session_free(phone);
  printf("    Alice also logs in on her phone -> a second session %s\n", phone_sid.s);

  /* The client side: a handle built from the login response alone. */
  toto_session *client = NULL;
  check(toto_session_new_with_id(sid.s, sid.len, S(user), expires, &client), NULL,
        "toto_session_new_with_id");
  check(toto_session_set_key(client, key, key_len), NULL, "toto_session_set_key");
  printf("    client: toto_session_new_with_id + toto_session_set_key from that response\n");

  /* ------------------------------------------------------------------------------- */
  step("A signed request: the client signs, the server verifies (accepted)");
  static const char method[] = "PUT";
  static const char uri[] = "/account/profile?lang=en";
  static const char body[] = "{\"display_name\":\"Alice Liddell\"}";
  char mac[TOTO_MAC_BUFFER_LEN];
  check(toto_session_sign_request(client, S(method), S(uri), B(body), mac, sizeof mac), NULL,
        "toto_session_sign_request");
  printf("    client: toto_session_sign_request = base64(HMAC-SHA1(key, METHOD + URI + "
         "BODY))\n");
  printf("      %s %s\n      x-toto-session-id: %s\n      x-toto-hmac: %s\n      %s\n", method,
         uri, sid.s, mac, body);
  toto_session *request = NULL;
  check(toto_manager_verify_request(manager, sid.s, sid.len, mac, strlen(mac), S(method),
                                    S(uri), B(body), &request, &err),
        &err, "toto_manager_verify_request");
  check(toto_session_user_id(request, &view, &view_len), NULL, "toto_session_user_id");
  check(toto_session_expires(request, &expires), NULL, "toto_session_expires");
  printf("    server: toto_manager_verify_request -> OK: request from \"%.*s\", session "
         "renewed to %s\n", (int)view_len, view, utc(expires, when));

  /* ------------------------------------------------------------------------------- */
  step("A tampered request: same headers, another body (refused)");
  static const char tampered[] = "{\"display_name\":\"Mallory\"}";
  toto_session *refused = NULL;
  err = (toto_error){0};
  rc = toto_manager_verify_request(manager, sid.s, sid.len, mac, strlen(mac), S(method),
                                   S(uri), B(tampered), &refused, &err);
  expect_code(rc, TOTO_RESULT_INVALID_HMAC, "verify_request of a tampered body");
  printf("    body %s with the same x-toto-hmac\n", tampered);
  printf("    server: toto_manager_verify_request -> code %u \"%s\"; no session handed "
         "out (%s)\n", (unsigned)rc, toto_result_message(rc),
         refused == NULL ? "out still NULL" : "out written!");

  /* ------------------------------------------------------------------------------- */
  step("Session state: typed values, saved, read back by the next request");
  static const char cart_json[] =
      "{\"items\":[{\"sku\":\"A-100\",\"qty\":2},{\"sku\":\"B-7\",\"qty\":1}],"
      "\"coupon\":null}";
  check(toto_session_set_text(request, S("name"), S("Alice")), NULL, "set_text(name)");
  check(toto_session_set_i64(request, S("visits"), 42), NULL, "set_i64(visits)");
  check(toto_session_set_f64(request, S("balance"), 12.5), NULL, "set_f64(balance)");
  check(toto_session_set_bool(request, S("newsletter"), false), NULL,
        "set_bool(newsletter)");
  check(toto_session_set_json(request, S("cart"), S(cart_json), &err), &err,
        "set_json(cart)");
  printf("    name = \"Alice\" (text), visits = 42 (i64), balance = 12.5 (f64), "
         "newsletter = false (bool)\n");
  printf("    cart = %s (JSON in, a CBOR map inside)\n", cart_json);
  bool dirty = false;
  check(toto_session_is_dirty(request, &dirty), NULL, "toto_session_is_dirty");
  printf("    dirty = %s\n", dirty ? "true" : "false");
  check(toto_manager_save_session(manager, request, &err), &err,
        "toto_manager_save_session");
  check(toto_session_is_dirty(request, &dirty), NULL, "toto_session_is_dirty");
  printf("    toto_manager_save_session -> written to the cache, dirty = %s\n",
         dirty ? "true" : "false");
  toto_session_free(request); /* end of that request */
  request = NULL;

  toto_session *current = NULL;
  check(toto_manager_retrieve_session(manager, sid.s, sid.len, &current, &err), &err,
        "toto_manager_retrieve_session");
  size_t entries = 0;
  check(toto_session_len(current, &entries), NULL, "toto_session_len");
  printf("    next request: toto_manager_retrieve_session(%s) -> %zu state entries\n", sid.s,
         entries);
  const char *name;
  size_t name_len;
  int64_t visits;
  double balance;
  bool newsletter = true;
  check(toto_session_get_text(current, S("name"), &name, &name_len), NULL, "get_text(name)");
  check(toto_session_get_i64(current, S("visits"), &visits), NULL, "get_i64(visits)");
  check(toto_session_get_f64(current, S("balance"), &balance), NULL, "get_f64(balance)");
  check(toto_session_get_bool(current, S("newsletter"), &newsletter), NULL,
        "get_bool(newsletter)");
  printf("      name       -> \"%.*s\"\n", (int)name_len, name);
  printf("      visits     -> %lld\n", (long long)visits);
  printf("      balance    -> %.2f\n", balance);
  printf("      newsletter -> %s (a stored false reads back as false, not as missing)\n",
         newsletter ? "true" : "false");
  toto_value_type cart_type;
  check(toto_session_get_type(current, S("cart"), &cart_type), NULL, "get_type(cart)");
  toto_bytes cart = {0};
  check(toto_session_get_json(current, S("cart"), &cart, &err), &err, "get_json(cart)");
  printf("      cart       -> %s %.*s\n", type_name(cart_type), (int)cart.len,
         (const char *)cart.data);
  toto_bytes_free(&cart);
  bool present = true;
  check(toto_session_contains(current, S("coupon_code"), &present), NULL,
        "toto_session_contains");
  rc = toto_session_get_bool(current, S("coupon_code"), &newsletter);
  expect_code(rc, TOTO_RESULT_NOT_FOUND, "get_bool(coupon_code)");
  printf("      coupon_code -> contains = %s, get gives code %u \"%s\"\n",
         present ? "true" : "false", (unsigned)rc, toto_result_message(rc));

  toto_bytes record = {0};
  check(toto_session_export(current, &record, &err), &err, "toto_session_export");
  toto_session *reloaded = NULL;
  check(toto_session_import(record.data, record.len, &reloaded, &err), &err,
        "toto_session_import");
  id_buf reloaded_id = copy_id(reloaded);
  size_t reloaded_entries = 0;
  int64_t reloaded_visits = 0;
  check(toto_session_len(reloaded, &reloaded_entries), NULL, "toto_session_len");
  check(toto_session_get_i64(reloaded, S("visits"), &reloaded_visits), NULL,
        "get_i64(visits)");
  check(toto_session_key(reloaded, &key_view, &key_len), NULL, "toto_session_key");
  bool same_key = key_len == strlen(key) && memcmp(key_view, key, key_len) == 0;
  printf("    toto_session_export -> %zu bytes of versioned CBOR (what every cache stores)\n",
         record.len);
  printf("    toto_session_import -> session %s, %zu entries, visits %lld, HMAC key %s\n",
         reloaded_id.s, reloaded_entries, (long long)reloaded_visits,
         same_key ? "kept" : "DIFFERENT");
  if (!same_key) {
    fprintf(stderr, "\nFAILED: the imported session lost its key\n");
    return 1;
  }
  toto_bytes_free(&record);
  toto_session_free(reloaded);

  /* ------------------------------------------------------------------------------- */
  step("Response signing: the server signs, the client checks");
  static const char response[] =
      "{\"result\":{\"ok\":true},\"session\":{\"user_id\":\"alice@example.com\"}}";
  char response_mac[TOTO_MAC_BUFFER_LEN];
  check(toto_session_sign_response(current, B(response), response_mac, sizeof response_mac),
        NULL, "toto_session_sign_response");
  printf("    server: %s\n", response);
  printf("      x-toto-hmac: %s  (toto_session_sign_response: HMAC of session id + "
         "body)\n", response_mac);
  check(toto_session_verify_response(client, response_mac, strlen(response_mac),
                                     B(response)),
        NULL, "toto_session_verify_response");
  printf("    client: toto_session_verify_response -> OK\n");
  rc = toto_session_verify_response(client, response_mac, strlen(response_mac),
                                    B("{\"result\":{\"ok\":false}}"));
  expect_code(rc, TOTO_RESULT_INVALID_HMAC, "verify_response of a changed body");
  printf("    client, changed response body -> code %u \"%s\" (Toto's client reports "
         "1009)\n", (unsigned)rc, toto_result_message(rc));

  /* ------------------------------------------------------------------------------- */
  step(redis_accounts ? "Account properties through the session (Toto's get_account): lazy, "
                        "saved to Redis"
                      : "Account properties through the session (Toto's get_account): lazy, "
                        "saved to SQLite");
  toto_account *account = NULL;
  check(toto_manager_session_account(manager, current, &account), NULL,
        "toto_manager_session_account");
  printf("    toto_manager_session_account -> account handle, nothing loaded yet\n");
  const toto_str wanted[] = {{S("email")}, {S("display_name")}};
  fflush(stdout);
  check(toto_account_load(account, wanted, 2, &err), &err, "toto_account_load");
  const char *email, *display;
  size_t email_len, display_len;
  check(toto_account_get_text(account, S("email"), &email, &email_len, &err), &err,
        "toto_account_get_text(email)");
  check(toto_account_get_text(account, S("display_name"), &display, &display_len, &err),
        &err, "toto_account_get_text(display_name)");
  printf("    toto_account_load(email, display_name): one store call (above)\n");
  printf("      email        -> \"%.*s\"\n", (int)email_len, email);
  printf("      display_name -> \"%.*s\"\n", (int)display_len, display);
  int64_t age = 0;
  bool wants_news = true;
  fflush(stdout);
  check(toto_account_get_i64(account, S("age"), &age, &err), &err, "get_i64(age)");
  printf("      age          -> %lld (not loaded yet: fetched on first access, above)\n",
         (long long)age);
  fflush(stdout);
  check(toto_account_get_bool(account, S("newsletter"), &wants_news, &err), &err,
        "get_bool(newsletter)");
  printf("      newsletter   -> %s\n", wants_news ? "true" : "false");
  toto_value_type address_type;
  toto_bytes address = {0};
  fflush(stdout);
  check(toto_account_get_type(account, S("address"), &address_type, &err), &err,
        "get_type(address)");
  check(toto_account_get_json(account, S("address"), &address, &err), &err,
        "get_json(address)");
  printf("      address      -> %s %.*s\n", type_name(address_type), (int)address.len,
         (const char *)address.data);
  toto_bytes_free(&address);
  fflush(stdout);
  rc = toto_account_get_text(account, S("phone"), &view, &view_len, &err);
  expect_code(rc, TOTO_RESULT_NOT_FOUND, "get_text(phone)");
  printf("      phone        -> code %u \"%s\" (the account has no such property)\n",
         (unsigned)rc, toto_result_message(rc));
  check(toto_account_get_text(account, S("email"), &email, &email_len, &err), &err,
        "toto_account_get_text(email)");
  printf("      email again  -> \"%.*s\" (already loaded: no store call)\n", (int)email_len,
         email);

  check(toto_account_set_text(account, S("display_name"), S("Alice Liddell")), NULL,
        "toto_account_set_text(display_name)");
  size_t modified = 0;
  check(toto_account_modified_count(account, &modified), NULL, "toto_account_modified_count");
  printf("    set display_name = \"Alice Liddell\" -> %zu modified, nothing written yet\n",
         modified);
  fflush(stdout);
  check(toto_account_save(account, &err), &err, "toto_account_save");
  check(toto_account_modified_count(account, &modified), NULL, "toto_account_modified_count");
  printf("    toto_account_save -> only display_name written, in one transaction; %zu "
         "modified\n", modified);
  toto_account_free(account);
  account = NULL;

  toto_account *fresh = NULL;
  check(toto_manager_account(manager, S(user), &fresh), NULL, "toto_manager_account");
  fflush(stdout);
  check(toto_account_get_text(fresh, S("display_name"), &display, &display_len, &err), &err,
        "toto_account_get_text(display_name)");
  printf("    a fresh account (toto_manager_account) reads display_name -> \"%.*s\" from "
         "%s\n", (int)display_len, display, redis_accounts ? "Redis" : "SQLite");
  toto_account_free(fresh);

  /* ------------------------------------------------------------------------------- */
  step("Change the password (Toto's change_password): every other session is logged out");
  fflush(stdout);
  check(toto_manager_change_password(manager, S(user), S(password), S(new_password), current,
                                     &err),
        &err, "toto_manager_change_password");
  id_buf new_sid = copy_id(current);
  printf("    toto_manager_change_password(old, new, current session) -> OK\n");
  printf("    current session kept under a fresh id: %s -> %s\n", sid.s, new_sid.s);

  toto_session *gone = NULL;
  err = (toto_error){0};
  rc = toto_manager_retrieve_session(manager, phone_sid.s, phone_sid.len, &gone, &err);
  expect_code(rc, TOTO_RESULT_INVALID_SESSION_ID, "retrieve of the phone session");
  printf("    the phone's session %s -> code %u \"%s\"\n", phone_sid.s, (unsigned)rc,
         toto_result_message(rc));
  rc = toto_manager_retrieve_session(manager, sid.s, sid.len, &gone, &err);
  expect_code(rc, TOTO_RESULT_INVALID_SESSION_ID, "retrieve of the old id");
  printf("    the old id %s -> code %u \"%s\"\n", sid.s, (unsigned)rc,
         toto_result_message(rc));
  fflush(stdout);
  rc = toto_manager_login(manager, S(user), S(password), &gone, &err);
  expect_code(rc, TOTO_RESULT_INVALID_CREDENTIALS, "login with the old password");
  printf("    login with the old password -> code %u \"%s\"\n", (unsigned)rc,
         toto_result_message(rc));

  /* The client learns the new id from the response's "session" object; its key is
   * unchanged. */
  check(toto_session_set_id(client, new_sid.s, new_sid.len), NULL, "toto_session_set_id");
  check(toto_session_sign_request(client, S("GET"), S("/account"), NULL, 0, mac, sizeof mac),
        NULL, "toto_session_sign_request");
  check(toto_manager_verify_request(manager, new_sid.s, new_sid.len, mac, strlen(mac),
                                    S("GET"), S("/account"), NULL, 0, NULL, &err),
        &err, "toto_manager_verify_request (new id)");
  printf("    client takes the new id (same key): GET /account signed -> accepted\n");

  /* ------------------------------------------------------------------------------- */
  step("Log out (Toto's remove_session)");
  check(toto_manager_remove_session(manager, new_sid.s, new_sid.len, &err), &err,
        "toto_manager_remove_session");
  printf("    toto_manager_remove_session(%s) -> OK\n", new_sid.s);
  rc = toto_manager_retrieve_session(manager, new_sid.s, new_sid.len, &gone, &err);
  expect_code(rc, TOTO_RESULT_INVALID_SESSION_ID, "retrieve after logout");
  printf("    toto_manager_retrieve_session -> code %u \"%s\"\n", (unsigned)rc,
         toto_result_message(rc));
  rc = toto_manager_verify_request(manager, new_sid.s, new_sid.len, mac, strlen(mac),
                                   S("GET"), S("/account"), NULL, 0, &gone, &err);
  expect_code(rc, TOTO_RESULT_INVALID_SESSION_ID, "verify_request after logout");
  printf("    the same signed request again -> code %u \"%s\"\n", (unsigned)rc,
         toto_result_message(rc));

  /* ------------------------------------------------------------------------------- */
  step("An anonymous session asks for its account");
  toto_session *anon = NULL;
  check(toto_manager_create_session(manager, NULL, 0, false, &anon, &err), &err,
        "toto_manager_create_session");
  id_buf anon_sid = copy_id(anon);
  check(toto_session_user_id(anon, &view, &view_len), NULL, "toto_session_user_id");
  check(toto_session_expires(anon, &expires), NULL, "toto_session_expires");
  printf("    toto_manager_create_session(\"\") -> %s, user id \"%.*s\" (anonymous), "
         "expires in %.1f days\n", anon_sid.s, (int)view_len, view, days_from_now(expires));
  toto_account *nobody = NULL;
  rc = toto_manager_session_account(manager, anon, &nobody);
  expect_code(rc, TOTO_RESULT_NOT_AUTHORIZED, "session_account of an anonymous session");
  printf("    toto_manager_session_account -> code %u \"%s\"\n", (unsigned)rc,
         toto_result_message(rc));
  check(toto_manager_remove_session(manager, anon_sid.s, anon_sid.len, &err), &err,
        "toto_manager_remove_session (anonymous)");

  /* ------------------------------------------------------------------------------- */
  step("Free everything");
  toto_session_free(anon);
  toto_session_free(current);
  toto_session_free(client);
  toto_session_free(gone); /* still NULL: the failed calls wrote nothing */
  toto_manager_free(manager);
  toto_cache_free(cache);
  toto_account_store_free(store); /* last reference: free_user_data closes the database */
  if (redis_accounts) {
    printf("    sessions, manager, cache and store released\n");
    printf("    the account %s stays in Redis; the next run removes it first (step 4)\n",
           user);
  } else {
    printf("    sessions, manager, cache and store released; the SQLite file is closed\n");
    printf("    the account %s stays in %s; the next run removes it first (step 4)\n", user,
           db_path);
  }

  printf("\ndemo: all steps passed\n");
  return 0;
}
