/*
 * test_bad_input.c: the argument checks of every function: NULL for every pointer
 * argument (and NULL with a non-zero length), invalid UTF-8 for every text argument,
 * overlong ids / keys / names / user ids / passwords, pointers of the wrong handle type,
 * toto_result_message for every code and an unknown one, toto_version.
 */
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include <stdio.h>
#include <stdlib.h>

#define NULL_ARG(call) CHECK_RC(call, TOTO_RESULT_NULL_ARGUMENT)
#define BAD_UTF8(call) CHECK_RC(call, TOTO_RESULT_INVALID_UTF8)
#define TOO_LARGE(call) CHECK_RC(call, TOTO_RESULT_TOO_LARGE)
#define BAD_ID(call) CHECK_RC(call, TOTO_RESULT_INVALID_SESSION_ID)
#define BAD_HANDLE(call) CHECK_RC(call, TOTO_RESULT_INVALID_HANDLE)

/* Shared fixture, built in main(). */
static toto_session *S;        /* id "fixture-id", user "alice", key "k3y", state t/b/i */
static toto_cache *C;          /* memory cache holding S */
static toto_account_store *ST; /* memory store with account "alice" */
static toto_account *A;        /* alice's account */
static toto_manager *M;        /* over C and ST, cheap password hashing */

static char *LONG_USER;  /* TOTO_MAX_USER_ID_LEN + 1 */
static char *LONG_ID;    /* TOTO_MAX_SESSION_ID_LEN + 1 */
static char *LONG_KEY;   /* TOTO_MAX_KEY_LEN + 1 */
static char *LONG_NAME;  /* TOTO_MAX_NAME_LEN + 1 */
static char *LONG_PASS;  /* TOTO_MAX_PASSWORD_LEN + 1 */

static const uint8_t NULL_CBOR[] = {0xf6};
static const char *MAC = "DaedXxjsflA71b/Adt0R8pxXZWg=";

static bool setup(void) {
    bool ok = true;
    toto_error err = {0};
    S = new_session_with_id("fixture-id", "alice", now_seconds() + 3600);
    ok = ok && S;
    ok = ok && CHECK_RC(toto_session_set_key(S, STR("k3y")), TOTO_RESULT_OK);
    ok = ok && CHECK_RC(toto_session_set_text(S, STR("t"), STR("text")), TOTO_RESULT_OK);
    ok = ok && CHECK_RC(toto_session_set_bytes(S, STR("b"), BYTES("bytes")), TOTO_RESULT_OK);
    ok = ok && CHECK_RC(toto_session_set_i64(S, STR("i"), 1), TOTO_RESULT_OK);
    ok = ok && CHECK_RC(toto_cache_new_memory(&C), TOTO_RESULT_OK);
    ok = ok && CHECK_RC(toto_cache_store_session(C, S, &err), TOTO_RESULT_OK);
    ok = ok && CHECK_RC(toto_account_store_new_memory(&ST), TOTO_RESULT_OK);
    ok = ok && CHECK_RC(toto_account_store_create(ST, STR("alice"), &err), TOTO_RESULT_OK);
    ok = ok && CHECK_RC(toto_account_new(ST, STR("alice"), &A), TOTO_RESULT_OK);
    ok = ok && CHECK_RC(toto_account_set_text(A, STR("email"), STR("a@example.com")),
                        TOTO_RESULT_OK);
    ok = ok && CHECK_RC(toto_account_set_bytes(A, STR("raw"), BYTES("raw")), TOTO_RESULT_OK);
    ok = ok && CHECK_RC(toto_account_save(A, &err), TOTO_RESULT_OK);
    toto_manager_options opt;
    ok = ok && CHECK_RC(toto_manager_options_default(&opt), TOTO_RESULT_OK);
    opt.password_memory_kib = 64;
    opt.password_iterations = 1;
    ok = ok && CHECK_RC(toto_manager_new(C, ST, &opt, &M, &err), TOTO_RESULT_OK);
    LONG_USER = repeat_char('u', TOTO_MAX_USER_ID_LEN + 1);
    LONG_ID = repeat_char('i', TOTO_MAX_SESSION_ID_LEN + 1);
    LONG_KEY = repeat_char('k', TOTO_MAX_KEY_LEN + 1);
    LONG_NAME = repeat_char('n', TOTO_MAX_NAME_LEN + 1);
    LONG_PASS = repeat_char('p', TOTO_MAX_PASSWORD_LEN + 1);
    return ok;
}

static void teardown(void) {
    toto_manager_free(M);
    toto_account_free(A);
    toto_account_store_free(ST);
    toto_cache_free(C);
    toto_session_free(S);
    free(LONG_USER);
    free(LONG_ID);
    free(LONG_KEY);
    free(LONG_NAME);
    free(LONG_PASS);
}

/* ---- NULL pointers ---------------------------------------------------------------- */

static void test_null_session_functions(void) {
    toto_session *out = NULL;
    const char *p = NULL;
    size_t l = 0;
    double d = 0;
    bool b = false;
    toto_bytes bytes = {0};
    toto_error err = {0};
    char mac[TOTO_MAC_BUFFER_LEN];

    NULL_ARG(toto_session_new(NULL, 3, 1.0, &out));
    NULL_ARG(toto_session_new(STR("u"), 1.0, NULL));
    NULL_ARG(toto_session_new_with_id(STR("id"), NULL, 3, 1.0, &out));
    NULL_ARG(toto_session_new_with_id(STR("id"), STR("u"), 1.0, NULL));
    NULL_ARG(toto_session_id(NULL, &p, &l));
    NULL_ARG(toto_session_id(S, NULL, &l));
    NULL_ARG(toto_session_id(S, &p, NULL));
    NULL_ARG(toto_session_set_id(NULL, STR("id")));
    NULL_ARG(toto_session_user_id(NULL, &p, &l));
    NULL_ARG(toto_session_user_id(S, NULL, &l));
    NULL_ARG(toto_session_user_id(S, &p, NULL));
    NULL_ARG(toto_session_expires(NULL, &d));
    NULL_ARG(toto_session_expires(S, NULL));
    NULL_ARG(toto_session_set_expires(NULL, 1.0));
    NULL_ARG(toto_session_key(NULL, &p, &l));
    NULL_ARG(toto_session_key(S, NULL, &l));
    NULL_ARG(toto_session_key(S, &p, NULL));
    NULL_ARG(toto_session_set_key(NULL, STR("k")));
    NULL_ARG(toto_session_set_key(S, NULL, 3));
    NULL_ARG(toto_session_generate_key(NULL, &p, &l));
    NULL_ARG(toto_session_generate_key(S, NULL, &l));
    NULL_ARG(toto_session_generate_key(S, &p, NULL));
    CHECK_RC(toto_session_key(S, &p, &l), TOTO_RESULT_OK);
    CHECK_STR(p, l, "k3y"); /* the failed calls changed nothing */
    NULL_ARG(toto_session_is_dirty(NULL, &b));
    NULL_ARG(toto_session_is_dirty(S, NULL));
    NULL_ARG(toto_session_mark_clean(NULL));
    NULL_ARG(toto_session_export(NULL, &bytes, &err));
    CHECK_ERR(err, TOTO_RESULT_NULL_ARGUMENT);
    NULL_ARG(toto_session_export(S, NULL, NULL));
    NULL_ARG(toto_session_import(NULL, 5, &out, &err));
    NULL_ARG(toto_session_import(NULL_CBOR, 1, NULL, &err));
    NULL_ARG(toto_session_len(NULL, &l));
    NULL_ARG(toto_session_len(S, NULL));
    NULL_ARG(toto_session_key_at(NULL, 0, &p, &l));
    NULL_ARG(toto_session_key_at(S, 0, NULL, &l));
    NULL_ARG(toto_session_key_at(S, 0, &p, NULL));
    NULL_ARG(toto_session_contains(NULL, STR("t"), &b));
    NULL_ARG(toto_session_contains(S, NULL, 1, &b));
    NULL_ARG(toto_session_contains(S, STR("t"), NULL));
    NULL_ARG(toto_session_delete(NULL, STR("t")));
    NULL_ARG(toto_session_delete(S, NULL, 1));
    NULL_ARG(toto_session_clear(NULL));
    /* Signing. */
    NULL_ARG(toto_session_hmac(NULL, BYTES("m"), mac, sizeof mac));
    NULL_ARG(toto_session_hmac(S, NULL, 3, mac, sizeof mac));
    NULL_ARG(toto_session_hmac(S, BYTES("m"), NULL, sizeof mac));
    NULL_ARG(toto_session_verify(NULL, STR(MAC), BYTES("m")));
    NULL_ARG(toto_session_verify(S, NULL, 28, BYTES("m")));
    NULL_ARG(toto_session_verify(S, STR(MAC), NULL, 3));
    NULL_ARG(toto_session_sign_request(NULL, STR("GET"), STR("/"), NULL, 0, mac, sizeof mac));
    NULL_ARG(toto_session_sign_request(S, NULL, 3, STR("/"), NULL, 0, mac, sizeof mac));
    NULL_ARG(toto_session_sign_request(S, STR("GET"), NULL, 1, NULL, 0, mac, sizeof mac));
    NULL_ARG(toto_session_sign_request(S, STR("GET"), STR("/"), NULL, 2, mac, sizeof mac));
    NULL_ARG(toto_session_sign_request(S, STR("GET"), STR("/"), NULL, 0, NULL, sizeof mac));
    NULL_ARG(toto_session_verify_request(NULL, STR(MAC), STR("GET"), STR("/"), NULL, 0));
    NULL_ARG(toto_session_verify_request(S, NULL, 28, STR("GET"), STR("/"), NULL, 0));
    NULL_ARG(toto_session_verify_request(S, STR(MAC), NULL, 3, STR("/"), NULL, 0));
    NULL_ARG(toto_session_verify_request(S, STR(MAC), STR("GET"), NULL, 1, NULL, 0));
    NULL_ARG(toto_session_verify_request(S, STR(MAC), STR("GET"), STR("/"), NULL, 2));
    NULL_ARG(toto_session_sign_response(NULL, BYTES("{}"), mac, sizeof mac));
    NULL_ARG(toto_session_sign_response(S, NULL, 2, mac, sizeof mac));
    NULL_ARG(toto_session_sign_response(S, BYTES("{}"), NULL, sizeof mac));
    NULL_ARG(toto_session_verify_response(NULL, STR(MAC), BYTES("{}")));
    NULL_ARG(toto_session_verify_response(S, NULL, 28, BYTES("{}")));
    NULL_ARG(toto_session_verify_response(S, STR(MAC), NULL, 2));
    toto_session_free(NULL);
}

