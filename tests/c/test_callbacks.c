/*
 * test_callbacks.c: misbehaving and failing backends. Each fault of the C cache and
 * account store (support.c) gives its documented code: BACKEND_FAILED with the
 * callback's own message, INVALID_CBOR for garbage, TOO_LARGE for oversized results,
 * BACKEND_MISBEHAVED for a result set twice, a result where none is taken or an
 * invalid new id. And nothing is lost: a session whose store failed keeps its state
 * and dirty flag, and a retry after the fault is cleared succeeds.
 */
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    test_cache *tc;
    toto_cache *cache;
    int freed;
} cache_fixture;

static bool cache_setup(cache_fixture *f) {
    f->freed = 0;
    f->tc = test_cache_new(&f->freed);
    f->cache = test_cache_make(f->tc);
    if (!f->cache) {
        test_cache_destroy(f->tc);
        return false;
    }
    return true;
}

static void cache_teardown(cache_fixture *f) {
    toto_cache_free(f->cache);
    CHECK(f->freed == 1);
}

typedef struct {
    test_store *ts;
    toto_account_store *store;
    int freed;
} store_fixture;

static bool store_setup(store_fixture *f) {
    f->freed = 0;
    f->ts = test_store_new(&f->freed);
    f->store = test_store_make(f->ts);
    if (!f->store) {
        test_store_destroy(f->ts);
        return false;
    }
    static const uint8_t email[] = {0x6d, 'a', '@', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.',
                                    'c', 'o', 'm'};
    test_store_put(f->ts, "ann", "email", email, sizeof email);
    return true;
}

static void store_teardown(store_fixture *f) {
    toto_account_store_free(f->store);
    CHECK(f->freed == 1);
}

static uint32_t store_rec(const toto_cache *c, const char *id, toto_error *err) {
    return toto_cache_store(c, STR(id), STR("alice"), now_seconds() + 60, BYTES("record"), 0,
                            NULL, err);
}

/* ---- cache faults ---- */

static void test_cache_failure_carries_the_backend_message(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    CHECK_RC(store_rec(f.cache, "s1", NULL), TOTO_RESULT_OK);
    f.tc->fault_message = "redis: connection refused";
    const uint32_t codes[] = {0 /* BACKEND_FAILED */, TOTO_RESULT_INVALID_ARGUMENT,
                              TOTO_RESULT_INVALID_SESSION_ID, 500};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        f.tc->fault_code = codes[i];
        toto_error err = {0};
        toto_bytes out = {0};
        uint64_t removed = 0;
        toto_session *t = NULL;
        test_cache_fault(f.tc, FAULT_FAIL, OP_ALL);
        CHECK_RC(store_rec(f.cache, "s1", &err), TOTO_RESULT_BACKEND_FAILED);
        CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED);
        CHECK(strstr(err.message, "redis: connection refused") != NULL);
        CHECK(f.tc->last_cb_rc == TOTO_RESULT_OK); /* set_error itself succeeded */
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_BACKEND_FAILED);
        CHECK(strstr(err.message, "redis: connection refused") != NULL);
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_cache_load_session(f.cache, STR("s1"), &t, &err),
                 TOTO_RESULT_BACKEND_FAILED);
        CHECK(strstr(err.message, "redis: connection refused") != NULL);
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_cache_remove(f.cache, STR("s1"), &err), TOTO_RESULT_BACKEND_FAILED);
        CHECK(strstr(err.message, "redis: connection refused") != NULL);
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_cache_remove_user(f.cache, STR("alice"), &removed, &err),
                 TOTO_RESULT_BACKEND_FAILED);
        CHECK(strstr(err.message, "redis: connection refused") != NULL);
        CHECK(out.data == NULL);
    }
    /* Without a message the code still says what happened. */
    test_cache_fault(f.tc, FAULT_RETURN_CODE, OP_LOAD);
    f.tc->fault_code = TOTO_RESULT_BACKEND_FAILED;
    toto_error err = {0};
    toto_bytes out = {0};
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_BACKEND_FAILED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED);
    /* Cleared fault: the data is still there. */
    test_cache_fault(f.tc, FAULT_NONE, 0);
    if (CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_OK)) {
        CHECK_MEM(out.data, out.len, "record", 6);
        toto_bytes_free(&out);
    }
    cache_teardown(&f);
}

static void test_cache_unknown_code(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    test_cache_fault(f.tc, FAULT_UNKNOWN_CODE, OP_ALL);
    toto_error err = {0};
    toto_bytes out = {0};
    CHECK_RC(store_rec(f.cache, "s1", &err), TOTO_RESULT_BACKEND_FAILED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED);
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_BACKEND_FAILED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED);
    CHECK_RC(toto_cache_remove(f.cache, STR("s1"), &err), TOTO_RESULT_BACKEND_FAILED);
    CHECK_RC(toto_cache_remove_user(f.cache, STR("alice"), NULL, &err),
             TOTO_RESULT_BACKEND_FAILED);
    cache_teardown(&f);
}

