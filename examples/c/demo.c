/*
 * demo.c: the whole life of a toto-session session, from C.
 *
 * Uses only the public header and the built-in backends (memory cache, memory account
 * store), so it runs anywhere:
 *
 *   make demo
 *
 * Every call returns a toto_result. check() stops the program on an unexpected
 * failure and prints the code, its fixed message (toto_result_message) and the details
 * the library wrote into the caller-owned toto_error. Every handle and every
 * library-owned buffer is released at the end (the program is valgrind-clean).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <toto_session.h>

/* ---- small helpers --------------------------------------------------------------- */

static int step_no = 0;

static void step(const char *title) {
  printf("\n[%d] %s\n", ++step_no, title);
}

/* Stops the demo when `rc` is not TOTO_RESULT_OK. `err` may be NULL for functions that
 * take no toto_error argument. */
static void check(toto_result rc, const toto_error *err, const char *what) {
  if (rc == TOTO_RESULT_OK) {
    return;
  }
  fprintf(stderr, "\nFAILED: %s\n  code %u: %s\n", what, (unsigned)rc,
          toto_result_message(rc));
  if (err != NULL && err->message[0] != '\0') {
    fprintf(stderr, "  details: %s\n", err->message);
  }
  exit(1);
}

/* Stops the demo when a call that should fail with `expected` did something else. */
static void expect_code(toto_result rc, toto_result expected, const char *what) {
  if (rc != expected) {
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

/* ---- the walk-through ------------------------------------------------------------ */

int main(void) {
  toto_error err = {0};
  printf("toto-session %s: C walk-through (built-in memory cache and account store)\n",
         toto_version());

  /* ------------------------------------------------------------------------------- */
  step("Create the backends");
  toto_cache *cache = NULL;
  toto_account_store *store = NULL;
  check(toto_cache_new_memory(&cache), NULL, "toto_cache_new_memory");
  check(toto_account_store_new_memory(&store), NULL, "toto_account_store_new_memory");
  printf("    toto_cache_new_memory          -> cache ready (shareable by all threads)\n");
  printf("    toto_account_store_new_memory  -> account store ready\n");

  /* ------------------------------------------------------------------------------- */
  step("Create an account and save its properties");
  check(toto_account_store_create(store, S("Alice@Example.com"), &err), &err,
        "toto_account_store_create");
  toto_account *account = NULL;
  check(toto_account_new(store, S("Alice@Example.com"), &account), NULL, "toto_account_new");
  const char *uid;
  size_t uid_len;
  check(toto_account_user_id(account, &uid, &uid_len), NULL, "toto_account_user_id");
  printf("    toto_account_store_create(\"Alice@Example.com\") -> account \"%.*s\" "
         "(user ids are lowercased)\n", (int)uid_len, uid);

  check(toto_account_set_text(account, S("email"), S("alice@example.com")), NULL,
        "toto_account_set_text(email)");
  check(toto_account_set_text(account, S("display_name"), S("Alice")), NULL,
        "toto_account_set_text(display_name)");
  check(toto_account_set_i64(account, S("age"), 31), NULL, "toto_account_set_i64(age)");
  size_t modified = 0;
  check(toto_account_modified_count(account, &modified), NULL, "toto_account_modified_count");
  printf("    set email, display_name, age      -> %zu modified, nothing written yet\n",
         modified);
  check(toto_account_save(account, &err), &err, "toto_account_save");
  check(toto_account_modified_count(account, &modified), NULL, "toto_account_modified_count");
  printf("    toto_account_save                 -> written in one store call, %zu modified\n",
         modified);
  toto_account_free(account);
  account = NULL;

  /* ------------------------------------------------------------------------------- */
  step("Log in: create a session for the user, expiring in 1 day, with an HMAC key");
  double expires = (double)time(NULL) + 24 * 60 * 60;
  toto_session *session = NULL;
  check(toto_session_new(S("alice@example.com"), expires, &session), NULL,
        "toto_session_new");
  const char *key;
  size_t key_len;
  check(toto_session_generate_key(session, &key, &key_len), NULL,
        "toto_session_generate_key");

  /* toto_session_id is a view into the session: copy it to keep it around. */
  const char *view;
  size_t view_len;
  char session_id[TOTO_MAX_SESSION_ID_LEN + 1];
  check(toto_session_id(session, &view, &view_len), NULL, "toto_session_id");
  memcpy(session_id, view, view_len);
  session_id[view_len] = '\0';
  size_t session_id_len = view_len;

  time_t expires_t = (time_t)expires;
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&expires_t));
  printf("    session id  %s (%zu chars, random)\n", session_id, session_id_len);
  printf("    user id     alice@example.com\n");
  printf("    expires     %.0f (%s)\n", expires, when);
  printf("    key         %zu chars from toto_session_generate_key (sent to the client "
         "once at login; a secret, so not printed)\n", key_len);

  /* ------------------------------------------------------------------------------- */
  step("Put typed values in the session state");
  static const char cart_json[] =
      "{\"items\":[{\"sku\":\"A-100\",\"qty\":2},{\"sku\":\"B-7\",\"qty\":1}],"
      "\"coupon\":null}";
  check(toto_session_set_text(session, S("name"), S("Alice")), NULL, "set_text(name)");
  check(toto_session_set_i64(session, S("visits"), 42), NULL, "set_i64(visits)");
  check(toto_session_set_f64(session, S("balance"), 12.5), NULL, "set_f64(balance)");
  check(toto_session_set_bool(session, S("newsletter"), false), NULL,
        "set_bool(newsletter)");
  check(toto_session_set_json(session, S("cart"), S(cart_json), &err), &err,
        "set_json(cart)");
  printf("    name       = \"Alice\"      (text)\n");
  printf("    visits     = 42           (i64)\n");
  printf("    balance    = 12.5         (f64)\n");
  printf("    newsletter = false        (bool)\n");
  printf("    cart       = %s (JSON in, stored as a CBOR map)\n", cart_json);

  /* ------------------------------------------------------------------------------- */
  step("Export the record and store the session in the cache");
  toto_bytes record = {0};
  check(toto_session_export(session, &record, &err), &err, "toto_session_export");
  printf("    toto_session_export       -> %zu bytes of versioned CBOR (what every cache "
         "stores)\n", record.len);
  toto_bytes_free(&record); /* library-owned buffer: released with toto_bytes_free */

  bool dirty = false;
  check(toto_session_is_dirty(session, &dirty), NULL, "toto_session_is_dirty");
  printf("    before storing: dirty = %s\n", dirty ? "true" : "false");
  check(toto_cache_store_session(cache, session, &err), &err, "toto_cache_store_session");
  check(toto_session_is_dirty(session, &dirty), NULL, "toto_session_is_dirty");
  printf("    toto_cache_store_session  -> stored until expiry, dirty = %s\n",
         dirty ? "true" : "false");

  /* ------------------------------------------------------------------------------- */
  step("Next request: load the session from the cache into a new handle");
  toto_session *loaded = NULL;
  check(toto_cache_load_session(cache, session_id, session_id_len, &loaded, &err), &err,
        "toto_cache_load_session");
  size_t entries = 0;
  check(toto_session_len(loaded, &entries), NULL, "toto_session_len");
  printf("    toto_cache_load_session(%s) -> %zu state entries\n", session_id, entries);

  const char *name;
  size_t name_len;
  int64_t visits;
  double balance;
  bool newsletter = true;
  check(toto_session_get_text(loaded, S("name"), &name, &name_len), NULL, "get_text(name)");
  check(toto_session_get_i64(loaded, S("visits"), &visits), NULL, "get_i64(visits)");
  check(toto_session_get_f64(loaded, S("balance"), &balance), NULL, "get_f64(balance)");
  check(toto_session_get_bool(loaded, S("newsletter"), &newsletter), NULL,
        "get_bool(newsletter)");
  printf("    name       -> \"%.*s\"\n", (int)name_len, name);
  printf("    visits     -> %lld\n", (long long)visits);
  printf("    balance    -> %.2f\n", balance);
  printf("    newsletter -> %s (a stored false reads back as false, not as missing)\n",
         newsletter ? "true" : "false");

  toto_value_type cart_type;
  check(toto_session_get_type(loaded, S("cart"), &cart_type), NULL, "get_type(cart)");
  toto_bytes cart = {0};
  check(toto_session_get_json(loaded, S("cart"), &cart, &err), &err, "get_json(cart)");
  printf("    cart       -> %s %.*s\n", type_name(cart_type), (int)cart.len,
         (const char *)cart.data);
  toto_bytes_free(&cart);

  bool missing_present = true;
  check(toto_session_contains(loaded, S("coupon_code"), &missing_present), NULL,
        "toto_session_contains");
  toto_result rc = toto_session_get_bool(loaded, S("coupon_code"), &newsletter);
  expect_code(rc, TOTO_RESULT_NOT_FOUND, "get_bool(coupon_code)");
  printf("    coupon_code -> contains = %s, get gives code %u (%s)\n",
         missing_present ? "true" : "false", (unsigned)rc, toto_result_message(rc));

  /* ------------------------------------------------------------------------------- */
  step("Client signs a request; the server verifies it");
  static const char body[] = "{\"display_name\":\"Alice Liddell\"}";
  char mac[TOTO_MAC_BUFFER_LEN];
  /* The client holds the key it got at login: here, the original handle. */
  check(toto_session_sign_request(session, S("PUT"), S("/account/profile"), B(body), mac,
                                  sizeof mac),
        NULL, "toto_session_sign_request");
  printf("    client: PUT /account/profile %s\n", body);
  printf("            x-toto-hmac: %s\n", mac);
  /* The server checks it with the session it loaded from the cache. */
  check(toto_session_verify_request(loaded, mac, strlen(mac), S("PUT"), S("/account/profile"),
                                    B(body)),
        NULL, "toto_session_verify_request");
  printf("    server: toto_session_verify_request -> OK, request accepted\n");

  /* ------------------------------------------------------------------------------- */
  step("Someone tampers with the body on the way");
  static const char tampered[] = "{\"display_name\":\"Mallory\"}";
  rc = toto_session_verify_request(loaded, mac, strlen(mac), S("PUT"), S("/account/profile"),
                                   B(tampered));
  expect_code(rc, TOTO_RESULT_INVALID_HMAC, "verify of a tampered request");
  printf("    server: body %s with the same x-toto-hmac\n", tampered);
  printf("            toto_session_verify_request -> code %u \"%s\", request refused\n",
         (unsigned)rc, toto_result_message(rc));

  /* ------------------------------------------------------------------------------- */
  step("Server signs its response; the client checks it");
  static const char response[] = "{\"result\":{\"ok\":true}}";
  char response_mac[TOTO_MAC_BUFFER_LEN];
  check(toto_session_sign_response(loaded, B(response), response_mac, sizeof response_mac),
        NULL, "toto_session_sign_response");
  printf("    server: %s\n", response);
  printf("            x-toto-hmac: %s (HMAC of session id + body)\n", response_mac);
  check(toto_session_verify_response(session, response_mac, strlen(response_mac),
                                     B(response)),
        NULL, "toto_session_verify_response");
  printf("    client: toto_session_verify_response -> OK\n");

  /* ------------------------------------------------------------------------------- */
  step("Handle the request: load account properties lazily, change one, save");
  check(toto_account_new(store, S("alice@example.com"), &account), NULL, "toto_account_new");
  const toto_str wanted[] = {{S("email")}, {S("display_name")}};
  check(toto_account_load(account, wanted, 2, &err), &err, "toto_account_load");
  const char *email, *display;
  size_t email_len, display_len;
  check(toto_account_get_text(account, S("email"), &email, &email_len, &err), &err,
        "toto_account_get_text(email)");
  check(toto_account_get_text(account, S("display_name"), &display, &display_len, &err), &err,
        "toto_account_get_text(display_name)");
  printf("    toto_account_load(email, display_name) -> one store call\n");
  printf("    email        -> \"%.*s\"\n", (int)email_len, email);
  printf("    display_name -> \"%.*s\"\n", (int)display_len, display);
  int64_t age = 0;
  check(toto_account_get_i64(account, S("age"), &age, &err), &err, "toto_account_get_i64(age)");
  printf("    age          -> %lld (not in the bulk load: fetched on first access)\n",
         (long long)age);

  check(toto_account_set_text(account, S("display_name"), S("Alice Liddell")), NULL,
        "toto_account_set_text(display_name)");
  bool is_mod = false;
  check(toto_account_modified_count(account, &modified), NULL, "toto_account_modified_count");
  check(toto_account_is_modified(account, S("display_name"), &is_mod), NULL,
        "toto_account_is_modified");
  printf("    set display_name = \"Alice Liddell\" -> %zu modified (display_name: %s)\n",
         modified, is_mod ? "yes" : "no");
  check(toto_account_save(account, &err), &err, "toto_account_save");
  check(toto_account_modified_count(account, &modified), NULL, "toto_account_modified_count");
  printf("    toto_account_save -> only display_name written, %zu modified\n", modified);
  toto_account_free(account);

  toto_account *fresh = NULL;
  check(toto_account_new(store, S("alice@example.com"), &fresh), NULL, "toto_account_new");
  check(toto_account_get_text(fresh, S("display_name"), &display, &display_len, &err), &err,
        "toto_account_get_text(display_name)");
  printf("    another fresh account reads display_name -> \"%.*s\"\n", (int)display_len,
         display);
  toto_account_free(fresh);

  /* ------------------------------------------------------------------------------- */
  step("Log out: remove the session from the cache");
  check(toto_cache_remove(cache, session_id, session_id_len, &err), &err, "toto_cache_remove");
  printf("    toto_cache_remove(%s) -> OK\n", session_id);
  toto_session *gone = NULL;
  rc = toto_cache_load_session(cache, session_id, session_id_len, &gone, NULL);
  expect_code(rc, TOTO_RESULT_NOT_FOUND, "toto_cache_load_session after logout");
  printf("    toto_cache_load_session -> code %u \"%s\" (TOTO_RESULT_NOT_FOUND); "
         "output left untouched (%s)\n",
         (unsigned)rc, toto_result_message(rc), gone == NULL ? "still NULL" : "changed!");

  /* ------------------------------------------------------------------------------- */
  step("Free everything");
  toto_session_free(loaded);
  toto_session_free(session);
  toto_session_free(gone); /* NULL: does nothing */
  toto_cache_free(cache);
  toto_account_store_free(store);
  printf("    sessions, cache and account store released\n");

  printf("\ndemo: all steps passed\n");
  return 0;
}