/* A NULL id with a non-zero length is a NULL argument, as for every other pointer. */
static void test_null_session_id_arguments(void) {
    toto_session *out = (toto_session *)&out;
    toto_bytes bytes = {0};
    NULL_ARG(toto_session_new_with_id(NULL, 5, STR("u"), 1.0, &out));
    NULL_ARG(toto_session_set_id(S, NULL, 5));
    NULL_ARG(toto_cache_store(C, NULL, 5, STR("u"), 1.0, BYTES("r"), 0, NULL, NULL));
    NULL_ARG(toto_cache_load(C, NULL, 5, &bytes, NULL));
    NULL_ARG(toto_cache_remove(C, NULL, 5, NULL));
    NULL_ARG(toto_cache_load_session(C, NULL, 5, &out, NULL));
    NULL_ARG(toto_manager_retrieve_session(M, NULL, 5, &out, NULL));
    NULL_ARG(toto_manager_remove_session(M, NULL, 5, NULL));
    NULL_ARG(toto_manager_verify_request(M, NULL, 5, STR(MAC), STR("GET"), STR("/"), NULL, 0,
                                         NULL, NULL));
    CHECK(out == (toto_session *)&out);
    /* NULL with length 0 is an empty id, which is invalid (Toto's 1007). */
    BAD_ID(toto_session_new_with_id(NULL, 0, STR("u"), 1.0, &out));
    BAD_ID(toto_session_set_id(S, NULL, 0));
    BAD_ID(toto_cache_load(C, NULL, 0, &bytes, NULL));
}

static void test_null_state_functions(void) {
    toto_value_type t;
    bool b;
    int64_t i;
    double d;
    const char *p;
    const uint8_t *bp;
    size_t l;
    toto_bytes out = {0};
    toto_error err = {0};

    NULL_ARG(toto_session_get_type(NULL, STR("i"), &t));
    NULL_ARG(toto_session_get_type(S, NULL, 1, &t));
    NULL_ARG(toto_session_get_type(S, STR("i"), NULL));
    NULL_ARG(toto_session_get_bool(NULL, STR("i"), &b));
    NULL_ARG(toto_session_get_bool(S, NULL, 1, &b));
    NULL_ARG(toto_session_get_bool(S, STR("i"), NULL));
    NULL_ARG(toto_session_get_i64(NULL, STR("i"), &i));
    NULL_ARG(toto_session_get_i64(S, NULL, 1, &i));
    NULL_ARG(toto_session_get_i64(S, STR("i"), NULL));
    NULL_ARG(toto_session_get_f64(NULL, STR("i"), &d));
    NULL_ARG(toto_session_get_f64(S, NULL, 1, &d));
    NULL_ARG(toto_session_get_f64(S, STR("i"), NULL));
    NULL_ARG(toto_session_get_text(NULL, STR("t"), &p, &l));
    NULL_ARG(toto_session_get_text(S, NULL, 1, &p, &l));
    NULL_ARG(toto_session_get_text(S, STR("t"), NULL, &l));
    NULL_ARG(toto_session_get_text(S, STR("t"), &p, NULL));
    NULL_ARG(toto_session_get_bytes(NULL, STR("b"), &bp, &l));
    NULL_ARG(toto_session_get_bytes(S, NULL, 1, &bp, &l));
    NULL_ARG(toto_session_get_bytes(S, STR("b"), NULL, &l));
    NULL_ARG(toto_session_get_bytes(S, STR("b"), &bp, NULL));
    NULL_ARG(toto_session_get_cbor(NULL, STR("i"), &out, &err));
    NULL_ARG(toto_session_get_cbor(S, NULL, 1, &out, &err));
    NULL_ARG(toto_session_get_cbor(S, STR("i"), NULL, &err));
    NULL_ARG(toto_session_get_json(NULL, STR("i"), &out, &err));
    NULL_ARG(toto_session_get_json(S, NULL, 1, &out, &err));
    NULL_ARG(toto_session_get_json(S, STR("i"), NULL, &err));
    {
        uint8_t jb[16];
        size_t jl = 0;
        NULL_ARG(toto_session_get_json_into(NULL, STR("i"), jb, sizeof jb, &jl, &err));
        NULL_ARG(toto_session_get_json_into(S, NULL, 1, jb, sizeof jb, &jl, &err));
        NULL_ARG(toto_session_get_json_into(S, STR("i"), NULL, sizeof jb, &jl, &err));
        NULL_ARG(toto_session_get_json_into(S, STR("i"), jb, sizeof jb, NULL, &err));
    }
    NULL_ARG(toto_session_set_null(NULL, STR("x")));
    NULL_ARG(toto_session_set_null(S, NULL, 1));
    NULL_ARG(toto_session_set_bool(NULL, STR("x"), true));
    NULL_ARG(toto_session_set_bool(S, NULL, 1, true));
    NULL_ARG(toto_session_set_i64(NULL, STR("x"), 1));
    NULL_ARG(toto_session_set_i64(S, NULL, 1, 1));
    NULL_ARG(toto_session_set_f64(NULL, STR("x"), 1.0));
    NULL_ARG(toto_session_set_f64(S, NULL, 1, 1.0));
    NULL_ARG(toto_session_set_text(NULL, STR("x"), STR("v")));
    NULL_ARG(toto_session_set_text(S, NULL, 1, STR("v")));
    NULL_ARG(toto_session_set_text(S, STR("x"), NULL, 3));
    NULL_ARG(toto_session_set_bytes(NULL, STR("x"), BYTES("v")));
    NULL_ARG(toto_session_set_bytes(S, NULL, 1, BYTES("v")));
    NULL_ARG(toto_session_set_bytes(S, STR("x"), NULL, 3));
    NULL_ARG(toto_session_set_cbor(NULL, STR("x"), NULL_CBOR, 1, &err));
    NULL_ARG(toto_session_set_cbor(S, NULL, 1, NULL_CBOR, 1, &err));
    NULL_ARG(toto_session_set_cbor(S, STR("x"), NULL, 3, &err));
    NULL_ARG(toto_session_set_json(NULL, STR("x"), STR("1"), &err));
    NULL_ARG(toto_session_set_json(S, NULL, 1, STR("1"), &err));
    NULL_ARG(toto_session_set_json(S, STR("x"), NULL, 3, &err));
    CHECK_ERR(err, TOTO_RESULT_NULL_ARGUMENT);
    bool present = true;
    CHECK_RC(toto_session_contains(S, STR("x"), &present), TOTO_RESULT_OK);
    CHECK(!present); /* none of the failed setters stored anything */
    /* NULL with length 0 is the empty key / value. */
    CHECK_RC(toto_session_set_text(S, NULL, 0, NULL, 0), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_text(S, NULL, 0, &p, &l), TOTO_RESULT_OK);
    CHECK(l == 0);
    CHECK_RC(toto_session_delete(S, NULL, 0), TOTO_RESULT_OK);
}