static void test_cache_known_codes_pass_through(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    toto_error err = {0};
    toto_bytes out = {0};
    /* UNSUPPORTED from any callback is reported as such. */
    test_cache_fault(f.tc, FAULT_RETURN_CODE, OP_LOAD);
    f.tc->fault_code = TOTO_RESULT_UNSUPPORTED;
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_UNSUPPORTED);
    CHECK_ERR(err, TOTO_RESULT_UNSUPPORTED);
    /* A store answering ID_COLLISION is a collision. */
    test_cache_fault(f.tc, FAULT_RETURN_CODE, OP_STORE);
    f.tc->fault_code = TOTO_RESULT_ID_COLLISION;
    CHECK_RC(store_rec(f.cache, "s1", &err), TOTO_RESULT_ID_COLLISION);
    /* A store answering NOT_FOUND broke its contract. */
    f.tc->fault_code = TOTO_RESULT_NOT_FOUND;
    memset(&err, 0, sizeof err);
    CHECK_RC(store_rec(f.cache, "s1", &err), TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
    cache_teardown(&f);
}

static void test_cache_garbage_record(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    CHECK_RC(store_rec(f.cache, "s1", NULL), TOTO_RESULT_OK);
    test_cache_fault(f.tc, FAULT_GARBAGE, OP_LOAD);
    toto_error err = {0};
    toto_bytes out = {0};
    /* The raw load hands back whatever the cache holds... */
    if (CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_OK)) {
        CHECK_MEM(out.data, out.len, "\xff\x00garbage", 9);
        toto_bytes_free(&out);
    }
    /* ...but it is not a session. */
    toto_session *t = (toto_session *)&err;
    CHECK_RC(toto_cache_load_session(f.cache, STR("s1"), &t, &err), TOTO_RESULT_INVALID_CBOR);
    CHECK_ERR(err, TOTO_RESULT_INVALID_CBOR);
    CHECK(t == (toto_session *)&err);
    CHECK(f.tc->removes == 0); /* the bad record is left in place */
    cache_teardown(&f);
}

static void test_cache_huge_record(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    test_cache_fault(f.tc, FAULT_HUGE, OP_LOAD);
    toto_error err = {0};
    toto_bytes out = {0};
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_TOO_LARGE);
    CHECK_ERR(err, TOTO_RESULT_TOO_LARGE);
    CHECK(f.tc->last_cb_rc == TOTO_RESULT_TOO_LARGE); /* set_result refused it */
    CHECK(out.data == NULL);
    toto_session *t = NULL;
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_cache_load_session(f.cache, STR("s1"), &t, &err), TOTO_RESULT_TOO_LARGE);
    CHECK_ERR(err, TOTO_RESULT_TOO_LARGE);
    cache_teardown(&f);
}