static void test_null_sign_and_misc(void) {
    char out[TOTO_MAC_BUFFER_LEN];
    NULL_ARG(toto_hmac(NULL, 3, BYTES("m"), out, sizeof out));
    NULL_ARG(toto_hmac(BYTES("k"), NULL, 3, out, sizeof out));
    NULL_ARG(toto_hmac(BYTES("k"), BYTES("m"), NULL, sizeof out));
    NULL_ARG(toto_verify(NULL, 3, STR(MAC), BYTES("m")));
    NULL_ARG(toto_verify(BYTES("k"), NULL, 28, BYTES("m")));
    NULL_ARG(toto_verify(BYTES("k"), STR(MAC), NULL, 3));
    NULL_ARG(toto_generate_id(NULL, TOTO_ID_BUFFER_LEN));
    toto_bytes_free(NULL);
    CHECK(toto_result_message(TOTO_RESULT_NULL_ARGUMENT) != NULL);
}

static double fixed_clock(void *data) {
    (void)data;
    return 1000.0;
}

static void test_null_cache_functions(void) {
    toto_cache *c = (toto_cache *)&c;
    toto_error err = {0};
    toto_bytes out = {0};
    toto_session *s = NULL;
    uint64_t removed = 0;
    int freed = 0;
    test_cache *tc = test_cache_new(&freed);
    toto_cache_vtable vt = test_cache_vtable(tc);

    NULL_ARG(toto_cache_new_memory(NULL));
    NULL_ARG(toto_cache_new_memory_with_clock(NULL, NULL, &c));
    NULL_ARG(toto_cache_new_memory_with_clock(fixed_clock, NULL, NULL));
    NULL_ARG(toto_cache_new_vtable(NULL, &c));
    NULL_ARG(toto_cache_new_vtable(&vt, NULL));
    CHECK(c == (toto_cache *)&c && freed == 0);
    test_cache_destroy(tc);
    toto_cache_free(NULL);

    NULL_ARG(toto_cache_store(NULL, STR("id"), STR("u"), 1.0, BYTES("r"), 0, NULL, &err));
    CHECK_ERR(err, TOTO_RESULT_NULL_ARGUMENT);
    NULL_ARG(toto_cache_store(C, STR("id"), NULL, 3, 1.0, BYTES("r"), 0, NULL, &err));
    NULL_ARG(toto_cache_store(C, STR("id"), STR("u"), 1.0, NULL, 3, 0, NULL, &err));
    NULL_ARG(toto_cache_load(NULL, STR("fixture-id"), &out, &err));
    NULL_ARG(toto_cache_load(C, STR("fixture-id"), NULL, &err));
    NULL_ARG(toto_cache_remove(NULL, STR("fixture-id"), &err));
    NULL_ARG(toto_cache_remove_user(NULL, STR("alice"), &removed, &err));
    NULL_ARG(toto_cache_remove_user(C, NULL, 3, &removed, &err));
    NULL_ARG(toto_cache_store_session(NULL, S, &err));
    NULL_ARG(toto_cache_store_session(C, NULL, &err));
    NULL_ARG(toto_cache_load_session(NULL, STR("fixture-id"), &s, &err));
    NULL_ARG(toto_cache_load_session(C, STR("fixture-id"), NULL, &err));
    /* The fixture's session is still there: nothing was removed. */
    if (CHECK_RC(toto_cache_load(C, STR("fixture-id"), &out, &err), TOTO_RESULT_OK)) {
        toto_bytes_free(&out);
    }

    NULL_ARG(toto_callback_set_result(NULL, BYTES("r")));
    NULL_ARG(toto_callback_add_property(NULL, STR("p"), NULL_CBOR, 1));
    NULL_ARG(toto_callback_set_error(NULL, STR("m")));
    NULL_ARG(toto_callback_set_expires(NULL, 1.0));

    toto_redis_options ro;
    NULL_ARG(toto_redis_options_default(NULL));
    CHECK_RC(toto_redis_options_default(&ro), TOTO_RESULT_OK);
    c = (toto_cache *)&c;
    NULL_ARG(toto_cache_new_redis(NULL, 5, &ro, &c, &err));
    NULL_ARG(toto_cache_new_redis(STR("redis://127.0.0.1:1/"), &ro, NULL, &err));
    ro.key_prefix = NULL;
    ro.key_prefix_len = 3;
    NULL_ARG(toto_cache_new_redis(STR("redis://127.0.0.1:1/"), &ro, &c, &err));
    CHECK(c == (toto_cache *)&c);
}

static void test_null_account_functions(void) {
    toto_account_store *st = (toto_account_store *)&st;
    toto_account *a = (toto_account *)&a;
    toto_error err = {0};
    int freed = 0;
    test_store *ts = test_store_new(&freed);
    toto_account_store_vtable vt = test_store_vtable(ts);
    const char *p;
    const uint8_t *bp;
    size_t l;
    bool b;
    int64_t i;
    double d;
    toto_value_type t;
    toto_bytes out = {0};

    NULL_ARG(toto_account_store_new_memory(NULL));
    NULL_ARG(toto_account_store_new_vtable(NULL, &st));
    NULL_ARG(toto_account_store_new_vtable(&vt, NULL));
    CHECK(st == (toto_account_store *)&st && freed == 0);
    test_store_destroy(ts);
    toto_account_store_free(NULL);
    NULL_ARG(toto_account_store_create(NULL, STR("bob"), &err));
    CHECK_ERR(err, TOTO_RESULT_NULL_ARGUMENT);
    NULL_ARG(toto_account_store_create(ST, NULL, 3, &err));
    NULL_ARG(toto_account_store_remove(NULL, STR("alice"), &err));
    NULL_ARG(toto_account_store_remove(ST, NULL, 3, &err));

    NULL_ARG(toto_account_new(NULL, STR("alice"), &a));
    NULL_ARG(toto_account_new(ST, NULL, 3, &a));
    NULL_ARG(toto_account_new(ST, STR("alice"), NULL));
    CHECK(a == (toto_account *)&a);
    toto_account_free(NULL);
    NULL_ARG(toto_account_user_id(NULL, &p, &l));
    NULL_ARG(toto_account_user_id(A, NULL, &l));
    NULL_ARG(toto_account_user_id(A, &p, NULL));
    toto_str names[2] = {{STR("email")}, {NULL, 3}};
    NULL_ARG(toto_account_load(NULL, names, 1, &err));
    NULL_ARG(toto_account_load(A, NULL, 2, &err));
    NULL_ARG(toto_account_load(A, names, 2, &err));
    NULL_ARG(toto_account_load_all(NULL, &err));
    NULL_ARG(toto_account_save(NULL, &err));
    NULL_ARG(toto_account_is_modified(NULL, STR("email"), &b));
    NULL_ARG(toto_account_is_modified(A, NULL, 3, &b));
    NULL_ARG(toto_account_is_modified(A, STR("email"), NULL));
    NULL_ARG(toto_account_modified_count(NULL, &l));
    NULL_ARG(toto_account_modified_count(A, NULL));

    NULL_ARG(toto_account_get_type(NULL, STR("email"), &t, &err));
    NULL_ARG(toto_account_get_type(A, NULL, 3, &t, &err));
    NULL_ARG(toto_account_get_type(A, STR("email"), NULL, &err));
    NULL_ARG(toto_account_get_bool(NULL, STR("email"), &b, &err));
    NULL_ARG(toto_account_get_bool(A, NULL, 3, &b, &err));
    NULL_ARG(toto_account_get_bool(A, STR("email"), NULL, &err));
    NULL_ARG(toto_account_get_i64(NULL, STR("email"), &i, &err));
    NULL_ARG(toto_account_get_i64(A, NULL, 3, &i, &err));
    NULL_ARG(toto_account_get_i64(A, STR("email"), NULL, &err));
    NULL_ARG(toto_account_get_f64(NULL, STR("email"), &d, &err));
    NULL_ARG(toto_account_get_f64(A, NULL, 3, &d, &err));
    NULL_ARG(toto_account_get_f64(A, STR("email"), NULL, &err));
    NULL_ARG(toto_account_get_text(NULL, STR("email"), &p, &l, &err));
    NULL_ARG(toto_account_get_text(A, NULL, 3, &p, &l, &err));
    NULL_ARG(toto_account_get_text(A, STR("email"), NULL, &l, &err));
    NULL_ARG(toto_account_get_text(A, STR("email"), &p, NULL, &err));
    NULL_ARG(toto_account_get_bytes(NULL, STR("raw"), &bp, &l, &err));
    NULL_ARG(toto_account_get_bytes(A, NULL, 3, &bp, &l, &err));
    NULL_ARG(toto_account_get_bytes(A, STR("raw"), NULL, &l, &err));
    NULL_ARG(toto_account_get_bytes(A, STR("raw"), &bp, NULL, &err));
    NULL_ARG(toto_account_get_cbor(NULL, STR("email"), &out, &err));
    NULL_ARG(toto_account_get_cbor(A, NULL, 3, &out, &err));
    NULL_ARG(toto_account_get_cbor(A, STR("email"), NULL, &err));
    NULL_ARG(toto_account_get_json(NULL, STR("email"), &out, &err));
    NULL_ARG(toto_account_get_json(A, NULL, 3, &out, &err));
    NULL_ARG(toto_account_get_json(A, STR("email"), NULL, &err));
    NULL_ARG(toto_account_set_null(NULL, STR("x")));
    NULL_ARG(toto_account_set_null(A, NULL, 1));
    NULL_ARG(toto_account_set_bool(NULL, STR("x"), true));
    NULL_ARG(toto_account_set_bool(A, NULL, 1, true));
    NULL_ARG(toto_account_set_i64(NULL, STR("x"), 1));
    NULL_ARG(toto_account_set_i64(A, NULL, 1, 1));
    NULL_ARG(toto_account_set_f64(NULL, STR("x"), 1.0));
    NULL_ARG(toto_account_set_f64(A, NULL, 1, 1.0));
    NULL_ARG(toto_account_set_text(NULL, STR("x"), STR("v")));
    NULL_ARG(toto_account_set_text(A, NULL, 1, STR("v")));
    NULL_ARG(toto_account_set_text(A, STR("x"), NULL, 3));
    NULL_ARG(toto_account_set_bytes(NULL, STR("x"), BYTES("v")));
    NULL_ARG(toto_account_set_bytes(A, NULL, 1, BYTES("v")));
    NULL_ARG(toto_account_set_bytes(A, STR("x"), NULL, 3));
    NULL_ARG(toto_account_set_cbor(NULL, STR("x"), NULL_CBOR, 1, &err));
    NULL_ARG(toto_account_set_cbor(A, NULL, 1, NULL_CBOR, 1, &err));
    NULL_ARG(toto_account_set_cbor(A, STR("x"), NULL, 3, &err));
    NULL_ARG(toto_account_set_json(NULL, STR("x"), STR("1"), &err));
    NULL_ARG(toto_account_set_json(A, NULL, 1, STR("1"), &err));
    NULL_ARG(toto_account_set_json(A, STR("x"), NULL, 3, &err));
    size_t count = 9;
    CHECK_RC(toto_account_modified_count(A, &count), TOTO_RESULT_OK);
    CHECK(count == 0); /* none of the failed setters changed anything */
}

static void test_null_manager_functions(void) {
    toto_manager *m = (toto_manager *)&m;
    toto_session *s = NULL;
    toto_account *a = NULL;
    toto_error err = {0};
    toto_manager_options opt;
    uint64_t removed = 0;
    char pw[TOTO_GENERATED_PASSWORD_BUFFER_LEN];

    NULL_ARG(toto_manager_options_default(NULL));
    CHECK_RC(toto_manager_options_default(&opt), TOTO_RESULT_OK);
    opt.password_memory_kib = 64;
    opt.password_iterations = 1;
    NULL_ARG(toto_manager_new(NULL, ST, &opt, &m, &err));
    CHECK_ERR(err, TOTO_RESULT_NULL_ARGUMENT);
    NULL_ARG(toto_manager_new(C, NULL, &opt, &m, &err));
    NULL_ARG(toto_manager_new(C, ST, &opt, NULL, &err));
    CHECK(m == (toto_manager *)&m);
    toto_manager_free(NULL);

    NULL_ARG(toto_manager_create_session(NULL, STR("alice"), false, &s, &err));
    NULL_ARG(toto_manager_create_session(M, NULL, 3, false, &s, &err));
    NULL_ARG(toto_manager_create_session(M, STR("alice"), false, NULL, &err));
    NULL_ARG(toto_manager_retrieve_session(NULL, STR("fixture-id"), &s, &err));
    NULL_ARG(toto_manager_retrieve_session(M, STR("fixture-id"), NULL, &err));
    NULL_ARG(toto_manager_save_session(NULL, S, &err));
    NULL_ARG(toto_manager_save_session(M, NULL, &err));
    {
        char mac[TOTO_MAC_BUFFER_LEN];
        NULL_ARG(toto_manager_finish_response(NULL, S, NULL, 0, mac, sizeof mac, &err));
        NULL_ARG(toto_manager_finish_response(M, NULL, NULL, 0, mac, sizeof mac, &err));
        NULL_ARG(toto_manager_finish_response(M, S, NULL, 2, mac, sizeof mac, &err));
        NULL_ARG(toto_manager_finish_response(M, S, NULL, 0, NULL, sizeof mac, &err));
    }
    NULL_ARG(toto_manager_refresh_session(NULL, S, &err));
    NULL_ARG(toto_manager_refresh_session(M, NULL, &err));
    NULL_ARG(toto_manager_rotate_session(NULL, S, &err));
    NULL_ARG(toto_manager_rotate_session(M, NULL, &err));
    NULL_ARG(toto_manager_remove_session(NULL, STR("fixture-id"), &err));
    NULL_ARG(toto_manager_clear_sessions(NULL, STR("alice"), &removed, &err));
    NULL_ARG(toto_manager_clear_sessions(M, NULL, 3, &removed, &err));
    NULL_ARG(toto_manager_create_account(NULL, STR("bob"), STR("pw"), NULL, 0, &err));
    NULL_ARG(toto_manager_create_account(M, NULL, 3, STR("pw"), NULL, 0, &err));
    NULL_ARG(toto_manager_create_account(M, STR("bob"), NULL, 2, NULL, 0, &err));
    NULL_ARG(toto_manager_create_account(M, STR("bob"), STR("pw"), NULL, 2, &err));
    NULL_ARG(toto_manager_login(NULL, STR("alice"), STR("pw"), &s, &err));
    NULL_ARG(toto_manager_login(M, NULL, 5, STR("pw"), &s, &err));
    NULL_ARG(toto_manager_login(M, STR("alice"), NULL, 2, &s, &err));
    NULL_ARG(toto_manager_login(M, STR("alice"), STR("pw"), NULL, &err));
    NULL_ARG(toto_manager_change_password(NULL, STR("alice"), STR("a"), STR("b"), NULL, &err));
    NULL_ARG(toto_manager_change_password(M, NULL, 5, STR("a"), STR("b"), NULL, &err));
    NULL_ARG(toto_manager_change_password(M, STR("alice"), NULL, 1, STR("b"), NULL, &err));
    NULL_ARG(toto_manager_change_password(M, STR("alice"), STR("a"), NULL, 1, NULL, &err));
    NULL_ARG(toto_manager_generate_password(NULL, STR("alice"), pw, sizeof pw, &err));
    NULL_ARG(toto_manager_generate_password(M, NULL, 5, pw, sizeof pw, &err));
    NULL_ARG(toto_manager_generate_password(M, STR("alice"), NULL, sizeof pw, &err));
    NULL_ARG(toto_manager_account(NULL, STR("alice"), &a));
    NULL_ARG(toto_manager_account(M, NULL, 5, &a));
    NULL_ARG(toto_manager_account(M, STR("alice"), NULL));
    NULL_ARG(toto_manager_session_account(NULL, S, &a));
    NULL_ARG(toto_manager_session_account(M, NULL, &a));
    NULL_ARG(toto_manager_session_account(M, S, NULL));
    NULL_ARG(toto_manager_verify_request(NULL, STR("fixture-id"), STR(MAC), STR("GET"), STR("/"),
                                         NULL, 0, &s, &err));
    NULL_ARG(toto_manager_verify_request(M, STR("fixture-id"), NULL, 28, STR("GET"), STR("/"),
                                         NULL, 0, &s, &err));
    NULL_ARG(toto_manager_verify_request(M, STR("fixture-id"), STR(MAC), NULL, 3, STR("/"), NULL,
                                         0, &s, &err));
    NULL_ARG(toto_manager_verify_request(M, STR("fixture-id"), STR(MAC), STR("GET"), NULL, 1,
                                         NULL, 0, &s, &err));
    NULL_ARG(toto_manager_verify_request(M, STR("fixture-id"), STR(MAC), STR("GET"), STR("/"),
                                         NULL, 2, &s, &err));
    CHECK(s == NULL && a == NULL);
}