static void test_cache_result_set_twice(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    CHECK_RC(store_rec(f.cache, "s1", NULL), TOTO_RESULT_OK);
    test_cache_fault(f.tc, FAULT_SET_TWICE, OP_LOAD | OP_STORE);
    toto_error err = {0};
    toto_bytes out = {0};
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK(f.tc->last_cb_rc == TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK(out.data == NULL);
    memset(&err, 0, sizeof err);
    CHECK_RC(store_rec(f.cache, "s2", &err), TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK(f.tc->last_cb_rc == TOTO_RESULT_BACKEND_MISBEHAVED);
    cache_teardown(&f);
}

static void test_cache_result_on_remove(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    CHECK_RC(store_rec(f.cache, "s1", NULL), TOTO_RESULT_OK);
    test_cache_fault(f.tc, FAULT_RESULT_ON_REMOVE, OP_REMOVE | OP_REMOVE_USER);
    toto_error err = {0};
    CHECK_RC(toto_cache_remove(f.cache, STR("s1"), &err), TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK(f.tc->last_cb_rc == TOTO_RESULT_BACKEND_MISBEHAVED);
    memset(&err, 0, sizeof err);
    uint64_t removed = 77;
    CHECK_RC(toto_cache_remove_user(f.cache, STR("alice"), &removed, &err),
             TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK(removed == 77);
    cache_teardown(&f);
}

static void test_cache_invalid_new_id(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    test_cache_fault(f.tc, FAULT_BAD_NEW_ID, OP_STORE);
    toto_error err = {0};
    toto_bytes new_id = {(uint8_t *)&err, 3};
    CHECK_RC(toto_cache_store(f.cache, STR("s1"), STR("u"), now_seconds() + 60, BYTES("r"), 0,
                              &new_id, &err),
             TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK(new_id.data == (uint8_t *)&err && new_id.len == 3);
    CHECK(f.tc->last_cb_rc == TOTO_RESULT_OK); /* set_result took it; the library refused it */
    /* Other invalid ids: not printable ASCII, or too long. */
    snprintf(f.tc->rename_to, sizeof f.tc->rename_to, "caf\xc3\xa9");
    test_cache_fault(f.tc, FAULT_RENAME, OP_STORE);
    CHECK_RC(store_rec(f.cache, "s2", &err), TOTO_RESULT_BACKEND_MISBEHAVED);
    cache_teardown(&f);
}

static uint32_t long_new_id_hook(void *arg, unsigned op, toto_callback_ctx *ctx) {
    uint32_t *rc = arg;
    if (op == OP_STORE) {
        char id[TOTO_MAX_SESSION_ID_LEN + 2];
        memset(id, 'n', sizeof id);
        *rc = toto_callback_set_result(ctx, (const uint8_t *)id, TOTO_MAX_SESSION_ID_LEN + 1);
        return TOTO_RESULT_OK;
    }
    return HOOK_CONTINUE;
}

static void test_cache_too_long_new_id(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    uint32_t rc = 0;
    f.tc->hook = long_new_id_hook;
    f.tc->hook_arg = &rc;
    toto_error err = {0};
    CHECK_RC(store_rec(f.cache, "s1", &err), TOTO_RESULT_TOO_LARGE);
    CHECK_ERR(err, TOTO_RESULT_TOO_LARGE);
    CHECK(rc == TOTO_RESULT_TOO_LARGE);
    cache_teardown(&f);
}

/* A load callback that answers OK without handing back a record broke its contract
 * ("hand the record to toto_callback_set_result and return TOTO_RESULT_OK, or return
 * TOTO_RESULT_NOT_FOUND"); the caller should hear about it rather than see a session
 * silently vanish. */
static void test_cache_load_ok_without_record(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    CHECK_RC(store_rec(f.cache, "s1", NULL), TOTO_RESULT_OK);
    test_cache_fault(f.tc, FAULT_OK_WITHOUT_RESULT, OP_LOAD);
    toto_error err = {0};
    toto_bytes out = {0};
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_BACKEND_MISBEHAVED);
    toto_bytes_free(&out);
    cache_teardown(&f);
}

static void test_store_session_failure_keeps_state_then_retry(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    toto_session *s = new_session("alice");
    if (!s) {
        cache_teardown(&f);
        return;
    }
    char id[TOTO_MAX_SESSION_ID_LEN + 1];
    session_id_copy(s, id, sizeof id);
    CHECK_RC(toto_session_set_text(s, STR("cart"), STR("3 apples")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_i64(s, STR("visits"), 0), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_key(s, STR("k3y")), TOTO_RESULT_OK);

    const int faults[] = {FAULT_FAIL, FAULT_UNKNOWN_CODE, FAULT_BAD_NEW_ID, FAULT_SET_TWICE};
    f.tc->fault_message = "disk full";
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        test_cache_fault(f.tc, faults[i], OP_STORE);
        toto_error err = {0};
        uint32_t want = faults[i] == FAULT_FAIL || faults[i] == FAULT_UNKNOWN_CODE
                            ? TOTO_RESULT_BACKEND_FAILED
                            : TOTO_RESULT_BACKEND_MISBEHAVED;
        CHECK_RC(toto_cache_store_session(f.cache, s, &err), want);
        CHECK_ERR(err, want);
        if (faults[i] == FAULT_FAIL) CHECK(strstr(err.message, "disk full") != NULL);
        /* Nothing lost: same id, same state, still dirty. */
        bool dirty = false;
        const char *p = NULL;
        size_t l = 0, n = 0;
        CHECK_RC(toto_session_is_dirty(s, &dirty), TOTO_RESULT_OK);
        CHECK(dirty);
        CHECK_RC(toto_session_id(s, &p, &l), TOTO_RESULT_OK);
        CHECK_STR(p, l, id);
        CHECK_RC(toto_session_len(s, &n), TOTO_RESULT_OK);
        CHECK(n == 2);
        CHECK_RC(toto_session_get_text(s, STR("cart"), &p, &l), TOTO_RESULT_OK);
        CHECK_STR(p, l, "3 apples");
        CHECK_RC(toto_session_key(s, &p, &l), TOTO_RESULT_OK);
        CHECK_STR(p, l, "k3y");
    }
    /* The fault is cleared: the retry stores everything. */
    test_cache_fault(f.tc, FAULT_NONE, 0);
    toto_error err = {0};
    CHECK_RC(toto_cache_store_session(f.cache, s, &err), TOTO_RESULT_OK);
    bool dirty = true;
    CHECK_RC(toto_session_is_dirty(s, &dirty), TOTO_RESULT_OK);
    CHECK(!dirty);
    toto_session *t = NULL;
    if (CHECK_RC(toto_cache_load_session(f.cache, STR(id), &t, &err), TOTO_RESULT_OK)) {
        const char *p = NULL;
        size_t l = 0;
        int64_t v = 9;
        CHECK_RC(toto_session_get_text(t, STR("cart"), &p, &l), TOTO_RESULT_OK);
        CHECK_STR(p, l, "3 apples");
        CHECK_RC(toto_session_get_i64(t, STR("visits"), &v), TOTO_RESULT_OK);
        CHECK(v == 0);
        CHECK_RC(toto_session_key(t, &p, &l), TOTO_RESULT_OK);
        CHECK_STR(p, l, "k3y");
        toto_session_free(t);
    }
    toto_session_free(s);
    cache_teardown(&f);
}

static void test_unavailable_passes_through(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    f.tc->fault_message = "redis: timed out after 2000 ms";
    f.tc->fault_code = TOTO_RESULT_BACKEND_UNAVAILABLE;
    test_cache_fault(f.tc, FAULT_FAIL, OP_ALL);
    toto_error err = {0};
    toto_bytes out = {0};
    toto_session *t = NULL;
    CHECK_RC(store_rec(f.cache, "s1", &err), TOTO_RESULT_BACKEND_UNAVAILABLE);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_UNAVAILABLE);
    CHECK(strstr(err.message, "timed out after 2000 ms") != NULL);
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_BACKEND_UNAVAILABLE);
    CHECK_RC(toto_cache_load_session(f.cache, STR("s1"), &t, &err),
             TOTO_RESULT_BACKEND_UNAVAILABLE);
    CHECK_RC(toto_cache_remove(f.cache, STR("s1"), &err), TOTO_RESULT_BACKEND_UNAVAILABLE);
    CHECK_RC(toto_cache_remove_user(f.cache, STR("alice"), NULL, &err),
             TOTO_RESULT_BACKEND_UNAVAILABLE);
    /* Without a message too; and the same handle works once the backend is back. */
    test_cache_fault(f.tc, FAULT_RETURN_CODE, OP_STORE);
    memset(&err, 0, sizeof err);
    CHECK_RC(store_rec(f.cache, "s1", &err), TOTO_RESULT_BACKEND_UNAVAILABLE);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_UNAVAILABLE);
    test_cache_fault(f.tc, FAULT_NONE, 0);
    CHECK_RC(store_rec(f.cache, "s1", &err), TOTO_RESULT_OK);
    cache_teardown(&f);

    /* Account stores pass it through as well. */
    store_fixture g;
    if (!store_setup(&g)) return;
    g.ts->fault_message = "ldap: unreachable";
    g.ts->fault_code = TOTO_RESULT_BACKEND_UNAVAILABLE;
    test_store_fault(g.ts, FAULT_FAIL, OP_ALL);
    toto_account *a = NULL;
    CHECK_RC(toto_account_new(g.store, STR("ann"), &a), TOTO_RESULT_OK);
    if (a) {
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_account_load_all(a, &err), TOTO_RESULT_BACKEND_UNAVAILABLE);
        CHECK(strstr(err.message, "ldap: unreachable") != NULL);
        toto_account_free(a);
    }
    CHECK_RC(toto_account_store_create(g.store, STR("bob"), &err),
             TOTO_RESULT_BACKEND_UNAVAILABLE);
    store_teardown(&g);
}