/* ---- invalid UTF-8 ---------------------------------------------------------------- */

static void test_invalid_utf8_everywhere(void) {
    const char *X = "\xff";
    toto_session *s = NULL;
    toto_account *a = NULL;
    toto_error err = {0};
    toto_bytes out = {0};
    bool b;
    int64_t i;
    double d;
    const char *p;
    const uint8_t *bp;
    size_t l;
    toto_value_type t;
    char pw[TOTO_GENERATED_PASSWORD_BUFFER_LEN];

    BAD_UTF8(toto_session_new(STR(X), 1.0, &s));
    BAD_UTF8(toto_session_new(STR("caf\xc3"), 1.0, &s)); /* truncated sequence */
    BAD_UTF8(toto_session_new_with_id(STR("id"), STR(X), 1.0, &s));
    BAD_ID(toto_session_new_with_id(STR(X), STR("u"), 1.0, &s)); /* ids: Toto's 1007 */
    BAD_ID(toto_session_set_id(S, STR(X)));
    BAD_UTF8(toto_session_set_key(S, STR(X)));
    /* State keys. */
    BAD_UTF8(toto_session_contains(S, STR(X), &b));
    BAD_UTF8(toto_session_delete(S, STR(X)));
    BAD_UTF8(toto_session_get_type(S, STR(X), &t));
    BAD_UTF8(toto_session_get_bool(S, STR(X), &b));
    BAD_UTF8(toto_session_get_i64(S, STR(X), &i));
    BAD_UTF8(toto_session_get_f64(S, STR(X), &d));
    BAD_UTF8(toto_session_get_text(S, STR(X), &p, &l));
    BAD_UTF8(toto_session_get_bytes(S, STR(X), &bp, &l));
    BAD_UTF8(toto_session_get_cbor(S, STR(X), &out, &err));
    CHECK_ERR(err, TOTO_RESULT_INVALID_UTF8);
    BAD_UTF8(toto_session_get_json(S, STR(X), &out, &err));
    {
        uint8_t jb[16];
        size_t jl = 0;
        BAD_UTF8(toto_session_get_json_into(S, STR(X), jb, sizeof jb, &jl, &err));
    }
    BAD_UTF8(toto_session_set_null(S, STR(X)));
    BAD_UTF8(toto_session_set_bool(S, STR(X), true));
    BAD_UTF8(toto_session_set_i64(S, STR(X), 1));
    BAD_UTF8(toto_session_set_f64(S, STR(X), 1.0));
    BAD_UTF8(toto_session_set_text(S, STR(X), STR("v")));
    BAD_UTF8(toto_session_set_text(S, STR("v"), STR(X)));
    BAD_UTF8(toto_session_set_bytes(S, STR(X), BYTES("v")));
    BAD_UTF8(toto_session_set_cbor(S, STR(X), NULL_CBOR, 1, &err));
    BAD_UTF8(toto_session_set_json(S, STR(X), STR("1"), &err));
    CHECK_RC(toto_session_set_json(S, STR("j"), STR("\"\xff\""), &err), TOTO_RESULT_INVALID_JSON);
    /* Cache. */
    BAD_UTF8(toto_cache_store(C, STR("id"), STR(X), 1.0, BYTES("r"), 0, NULL, &err));
    BAD_ID(toto_cache_store(C, STR(X), STR("u"), 1.0, BYTES("r"), 0, NULL, &err));
    BAD_ID(toto_cache_load(C, STR(X), &out, &err));
    BAD_ID(toto_cache_remove(C, STR(X), &err));
    BAD_ID(toto_cache_load_session(C, STR(X), &s, &err));
    BAD_UTF8(toto_cache_remove_user(C, STR(X), NULL, &err));
    toto_cache *rc = NULL;
    BAD_UTF8(toto_cache_new_redis(STR(X), NULL, &rc, &err));
    CHECK(rc == NULL);
    /* Accounts. */
    BAD_UTF8(toto_account_store_create(ST, STR(X), &err));
    BAD_UTF8(toto_account_store_remove(ST, STR(X), &err));
    BAD_UTF8(toto_account_new(ST, STR(X), &a));
    toto_str names[] = {{STR("email")}, {STR(X)}};
    BAD_UTF8(toto_account_load(A, names, 2, &err));
    BAD_UTF8(toto_account_is_modified(A, STR(X), &b));
    BAD_UTF8(toto_account_get_type(A, STR(X), &t, &err));
    BAD_UTF8(toto_account_get_bool(A, STR(X), &b, &err));
    BAD_UTF8(toto_account_get_i64(A, STR(X), &i, &err));
    BAD_UTF8(toto_account_get_f64(A, STR(X), &d, &err));
    BAD_UTF8(toto_account_get_text(A, STR(X), &p, &l, &err));
    BAD_UTF8(toto_account_get_bytes(A, STR(X), &bp, &l, &err));
    BAD_UTF8(toto_account_get_cbor(A, STR(X), &out, &err));
    BAD_UTF8(toto_account_get_json(A, STR(X), &out, &err));
    BAD_UTF8(toto_account_set_null(A, STR(X)));
    BAD_UTF8(toto_account_set_bool(A, STR(X), true));
    BAD_UTF8(toto_account_set_i64(A, STR(X), 1));
    BAD_UTF8(toto_account_set_f64(A, STR(X), 1.0));
    BAD_UTF8(toto_account_set_text(A, STR(X), STR("v")));
    BAD_UTF8(toto_account_set_text(A, STR("v"), STR(X)));
    BAD_UTF8(toto_account_set_bytes(A, STR(X), BYTES("v")));
    BAD_UTF8(toto_account_set_cbor(A, STR(X), NULL_CBOR, 1, &err));
    BAD_UTF8(toto_account_set_json(A, STR(X), STR("1"), &err));
    /* Manager. */
    BAD_UTF8(toto_manager_create_session(M, STR(X), false, &s, &err));
    BAD_ID(toto_manager_retrieve_session(M, STR(X), &s, &err));
    BAD_ID(toto_manager_remove_session(M, STR(X), &err));
    BAD_UTF8(toto_manager_clear_sessions(M, STR(X), NULL, &err));
    BAD_UTF8(toto_manager_create_account(M, STR(X), STR("pw"), NULL, 0, &err));
    BAD_UTF8(toto_manager_create_account(M, STR("newbie"), STR(X), NULL, 0, &err));
    CHECK_RC(toto_manager_create_account(M, STR("newbie"), STR("pw"), STR("\xff"), &err),
             TOTO_RESULT_INVALID_JSON);
    BAD_UTF8(toto_manager_login(M, STR(X), STR("pw"), &s, &err));
    BAD_UTF8(toto_manager_login(M, STR("alice"), STR(X), &s, &err));
    BAD_UTF8(toto_manager_change_password(M, STR(X), STR("a"), STR("b"), NULL, &err));
    BAD_UTF8(toto_manager_change_password(M, STR("alice"), STR(X), STR("b"), NULL, &err));
    BAD_UTF8(toto_manager_change_password(M, STR("alice"), STR("a"), STR(X), NULL, &err));
    BAD_UTF8(toto_manager_generate_password(M, STR(X), pw, sizeof pw, &err));
    BAD_UTF8(toto_manager_account(M, STR(X), &a));
    BAD_ID(toto_manager_verify_request(M, STR(X), STR(MAC), STR("GET"), STR("/"), NULL, 0, &s,
                                       &err));
    CHECK(s == NULL && a == NULL);
    size_t count = 9;
    CHECK_RC(toto_account_modified_count(A, &count), TOTO_RESULT_OK);
    CHECK(count == 0);
}

/* ---- overlong inputs ---------------------------------------------------------------- */

static void test_overlong_inputs(void) {
    toto_session *s = NULL;
    toto_account *a = NULL;
    toto_error err = {0};
    toto_bytes out = {0};
    bool b;
    int64_t i;
    const char *p;
    size_t l;
    char mac[TOTO_MAC_BUFFER_LEN];
    char pw[TOTO_GENERATED_PASSWORD_BUFFER_LEN];

    /* User ids over TOTO_MAX_USER_ID_LEN: TOO_LARGE. */
    TOO_LARGE(toto_session_new(STR(LONG_USER), 1.0, &s));
    TOO_LARGE(toto_session_new_with_id(STR("id"), STR(LONG_USER), 1.0, &s));
    TOO_LARGE(toto_cache_store(C, STR("id"), STR(LONG_USER), 1.0, BYTES("r"), 0, NULL, &err));
    CHECK_ERR(err, TOTO_RESULT_TOO_LARGE);
    TOO_LARGE(toto_cache_remove_user(C, STR(LONG_USER), NULL, &err));
    TOO_LARGE(toto_account_store_create(ST, STR(LONG_USER), &err));
    TOO_LARGE(toto_account_store_remove(ST, STR(LONG_USER), &err));
    TOO_LARGE(toto_account_new(ST, STR(LONG_USER), &a));
    TOO_LARGE(toto_manager_create_session(M, STR(LONG_USER), false, &s, &err));
    TOO_LARGE(toto_manager_clear_sessions(M, STR(LONG_USER), NULL, &err));
    TOO_LARGE(toto_manager_create_account(M, STR(LONG_USER), STR("pw"), NULL, 0, &err));
    TOO_LARGE(toto_manager_login(M, STR(LONG_USER), STR("pw"), &s, &err));
    TOO_LARGE(toto_manager_change_password(M, STR(LONG_USER), STR("a"), STR("b"), NULL, &err));
    TOO_LARGE(toto_manager_generate_password(M, STR(LONG_USER), pw, sizeof pw, &err));
    TOO_LARGE(toto_manager_account(M, STR(LONG_USER), &a));
    /* Session ids over TOTO_MAX_SESSION_ID_LEN: Toto's 1007. */
    BAD_ID(toto_session_new_with_id(STR(LONG_ID), STR("u"), 1.0, &s));
    BAD_ID(toto_session_set_id(S, STR(LONG_ID)));
    BAD_ID(toto_cache_store(C, STR(LONG_ID), STR("u"), 1.0, BYTES("r"), 0, NULL, &err));
    BAD_ID(toto_cache_load(C, STR(LONG_ID), &out, &err));
    BAD_ID(toto_cache_remove(C, STR(LONG_ID), &err));
    BAD_ID(toto_cache_load_session(C, STR(LONG_ID), &s, &err));
    BAD_ID(toto_manager_retrieve_session(M, STR(LONG_ID), &s, &err));
    BAD_ID(toto_manager_remove_session(M, STR(LONG_ID), &err));
    BAD_ID(toto_manager_verify_request(M, STR(LONG_ID), STR(MAC), STR("GET"), STR("/"), NULL, 0,
                                       &s, &err));
    /* Redis URLs over TOTO_MAX_REDIS_TEXT_LEN. */
    char *long_url = repeat_char('r', TOTO_MAX_REDIS_TEXT_LEN + 1);
    toto_cache *rc = NULL;
    TOO_LARGE(toto_cache_new_redis(STR(long_url), NULL, &rc, &err));
    CHECK(rc == NULL);
    free(long_url);
    /* HMAC keys over TOTO_MAX_KEY_LEN. */
    TOO_LARGE(toto_session_set_key(S, STR(LONG_KEY)));
    TOO_LARGE(toto_hmac(BYTES(LONG_KEY), BYTES("m"), mac, sizeof mac));
    TOO_LARGE(toto_verify(BYTES(LONG_KEY), STR(MAC), BYTES("m")));
    /* Names over TOTO_MAX_NAME_LEN. */
    TOO_LARGE(toto_session_set_i64(S, STR(LONG_NAME), 1));
    TOO_LARGE(toto_session_get_i64(S, STR(LONG_NAME), &i));
    TOO_LARGE(toto_session_contains(S, STR(LONG_NAME), &b));
    TOO_LARGE(toto_session_delete(S, STR(LONG_NAME)));
    TOO_LARGE(toto_session_get_text(S, STR(LONG_NAME), &p, &l));
    TOO_LARGE(toto_session_get_cbor(S, STR(LONG_NAME), &out, &err));
    TOO_LARGE(toto_session_set_json(S, STR(LONG_NAME), STR("1"), &err));
    TOO_LARGE(toto_account_set_i64(A, STR(LONG_NAME), 1));
    TOO_LARGE(toto_account_get_i64(A, STR(LONG_NAME), &i, &err));
    TOO_LARGE(toto_account_is_modified(A, STR(LONG_NAME), &b));
    toto_str names[] = {{STR(LONG_NAME)}};
    TOO_LARGE(toto_account_load(A, names, 1, &err));
    /* Passwords over TOTO_MAX_PASSWORD_LEN. */
    TOO_LARGE(toto_manager_create_account(M, STR("longpw"), STR(LONG_PASS), NULL, 0, &err));
    TOO_LARGE(toto_manager_login(M, STR("alice"), STR(LONG_PASS), &s, &err));
    TOO_LARGE(toto_manager_change_password(M, STR("alice"), STR(LONG_PASS), STR("b"), NULL, &err));
    TOO_LARGE(toto_manager_change_password(M, STR("alice"), STR("a"), STR(LONG_PASS), NULL, &err));
    CHECK(s == NULL && a == NULL);
    const char *k = NULL;
    CHECK_RC(toto_session_key(S, &k, &l), TOTO_RESULT_OK);
    CHECK_STR(k, l, "k3y");
}