typedef struct {
    int action;
    uint32_t rc;
} expires_misuse;

static uint32_t expires_hook(void *arg, unsigned op, toto_callback_ctx *ctx) {
    expires_misuse *m = arg;
    if (m->action == 1 && op == OP_LOAD_RENEW) {
        m->rc = toto_callback_set_expires(ctx, NAN); /* then the callback goes on */
    } else if (m->action == 3 && op == OP_LOAD_RENEW) {
        m->rc = toto_callback_set_expires(ctx, INFINITY);
    } else if (m->action == 2 && op == OP_STORE) {
        m->rc = toto_callback_set_expires(ctx, 1.0);
    }
    return HOOK_CONTINUE;
}

static void test_set_expires_misuse(void) {
    cache_fixture f;
    f.freed = 0;
    f.tc = test_cache_new(&f.freed);
    f.tc->with_load_renew = true;
    f.cache = test_cache_make(f.tc);
    if (!f.cache) {
        test_cache_destroy(f.tc);
        return;
    }
    expires_misuse m = {0, 0};
    f.tc->hook = expires_hook;
    f.tc->hook_arg = &m;
    toto_error err = {0};
    toto_session *t = NULL;
    toto_session *s = new_session("alice");
    if (s) CHECK_RC(toto_cache_store_session(f.cache, s, &err), TOTO_RESULT_OK);
    char id[TOTO_MAX_SESSION_ID_LEN + 1];
    session_id_copy(s, id, sizeof id);

    m.action = 1; /* NaN: INVALID_ARGUMENT, and the load fails with it */
    CHECK_RC(toto_cache_load_session(f.cache, STR(id), &t, &err), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_ERR(err, TOTO_RESULT_INVALID_ARGUMENT);
    CHECK(m.rc == TOTO_RESULT_INVALID_ARGUMENT);
    CHECK(t == NULL);

    m.action = 3; /* +inf (a session that would never expire): refused like NaN */
    m.rc = 0;
    CHECK_RC(toto_cache_load_session(f.cache, STR(id), &t, &err), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK(m.rc == TOTO_RESULT_INVALID_ARGUMENT);
    CHECK(t == NULL);

    m.action = 2; /* an expiry from a store: not a load */
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_cache_store_session(f.cache, s, &err), TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK(m.rc == TOTO_RESULT_BACKEND_MISBEHAVED);

    CHECK_RC(toto_callback_set_expires(NULL, 1.0), TOTO_RESULT_NULL_ARGUMENT);
    toto_session_free(s);
    cache_teardown(&f);
}

/* ---- callback messages ---- */

static void test_error_messages_are_sanitised(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    toto_error err;
    toto_bytes out = {0};
    /* Invalid UTF-8 is replaced (U+FFFD). */
    f.tc->fault_message = "bad \xff byte";
    test_cache_fault(f.tc, FAULT_FAIL, OP_LOAD);
    memset(&err, 0x55, sizeof err);
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_BACKEND_FAILED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED);
    CHECK(strstr(err.message, "bad \xef\xbf\xbd byte") != NULL);
    /* A long message is cut to fit, NUL-terminated. */
    char *lng = repeat_char('m', 5000);
    f.tc->fault_message = lng;
    memset(&err, 0x55, sizeof err);
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_BACKEND_FAILED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED);
    CHECK(strlen(err.message) == TOTO_ERROR_MESSAGE_CAPACITY - 1);
    free(lng);
    /* ...and never in the middle of a character. */
    char *multi = repeat_str("\xc3\xa9", 400);
    f.tc->fault_message = multi;
    memset(&err, 0x55, sizeof err);
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_BACKEND_FAILED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED); /* includes the UTF-8 check */
    CHECK(strlen(err.message) >= TOTO_ERROR_MESSAGE_CAPACITY - 2);
    free(multi);
    /* NULL error pointer: the code alone. */
    f.tc->fault_message = "x";
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, NULL), TOTO_RESULT_BACKEND_FAILED);
    cache_teardown(&f);
}