/* ---- wrong handle types ------------------------------------------------------------ */

/*
 * A live handle of another type where a session / account / manager / callback context
 * is expected. Besides the code, the check must only read memory of the object it was
 * given (valgrind reports reads past a smaller object, or of its uninitialised bytes).
 */
static void test_wrong_handle_type_reads_only_the_object(void) {
    toto_session *as_session = (toto_session *)C;
    toto_account *as_account = (toto_account *)ST;
    toto_manager *as_manager = (toto_manager *)C;
    toto_error err = {0};
    toto_bytes out = {0};
    toto_session *s = NULL;
    toto_account *a = NULL;
    const char *p;
    size_t l;
    bool b;
    int64_t i;
    double d;
    toto_value_type t;
    char mac[TOTO_MAC_BUFFER_LEN];

    BAD_HANDLE(toto_session_id(as_session, &p, &l));
    BAD_HANDLE(toto_session_user_id(as_session, &p, &l));
    BAD_HANDLE(toto_session_expires(as_session, &d));
    BAD_HANDLE(toto_session_set_expires(as_session, 1.0));
    BAD_HANDLE(toto_session_set_id(as_session, STR("x")));
    BAD_HANDLE(toto_session_key(as_session, &p, &l));
    BAD_HANDLE(toto_session_set_key(as_session, STR("k")));
    BAD_HANDLE(toto_session_generate_key(as_session, &p, &l));
    BAD_HANDLE(toto_session_is_dirty(as_session, &b));
    BAD_HANDLE(toto_session_mark_clean(as_session));
    BAD_HANDLE(toto_session_export(as_session, &out, &err));
    CHECK_ERR(err, TOTO_RESULT_INVALID_HANDLE);
    BAD_HANDLE(toto_session_hmac(as_session, BYTES("m"), mac, sizeof mac));
    BAD_HANDLE(toto_session_verify(as_session, STR(MAC), BYTES("m")));
    BAD_HANDLE(toto_session_sign_request(as_session, STR("GET"), STR("/"), NULL, 0, mac,
                                         sizeof mac));
    BAD_HANDLE(toto_session_verify_request(as_session, STR(MAC), STR("GET"), STR("/"), NULL, 0));
    BAD_HANDLE(toto_session_sign_response(as_session, NULL, 0, mac, sizeof mac));
    BAD_HANDLE(toto_session_verify_response(as_session, STR(MAC), BYTES("x")));
    BAD_HANDLE(toto_session_len(as_session, &l));
    BAD_HANDLE(toto_session_key_at(as_session, 0, &p, &l));
    BAD_HANDLE(toto_session_contains(as_session, STR("t"), &b));
    BAD_HANDLE(toto_session_delete(as_session, STR("t")));
    BAD_HANDLE(toto_session_clear(as_session));
    BAD_HANDLE(toto_session_get_type(as_session, STR("t"), &t));
    BAD_HANDLE(toto_session_get_i64(as_session, STR("i"), &i));
    BAD_HANDLE(toto_session_get_text(as_session, STR("t"), &p, &l));
    BAD_HANDLE(toto_session_get_json(as_session, STR("t"), &out, &err));
    {
        uint8_t jb[16];
        size_t jl = 0;
        BAD_HANDLE(toto_session_get_json_into(as_session, STR("t"), jb, sizeof jb, &jl, &err));
    }
    BAD_HANDLE(toto_session_set_i64(as_session, STR("i"), 2));
    BAD_HANDLE(toto_session_set_cbor(as_session, STR("i"), NULL_CBOR, 1, &err));
    toto_session_free(as_session); /* not a live session: ignored */
    BAD_HANDLE(toto_cache_store_session(C, as_session, &err));
    BAD_HANDLE(toto_manager_session_account(M, as_session, &a));
    BAD_HANDLE(toto_manager_save_session(M, as_session, &err));
    {
        char mac[TOTO_MAC_BUFFER_LEN];
        BAD_HANDLE(toto_manager_finish_response(M, as_session, NULL, 0, mac, sizeof mac, &err));
    }

    BAD_HANDLE(toto_account_user_id(as_account, &p, &l));
    BAD_HANDLE(toto_account_load(as_account, NULL, 0, &err));
    BAD_HANDLE(toto_account_load_all(as_account, &err));
    BAD_HANDLE(toto_account_save(as_account, &err));
    BAD_HANDLE(toto_account_is_modified(as_account, STR("x"), &b));
    BAD_HANDLE(toto_account_modified_count(as_account, &l));
    BAD_HANDLE(toto_account_get_i64(as_account, STR("x"), &i, &err));
    BAD_HANDLE(toto_account_get_text(as_account, STR("x"), &p, &l, &err));
    BAD_HANDLE(toto_account_set_i64(as_account, STR("x"), 1));
    BAD_HANDLE(toto_account_set_json(as_account, STR("x"), STR("1"), &err));
    toto_account_free(as_account); /* ignored */

    BAD_HANDLE(toto_manager_create_session(as_manager, STR("u"), false, &s, &err));
    BAD_HANDLE(toto_manager_retrieve_session(as_manager, STR("fixture-id"), &s, &err));
    BAD_HANDLE(toto_manager_save_session(as_manager, S, &err));
    {
        char mac[TOTO_MAC_BUFFER_LEN];
        BAD_HANDLE(toto_manager_finish_response(as_manager, S, NULL, 0, mac, sizeof mac, &err));
    }
    BAD_HANDLE(toto_manager_account(as_manager, STR("alice"), &a));
    toto_manager_free(as_manager); /* ignored */
    CHECK(s == NULL && a == NULL);

    /* A fresh session (no key, empty state) where a callback context is expected. */
    toto_session *fresh = new_session("u");
    if (fresh) {
        toto_callback_ctx *as_ctx = (toto_callback_ctx *)fresh;
        BAD_HANDLE(toto_callback_set_result(as_ctx, BYTES("r")));
        BAD_HANDLE(toto_callback_add_property(as_ctx, STR("p"), NULL_CBOR, 1));
        BAD_HANDLE(toto_callback_set_error(as_ctx, STR("m")));
        BAD_HANDLE(toto_callback_set_expires(as_ctx, 1.0));
        toto_session_free(fresh);
    }

    /* The handles used above are all still fine. */
    CHECK_RC(toto_session_get_i64(S, STR("i"), &i), TOTO_RESULT_OK);
    if (CHECK_RC(toto_cache_load(C, STR("fixture-id"), &out, &err), TOTO_RESULT_OK)) {
        toto_bytes_free(&out);
    }
    CHECK_RC(toto_account_store_create(ST, STR("still-works"), &err), TOTO_RESULT_OK);
}