typedef struct {
    int action;
    uint32_t rc;
} misuse;

enum {
    MISUSE_NULL_RESULT = 1,    /* set_result(ctx, NULL, 5) */
    MISUSE_PROPERTY_IN_CACHE,  /* add_property from a cache load */
    MISUSE_NULL_MESSAGE,       /* set_error(ctx, NULL, 5) */
};

static uint32_t misuse_hook(void *arg, unsigned op, toto_callback_ctx *ctx) {
    misuse *m = arg;
    static const uint8_t null_cbor[] = {0xf6};
    switch (m->action) {
    case MISUSE_NULL_RESULT:
        m->rc = toto_callback_set_result(ctx, NULL, 5);
        return TOTO_RESULT_OK;
    case MISUSE_PROPERTY_IN_CACHE:
        m->rc = toto_callback_add_property(ctx, STR("p"), null_cbor, 1);
        return HOOK_CONTINUE;
    case MISUSE_NULL_MESSAGE:
        m->rc = toto_callback_set_error(ctx, NULL, 5);
        return TOTO_RESULT_BACKEND_FAILED;
    }
    return HOOK_CONTINUE;
}

static void test_callback_api_misuse(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    CHECK_RC(store_rec(f.cache, "s1", NULL), TOTO_RESULT_OK);
    misuse m = {0, 0};
    f.tc->hook = misuse_hook;
    f.tc->hook_arg = &m;
    toto_error err = {0};
    toto_bytes out = {0};

    m.action = MISUSE_PROPERTY_IN_CACHE;
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK(m.rc == TOTO_RESULT_BACKEND_MISBEHAVED);

    m.action = MISUSE_NULL_MESSAGE;
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_BACKEND_FAILED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED);
    CHECK(m.rc == TOTO_RESULT_NULL_ARGUMENT);

    /* (A pointer of another handle type as ctx: see test_bad_input.c.) */

    /* Outside any callback. */
    static const uint8_t null_cbor[] = {0xf6};
    CHECK_RC(toto_callback_set_result(NULL, BYTES("x")), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_callback_add_property(NULL, STR("p"), null_cbor, 1), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_callback_set_error(NULL, STR("m")), TOTO_RESULT_NULL_ARGUMENT);
    cache_teardown(&f);
}

/* toto_callback_set_result: "TOTO_RESULT_NULL_ARGUMENT ... On any of these the whole
 * operation fails with the same code, whatever the callback returns." */
/* toto_callback_set_result: the callback is told TOTO_RESULT_NULL_ARGUMENT; the whole
 * operation then fails with TOTO_RESULT_BACKEND_MISBEHAVED (the backend's fault). */
static void test_set_result_null_fails_operation_as_misbehaved(void) {
    cache_fixture f;
    if (!cache_setup(&f)) return;
    misuse m = {MISUSE_NULL_RESULT, 0};
    f.tc->hook = misuse_hook;
    f.tc->hook_arg = &m;
    toto_error err = {0};
    toto_bytes out = {0};
    uint32_t rc = toto_cache_load(f.cache, STR("s1"), &out, &err);
    CHECK(m.rc == TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(rc, TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK(out.data == NULL);
    cache_teardown(&f);
}

/* ---- account store faults ---- */

static toto_account *ann(const store_fixture *f) {
    toto_account *a = NULL;
    CHECK_RC(toto_account_new(f->store, STR("ann"), &a), TOTO_RESULT_OK);
    return a;
}

static void test_store_failure_carries_the_backend_message(void) {
    store_fixture f;
    if (!store_setup(&f)) return;
    f.ts->fault_message = "ldap: timeout";
    test_store_fault(f.ts, FAULT_FAIL, OP_ALL);
    toto_account *a = ann(&f);
    toto_error err = {0};
    const char *p = NULL;
    size_t l = 0;
    if (a) {
        CHECK_RC(toto_account_get_text(a, STR("email"), &p, &l, &err),
                 TOTO_RESULT_BACKEND_FAILED);
        CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED);
        CHECK(strstr(err.message, "ldap: timeout") != NULL);
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_account_load_all(a, &err), TOTO_RESULT_BACKEND_FAILED);
        CHECK(strstr(err.message, "ldap: timeout") != NULL);
        /* A failed load remembers nothing: the retry loads the value. */
        test_store_fault(f.ts, FAULT_NONE, 0);
        CHECK_RC(toto_account_get_text(a, STR("email"), &p, &l, &err), TOTO_RESULT_OK);
        CHECK_STR(p, l, "a@example.com");
        toto_account_free(a);
    }
    test_store_fault(f.ts, FAULT_FAIL, OP_ALL);
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_account_store_create(f.store, STR("bob"), &err), TOTO_RESULT_BACKEND_FAILED);
    CHECK(strstr(err.message, "ldap: timeout") != NULL);
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_account_store_remove(f.store, STR("ann"), &err), TOTO_RESULT_BACKEND_FAILED);
    CHECK(strstr(err.message, "ldap: timeout") != NULL);
    test_store_fault(f.ts, FAULT_UNKNOWN_CODE, OP_ALL);
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_account_store_create(f.store, STR("bob"), &err), TOTO_RESULT_BACKEND_FAILED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED);
    CHECK(test_store_count(f.ts) == 1);
    store_teardown(&f);
}

static void test_store_bad_properties(void) {
    store_fixture f;
    if (!store_setup(&f)) return;
    toto_account *a = ann(&f);
    if (!a) {
        store_teardown(&f);
        return;
    }
    toto_error err = {0};
    toto_value_type t = 99;
    test_store_fault(f.ts, FAULT_GARBAGE, OP_LOAD);
    CHECK_RC(toto_account_get_type(a, STR("email"), &t, &err), TOTO_RESULT_INVALID_CBOR);
    CHECK_ERR(err, TOTO_RESULT_INVALID_CBOR);
    CHECK(f.ts->last_cb_rc == TOTO_RESULT_INVALID_CBOR);
    test_store_fault(f.ts, FAULT_HUGE, OP_LOAD);
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_account_get_type(a, STR("email"), &t, &err), TOTO_RESULT_TOO_LARGE);
    CHECK_ERR(err, TOTO_RESULT_TOO_LARGE);
    CHECK(f.ts->last_cb_rc == TOTO_RESULT_TOO_LARGE);
    test_store_fault(f.ts, FAULT_RESULT_ON_REMOVE, OP_LOAD); /* set_result in a load */
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_account_get_type(a, STR("email"), &t, &err), TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK(f.ts->last_cb_rc == TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK(t == 99);
    test_store_fault(f.ts, FAULT_NONE, 0);
    CHECK_RC(toto_account_get_type(a, STR("email"), &t, &err), TOTO_RESULT_OK);
    CHECK(t == TOTO_VALUE_TYPE_TEXT);
    toto_account_free(a);
    store_teardown(&f);
}

/* toto_callback_add_property: "TOTO_RESULT_INVALID_UTF8 (name) ... On any of these
 * the whole load fails with the same code." */
static void test_store_property_name_not_utf8(void) {
    store_fixture f;
    if (!store_setup(&f)) return;
    toto_account *a = ann(&f);
    if (a) {
        toto_error err = {0};
        test_store_fault(f.ts, FAULT_BAD_NAME, OP_LOAD);
        /* The callback hears INVALID_UTF8; the load reports the backend's fault. */
        CHECK_RC(toto_account_load_all(a, &err), TOTO_RESULT_BACKEND_MISBEHAVED);
        CHECK(f.ts->last_cb_rc == TOTO_RESULT_INVALID_UTF8);
        toto_account_free(a);
    }
    store_teardown(&f);
}

typedef struct {
    int action;
    uint32_t rc;
} null_property;