/* A live handle of another type where a cache / store / callback context is expected. */
static void test_wrong_handle_type(void) {
    toto_cache *as_cache = (toto_cache *)S;
    toto_account_store *as_store = (toto_account_store *)A;
    toto_callback_ctx *as_ctx = (toto_callback_ctx *)S;
    toto_error err = {0};
    toto_bytes out = {0};
    toto_session *s = NULL;
    toto_account *a = NULL;
    toto_manager *m = NULL;

    BAD_HANDLE(toto_cache_store(as_cache, STR("id"), STR("u"), 1.0, BYTES("r"), 0, NULL, &err));
    CHECK_ERR(err, TOTO_RESULT_INVALID_HANDLE);
    BAD_HANDLE(toto_cache_load(as_cache, STR("fixture-id"), &out, &err));
    BAD_HANDLE(toto_cache_remove(as_cache, STR("fixture-id"), &err));
    BAD_HANDLE(toto_cache_remove_user(as_cache, STR("alice"), NULL, &err));
    BAD_HANDLE(toto_cache_store_session(as_cache, S, &err));
    BAD_HANDLE(toto_cache_load_session(as_cache, STR("fixture-id"), &s, &err));
    BAD_HANDLE(toto_manager_new(as_cache, ST, NULL, &m, &err));

    BAD_HANDLE(toto_account_store_create(as_store, STR("bob"), &err));
    BAD_HANDLE(toto_account_store_remove(as_store, STR("alice"), &err));
    BAD_HANDLE(toto_account_new(as_store, STR("alice"), &a));
    BAD_HANDLE(toto_manager_new(C, as_store, NULL, &m, &err));

    BAD_HANDLE(toto_callback_set_result(as_ctx, BYTES("r")));
    BAD_HANDLE(toto_callback_add_property(as_ctx, STR("p"), NULL_CBOR, 1));
    BAD_HANDLE(toto_callback_set_error(as_ctx, STR("m")));
    BAD_HANDLE(toto_callback_set_expires(as_ctx, 1.0));
    CHECK(s == NULL && a == NULL && m == NULL);

    int64_t i = 0;
    CHECK_RC(toto_session_get_i64(S, STR("i"), &i), TOTO_RESULT_OK);
    size_t n = 9;
    CHECK_RC(toto_account_modified_count(A, &n), TOTO_RESULT_OK);
    CHECK(n == 0);
}

static void test_foreign_memory_is_not_a_handle(void) {
    /* Zeroed caller memory, and a misaligned pointer into it. */
    static uint64_t zeros[512];
    toto_session *fake = (toto_session *)zeros;
    toto_session *odd = (toto_session *)((char *)zeros + 1);
    size_t l = 0;
    const char *p = NULL;
    BAD_HANDLE(toto_session_len(fake, &l));
    BAD_HANDLE(toto_session_id(fake, &p, &l));
    BAD_HANDLE(toto_session_len(odd, &l));
    BAD_HANDLE(toto_cache_remove((toto_cache *)zeros, STR("id"), NULL));
    BAD_HANDLE(toto_account_modified_count((toto_account *)zeros, &l));
    BAD_HANDLE(toto_account_store_create((toto_account_store *)zeros, STR("x"), NULL));
    BAD_HANDLE(toto_manager_remove_session((toto_manager *)zeros, STR("id"), NULL));
    BAD_HANDLE(toto_callback_set_error((toto_callback_ctx *)zeros, STR("m")));
    toto_session_free(fake);
    toto_session_free(odd);
}

/* ---- result codes and version ---------------------------------------------------- */

static void test_result_messages(void) {
    const uint32_t codes[] = {
        TOTO_RESULT_OK,
        TOTO_RESULT_NULL_ARGUMENT,
        TOTO_RESULT_INVALID_UTF8,
        TOTO_RESULT_TOO_LARGE,
        TOTO_RESULT_INVALID_ARGUMENT,
        TOTO_RESULT_NOT_FOUND,
        TOTO_RESULT_TYPE_MISMATCH,
        TOTO_RESULT_INVALID_CBOR,
        TOTO_RESULT_UNSUPPORTED_VERSION,
        TOTO_RESULT_INVALID_JSON,
        TOTO_RESULT_BACKEND_FAILED,
        TOTO_RESULT_BACKEND_MISBEHAVED,
        TOTO_RESULT_UNSUPPORTED,
        TOTO_RESULT_ID_COLLISION,
        TOTO_RESULT_INVALID_HANDLE,
        TOTO_RESULT_PANIC,
        TOTO_RESULT_BACKEND_UNAVAILABLE,
        TOTO_RESULT_SESSION_REVOKED,
        TOTO_RESULT_CONFLICT,
        TOTO_RESULT_NOT_AUTHORIZED,
        TOTO_RESULT_INVALID_CREDENTIALS,
        TOTO_RESULT_USER_ID_EXISTS,
        TOTO_RESULT_INVALID_SESSION_ID,
        TOTO_RESULT_INVALID_HMAC,
        TOTO_RESULT_INVALID_USER_ID,
    };
    const size_t n = sizeof codes / sizeof codes[0];
    const char *unknown = toto_result_message(19);
    CHECK(unknown != NULL && strcmp(unknown, "unknown result code") == 0);
    for (size_t i = 0; i < n; i++) {
        const char *m = toto_result_message(codes[i]);
        if (!CHECK(m != NULL && m[0] != '\0' && strcmp(m, unknown) != 0)) {
            printf("#     code %u\n", (unsigned)codes[i]);
            continue;
        }
        CHECK(utf8_valid(m, strlen(m)));
        CHECK(m == toto_result_message(codes[i])); /* static */
        for (size_t j = 0; j < i; j++) CHECK(strcmp(m, toto_result_message(codes[j])) != 0);
    }
    /* Toto's numbers and texts. */
    CHECK(TOTO_RESULT_NOT_AUTHORIZED == 1004 && TOTO_RESULT_INVALID_CREDENTIALS == 1005 &&
          TOTO_RESULT_USER_ID_EXISTS == 1006 && TOTO_RESULT_INVALID_SESSION_ID == 1007 &&
          TOTO_RESULT_INVALID_HMAC == 1008 && TOTO_RESULT_INVALID_USER_ID == 1010);
    CHECK(strcmp(toto_result_message(1005), "Invalid user ID or password") == 0);
    CHECK(strcmp(toto_result_message(1006), "User ID already in use.") == 0);
    CHECK(strcmp(toto_result_message(1008), "Invalid HMAC") == 0);
    CHECK(strcmp(toto_result_message(1010), "Invalid user ID.") == 0);
    CHECK(TOTO_RESULT_BACKEND_UNAVAILABLE == 16);
    CHECK(TOTO_RESULT_SESSION_REVOKED == 17 && TOTO_RESULT_CONFLICT == 18);
    /* Toto's protocol codes, which no call returns but a server sends. */
    CHECK(strcmp(toto_result_message(1000), "Server error") == 0);
    CHECK(strcmp(toto_result_message(1001), "Invalid method") == 0);
    CHECK(strcmp(toto_result_message(1002), "Missing method.") == 0);
    CHECK(strcmp(toto_result_message(1003), "Missing parameters") == 0);
    CHECK(strcmp(toto_result_message(1009), "Invalid response HMAC") == 0);
    const uint32_t unknowns[] = {19, 99, 100, 999, 1011, 0x7fffffffu, 0xffffffffu};
    for (size_t i = 0; i < sizeof unknowns / sizeof unknowns[0]; i++) {
        const char *m = toto_result_message(unknowns[i]);
        CHECK(m != NULL && strcmp(m, "unknown result code") == 0);
    }
}

static void test_version(void) {
    const char *v = toto_version();
    if (!CHECK(v != NULL)) return;
    CHECK(strcmp(v, TOTO_SESSION_VERSION) == 0);
    char parts[64];
    snprintf(parts, sizeof parts, "%d.%d.%d", TOTO_SESSION_VERSION_MAJOR,
             TOTO_SESSION_VERSION_MINOR, TOTO_SESSION_VERSION_PATCH);
    CHECK(strcmp(v, parts) == 0);
    CHECK(v == toto_version());
}

static bool g_setup_ok;

static void test_setup(void) {
    g_setup_ok = setup();
}

int main(void) {
    RUN(test_setup);
    if (!g_setup_ok) {
        teardown();
        return finish();
    }
    RUN(test_null_session_functions);
    RUN(test_null_session_id_arguments);
    RUN(test_null_state_functions);
    RUN(test_null_sign_and_misc);
    RUN(test_null_cache_functions);
    RUN(test_null_account_functions);
    RUN(test_null_manager_functions);
    RUN(test_invalid_utf8_everywhere);
    RUN(test_overlong_inputs);
    RUN(test_wrong_handle_type);
    RUN(test_wrong_handle_type_reads_only_the_object);
    RUN(test_foreign_memory_is_not_a_handle);
    RUN(test_result_messages);
    RUN(test_version);
    teardown();
    return finish();
}