static uint32_t null_property_hook(void *arg, unsigned op, toto_callback_ctx *ctx) {
    null_property *n = arg;
    static const uint8_t null_cbor[] = {0xf6};
    if (op != OP_LOAD) return HOOK_CONTINUE;
    n->rc = n->action == 0 ? toto_callback_add_property(ctx, NULL, 3, null_cbor, 1)
                           : toto_callback_add_property(ctx, STR("p"), NULL, 3);
    return TOTO_RESULT_OK;
}

/* toto_callback_add_property: the callback hears TOTO_RESULT_NULL_ARGUMENT; the whole
 * load fails with TOTO_RESULT_BACKEND_MISBEHAVED. */
static void test_add_property_null_fails_load_as_misbehaved(void) {
    for (int action = 0; action < 2; action++) {
        store_fixture f;
        if (!store_setup(&f)) return;
        null_property n = {action, 0};
        f.ts->hook = null_property_hook;
        f.ts->hook_arg = &n;
        toto_account *a = ann(&f);
        if (a) {
            toto_error err = {0};
            uint32_t rc = toto_account_load_all(a, &err);
            CHECK(n.rc == TOTO_RESULT_NULL_ARGUMENT);
            if (!CHECK_RC(rc, TOTO_RESULT_BACKEND_MISBEHAVED)) printf("#     (NULL %s)\n", action == 0 ? "name" : "value");
            toto_account_free(a);
        }
        store_teardown(&f);
    }
}

static uint32_t long_name_hook(void *arg, unsigned op, toto_callback_ctx *ctx) {
    uint32_t *rc = arg;
    if (op == OP_LOAD) {
        static const uint8_t null_cbor[] = {0xf6};
        char *name = repeat_char('n', TOTO_MAX_NAME_LEN + 1);
        *rc = toto_callback_add_property(ctx, name, TOTO_MAX_NAME_LEN + 1, null_cbor, 1);
        free(name);
        return TOTO_RESULT_OK;
    }
    return HOOK_CONTINUE;
}

static void test_store_property_name_too_long(void) {
    store_fixture f;
    if (!store_setup(&f)) return;
    uint32_t rc = 0;
    f.ts->hook = long_name_hook;
    f.ts->hook_arg = &rc;
    toto_account *a = ann(&f);
    if (a) {
        toto_error err = {0};
        CHECK_RC(toto_account_load_all(a, &err), TOTO_RESULT_TOO_LARGE);
        CHECK_ERR(err, TOTO_RESULT_TOO_LARGE);
        CHECK(rc == TOTO_RESULT_TOO_LARGE);
        toto_account_free(a);
    }
    store_teardown(&f);
}

static void test_store_results_where_none_are_taken(void) {
    store_fixture f;
    if (!store_setup(&f)) return;
    toto_account *a = ann(&f);
    toto_error err = {0};
    if (a) {
        CHECK_RC(toto_account_set_i64(a, STR("age"), 40), TOTO_RESULT_OK);
        test_store_fault(f.ts, FAULT_PROPERTY_OUTSIDE_LOAD, OP_SAVE);
        CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_BACKEND_MISBEHAVED);
        CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
        CHECK(f.ts->last_cb_rc == TOTO_RESULT_BACKEND_MISBEHAVED);
        test_store_fault(f.ts, FAULT_RESULT_ON_REMOVE, OP_SAVE);
        CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_BACKEND_MISBEHAVED);
        size_t count = 0;
        CHECK_RC(toto_account_modified_count(a, &count), TOTO_RESULT_OK);
        CHECK(count == 1); /* kept for a retry */
        test_store_fault(f.ts, FAULT_NONE, 0);
        CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_OK);
        CHECK_RC(toto_account_modified_count(a, &count), TOTO_RESULT_OK);
        CHECK(count == 0);
        toto_account_free(a);
    }
    test_store_fault(f.ts, FAULT_RESULT_ON_REMOVE, OP_REMOVE | OP_CREATE);
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_account_store_remove(f.store, STR("ann"), &err),
             TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_RC(toto_account_store_create(f.store, STR("bob"), &err),
             TOTO_RESULT_BACKEND_MISBEHAVED);
    test_store_fault(f.ts, FAULT_PROPERTY_OUTSIDE_LOAD, OP_CREATE);
    CHECK_RC(toto_account_store_create(f.store, STR("cid"), &err),
             TOTO_RESULT_BACKEND_MISBEHAVED);
    /* A create answering NOT_FOUND broke its contract too. */
    test_store_fault(f.ts, FAULT_RETURN_CODE, OP_CREATE);
    f.ts->fault_code = TOTO_RESULT_NOT_FOUND;
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_account_store_create(f.store, STR("dan"), &err),
             TOTO_RESULT_BACKEND_MISBEHAVED);
    CHECK_ERR(err, TOTO_RESULT_BACKEND_MISBEHAVED);
    store_teardown(&f);
}

/* Issue 19: a domain code returned by a callback to an operation it does not belong
 * to (1005 from a session load, 13 from a load, 1006 from an account save...) is a
 * backend failure, as the vtables document, not an answer to the caller's call. The
 * codes that belong to the operation still pass (13 from a create-only store, 1006
 * from an account create). */
static void test_domain_codes_from_unrelated_callbacks_are_backend_failures(void) {
    static const uint32_t stray[] = {TOTO_RESULT_INVALID_CREDENTIALS, TOTO_RESULT_USER_ID_EXISTS,
                                     TOTO_RESULT_ID_COLLISION, TOTO_RESULT_NOT_AUTHORIZED,
                                     TOTO_RESULT_INVALID_SESSION_ID, TOTO_RESULT_INVALID_HMAC};
    cache_fixture f;
    if (!cache_setup(&f)) return;
    toto_error err = {0};
    toto_bytes out = {0};
    toto_session *t = NULL;
    for (size_t i = 0; i < sizeof stray / sizeof stray[0]; i++) {
        test_cache_fault(f.tc, FAULT_RETURN_CODE, OP_LOAD | OP_REMOVE | OP_REMOVE_USER);
        f.tc->fault_code = stray[i];
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_cache_load(f.cache, STR("s1"), &out, &err), TOTO_RESULT_BACKEND_FAILED);
        CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED);
        CHECK_RC(toto_cache_load_session(f.cache, STR("s1"), &t, &err),
                 TOTO_RESULT_BACKEND_FAILED);
        CHECK_RC(toto_cache_remove(f.cache, STR("s1"), &err), TOTO_RESULT_BACKEND_FAILED);
        CHECK_RC(toto_cache_remove_user(f.cache, STR("u"), NULL, &err),
                 TOTO_RESULT_BACKEND_FAILED);
        if (stray[i] != TOTO_RESULT_ID_COLLISION) {
            test_cache_fault(f.tc, FAULT_RETURN_CODE, OP_STORE);
            CHECK_RC(store_rec(f.cache, "s1", &err), TOTO_RESULT_BACKEND_FAILED);
        }
    }
    cache_teardown(&f);

    store_fixture g;
    if (!store_setup(&g)) return;
    for (size_t i = 0; i < sizeof stray / sizeof stray[0]; i++) {
        g.ts->fault_code = stray[i];
        test_store_fault(g.ts, FAULT_RETURN_CODE, OP_LOAD | OP_SAVE | OP_REMOVE);
        toto_account *a = NULL;
        if (CHECK_RC(toto_account_new(g.store, STR("ann"), &a), TOTO_RESULT_OK)) {
            memset(&err, 0, sizeof err);
            CHECK_RC(toto_account_load_all(a, &err), TOTO_RESULT_BACKEND_FAILED);
            CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED);
            CHECK_RC(toto_account_set_i64(a, STR("visits"), 1), TOTO_RESULT_OK);
            CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_BACKEND_FAILED);
            toto_account_free(a);
        }
        CHECK_RC(toto_account_store_remove(g.store, STR("ann"), &err),
                 TOTO_RESULT_BACKEND_FAILED);
        if (stray[i] != TOTO_RESULT_USER_ID_EXISTS) {
            test_store_fault(g.ts, FAULT_RETURN_CODE, OP_CREATE);
            CHECK_RC(toto_account_store_create(g.store, STR("bob"), &err),
                     TOTO_RESULT_BACKEND_FAILED);
        }
    }
    /* The codes that belong to the operation pass. */
    g.ts->fault_code = TOTO_RESULT_USER_ID_EXISTS;
    test_store_fault(g.ts, FAULT_RETURN_CODE, OP_CREATE);
    CHECK_RC(toto_account_store_create(g.store, STR("bob"), &err), TOTO_RESULT_USER_ID_EXISTS);
    store_teardown(&g);
}

int main(void) {
    RUN(test_domain_codes_from_unrelated_callbacks_are_backend_failures);
    RUN(test_cache_failure_carries_the_backend_message);
    RUN(test_cache_unknown_code);
    RUN(test_cache_known_codes_pass_through);
    RUN(test_cache_garbage_record);
    RUN(test_cache_huge_record);
    RUN(test_cache_result_set_twice);
    RUN(test_cache_result_on_remove);
    RUN(test_cache_invalid_new_id);
    RUN(test_cache_too_long_new_id);
    RUN(test_cache_load_ok_without_record);
    RUN(test_store_session_failure_keeps_state_then_retry);
    RUN(test_unavailable_passes_through);
    RUN(test_set_expires_misuse);
    RUN(test_error_messages_are_sanitised);
    RUN(test_callback_api_misuse);
    RUN(test_set_result_null_fails_operation_as_misbehaved);
    RUN(test_store_failure_carries_the_backend_message);
    RUN(test_store_bad_properties);
    RUN(test_store_property_name_not_utf8);
    RUN(test_add_property_null_fails_load_as_misbehaved);
    RUN(test_store_property_name_too_long);
    RUN(test_store_results_where_none_are_taken);
    return finish();
}
