/*
 * test_cache.c: the built-in memory cache and the C vtable cache (support.c) through
 * the same test functions: store / load / remove / remove_user with counts, expiry,
 * create-only collisions, store_session / load_session round trips, renames, vtable
 * validation and free_user_data, size and id limits, concurrent use, a host clock.
 */
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef enum { KIND_MEMORY, KIND_MEMORY_COMPACT, KIND_VTABLE, KIND_VTABLE_V1, KIND_REDIS } kind_type;

typedef struct {
    const char *name;
    kind_type kind;
    test_cache *tc; /* a vtable kind's user_data, while its cache lives */
    int freed;      /* free_user_data calls */
} cache_kind;

static int g_prefix_counter;

static toto_cache *make_redis(void) {
    const char *url = getenv("TOTO_REDIS_URL");
    toto_redis_options opt;
    toto_cache *c = NULL;
    toto_error err = {0};
    char prefix[64];
    if (!CHECK(url != NULL)) return NULL;
    CHECK_RC(toto_redis_options_default(&opt), TOTO_RESULT_OK);
    /* A private key space per test. */
    snprintf(prefix, sizeof prefix, "ctest:%ld:%d:", (long)now_seconds(), ++g_prefix_counter);
    opt.key_prefix = prefix;
    opt.key_prefix_len = strlen(prefix);
    if (!CHECK_RC(toto_cache_new_redis(STR(url), &opt, &c, &err), TOTO_RESULT_OK)) {
        printf("#     %s\n", err.message);
        return NULL;
    }
    return c;
}

static toto_cache *make_cache(cache_kind *k) {
    toto_cache *c = NULL;
    k->freed = 0;
    k->tc = NULL;
    switch (k->kind) {
    case KIND_MEMORY:
        CHECK_RC(toto_cache_new_memory(&c), TOTO_RESULT_OK);
        return c;
    case KIND_MEMORY_COMPACT:
        CHECK_RC(toto_cache_new_memory_compact(&c), TOTO_RESULT_OK);
        return c;
    case KIND_REDIS:
        return make_redis();
    case KIND_VTABLE:
        k->tc = test_cache_new(&k->freed);
        k->tc->with_load_renew = true;
        c = test_cache_make(k->tc);
        break;
    case KIND_VTABLE_V1: {
        k->tc = test_cache_new(&k->freed);
        toto_cache_vtable vt = test_cache_vtable_v1(k->tc);
        CHECK_RC(toto_cache_new_vtable(&vt, &c), TOTO_RESULT_OK);
        break;
    }
    }
    if (!c) {
        test_cache_destroy(k->tc);
        k->tc = NULL;
    }
    return c;
}

static void drop_cache(cache_kind *k, toto_cache *c) {
    if (k->tc) CHECK(!k->tc->v1_trap_called); /* a version-1 vtable ends before load_renew */
    toto_cache_free(c);
    if (k->tc) CHECK(k->freed == 1);
    k->tc = NULL;
}

static bool load_equals(const toto_cache *c, const char *id, const char *want) {
    toto_bytes out = {0};
    toto_error err = {0};
    if (!CHECK_RC(toto_cache_load(c, STR(id), &out, &err), TOTO_RESULT_OK)) return false;
    bool ok = CHECK_MEM(out.data, out.len, want, strlen(want));
    toto_bytes_free(&out);
    return ok;
}

static uint32_t store(const toto_cache *c, const char *id, const char *user, double exp,
                      const char *record, uint32_t flags) {
    toto_error err = {0};
    return toto_cache_store(c, STR(id), STR(user), exp, BYTES(record), flags, NULL, &err);
}

static void test_store_load_remove(void *arg) {
    cache_kind *k = arg;
    toto_cache *c = make_cache(k);
    if (!c) return;
    double exp = now_seconds() + 60;
    toto_error err = {0};
    toto_bytes new_id = {(uint8_t *)&err, 99};
    CHECK_RC(toto_cache_store(c, STR("sess-1"), STR("alice"), exp, BYTES("rec"), 0, &new_id,
                              &err),
             TOTO_RESULT_OK);
    CHECK(new_id.data == NULL && new_id.len == 0); /* not renamed: {NULL, 0} */
    load_equals(c, "sess-1", "rec");
    CHECK_RC(store(c, "sess-1", "alice", exp, "rec2", 0), TOTO_RESULT_OK); /* overwrite */
    load_equals(c, "sess-1", "rec2");
    toto_bytes out = {(uint8_t *)&err, 5};
    CHECK_RC(toto_cache_load(c, STR("unknown"), &out, &err), TOTO_RESULT_NOT_FOUND);
    CHECK_ERR(err, TOTO_RESULT_NOT_FOUND);
    CHECK(out.data == (uint8_t *)&err && out.len == 5);
    CHECK_RC(toto_cache_remove(c, STR("sess-1"), &err), TOTO_RESULT_OK);
    CHECK_RC(toto_cache_load(c, STR("sess-1"), &out, NULL), TOTO_RESULT_NOT_FOUND);
    CHECK_RC(toto_cache_remove(c, STR("sess-1"), &err), TOTO_RESULT_OK); /* missing: fine */
    CHECK_RC(toto_cache_remove(c, STR("never-stored"), NULL), TOTO_RESULT_OK);
    /* An empty record is a record. */
    CHECK_RC(toto_cache_store(c, STR("empty"), STR(""), exp, NULL, 0, 0, NULL, NULL),
             TOTO_RESULT_OK);
    toto_bytes e = {0};
    if (CHECK_RC(toto_cache_load(c, STR("empty"), &e, NULL), TOTO_RESULT_OK)) {
        CHECK(e.len == 0);
        toto_bytes_free(&e);
    }
    if (k->tc) {
        CHECK(k->tc->stores == 3 && k->tc->loads == 5 && k->tc->removes == 3);
        CHECK(k->tc->last_flags == 0);
        CHECK(test_cache_count(k->tc) == 1);
    }
    drop_cache(k, c);
}

static void test_expired_entries_are_not_returned(void *arg) {
    cache_kind *k = arg;
    toto_cache *c = make_cache(k);
    if (!c) return;
    double now = now_seconds();
    CHECK_RC(store(c, "old", "alice", now - 1, "r", 0), TOTO_RESULT_OK);
    toto_bytes out = {0};
    CHECK_RC(toto_cache_load(c, STR("old"), &out, NULL), TOTO_RESULT_NOT_FOUND);
    /* Create-only over an expired entry is not a collision. */
    CHECK_RC(store(c, "old", "alice", now - 1, "r", 0), TOTO_RESULT_OK);
    CHECK_RC(store(c, "old", "bob", now + 60, "fresh", TOTO_STORE_CREATE_NEW), TOTO_RESULT_OK);
    load_equals(c, "old", "fresh");
    drop_cache(k, c);
}

static void test_create_new_collision(void *arg) {
    cache_kind *k = arg;
    toto_cache *c = make_cache(k);
    if (!c) return;
    double exp = now_seconds() + 60;
    toto_error err = {0};
    CHECK_RC(store(c, "dup", "alice", exp, "first", TOTO_STORE_CREATE_NEW), TOTO_RESULT_OK);
    if (k->tc) CHECK(k->tc->last_flags == TOTO_STORE_CREATE_NEW);
    toto_bytes new_id = {(uint8_t *)&err, 7};
    CHECK_RC(toto_cache_store(c, STR("dup"), STR("bob"), exp, BYTES("second"),
                              TOTO_STORE_CREATE_NEW, &new_id, &err),
             TOTO_RESULT_ID_COLLISION);
    CHECK_ERR(err, TOTO_RESULT_ID_COLLISION);
    CHECK(new_id.data == (uint8_t *)&err && new_id.len == 7);
    load_equals(c, "dup", "first"); /* nothing changed */
    CHECK_RC(store(c, "dup", "bob", exp, "third", 0), TOTO_RESULT_OK); /* upsert overwrites */
    load_equals(c, "dup", "third");
    CHECK_RC(store(c, "dup", "bob", exp, "x", 2), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_RC(store(c, "dup", "bob", exp, "x", 0xffffffffu), TOTO_RESULT_INVALID_ARGUMENT);
    load_equals(c, "dup", "third");
    drop_cache(k, c);
}

static void test_remove_user_counts(void *arg) {
    cache_kind *k = arg;
    toto_cache *c = make_cache(k);
    if (!c) return;
    double exp = now_seconds() + 60;
    CHECK_RC(store(c, "a1", "alice", exp, "r", 0), TOTO_RESULT_OK);
    CHECK_RC(store(c, "a2", "alice", exp, "r", 0), TOTO_RESULT_OK);
    CHECK_RC(store(c, "a3", "alice", exp, "r", 0), TOTO_RESULT_OK);
    CHECK_RC(store(c, "b1", "bob", exp, "r", 0), TOTO_RESULT_OK);
    CHECK_RC(store(c, "anon", "", exp, "r", 0), TOTO_RESULT_OK);
    CHECK_RC(store(c, "a3", "bob", exp, "r", 0), TOTO_RESULT_OK); /* a3 moves to bob */
    uint64_t removed = 99;
    toto_error err = {0};
    CHECK_RC(toto_cache_remove_user(c, STR("alice"), &removed, &err), TOTO_RESULT_OK);
    CHECK(removed == 2);
    CHECK_RC(toto_cache_remove_user(c, STR("alice"), &removed, &err), TOTO_RESULT_OK);
    CHECK(removed == 0);
    toto_bytes out = {0};
    CHECK_RC(toto_cache_load(c, STR("a1"), &out, NULL), TOTO_RESULT_NOT_FOUND);
    load_equals(c, "a3", "r");
    CHECK_RC(toto_cache_remove_user(c, STR("bob"), NULL, &err), TOTO_RESULT_OK); /* count optional */
    CHECK_RC(toto_cache_load(c, STR("b1"), &out, NULL), TOTO_RESULT_NOT_FOUND);
    CHECK_RC(toto_cache_load(c, STR("a3"), &out, NULL), TOTO_RESULT_NOT_FOUND);
    load_equals(c, "anon", "r"); /* anonymous sessions are nobody's */
    CHECK_RC(toto_cache_remove_user(c, STR("nobody"), &removed, &err), TOTO_RESULT_OK);
    CHECK(removed == 0);
    /* User ids are lowercased: "BOB" is bob. */
    CHECK_RC(store(c, "b2", "bob", exp, "r", 0), TOTO_RESULT_OK);
    CHECK_RC(toto_cache_remove_user(c, STR("BOB"), &removed, &err), TOTO_RESULT_OK);
    CHECK(removed == 1);
    if (k->tc) CHECK(k->tc->remove_users == 5);
    drop_cache(k, c);
}

/* A session stored through toto_cache_store under a mixed-case user id must be found
 * by toto_cache_remove_user given the same user id. */
static void test_remove_user_finds_mixed_case_store(void *arg) {
    cache_kind *k = arg;
    toto_cache *c = make_cache(k);
    if (!c) return;
    CHECK_RC(store(c, "m1", "Alice", now_seconds() + 60, "r", 0), TOTO_RESULT_OK);
    uint64_t removed = 99;
    CHECK_RC(toto_cache_remove_user(c, STR("Alice"), &removed, NULL), TOTO_RESULT_OK);
    if (!CHECK(removed == 1)) {
        printf("#     stored for \"Alice\", remove_user(\"Alice\") removed %llu\n",
               (unsigned long long)removed);
    }
    drop_cache(k, c);
}

static toto_session *stateful_session(void) {
    toto_session *s = new_session("Bob");
    if (!s) return NULL;
    CHECK_RC(toto_session_set_key(s, STR("k3y")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_text(s, STR("name"), STR("Bob")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_i64(s, STR("zero"), 0), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_json(s, STR("cart"), STR("[1,{\"sku\":\"x\"}]"), NULL),
             TOTO_RESULT_OK);
    return s;
}

static void test_store_session_load_session_round_trip(void *arg) {
    cache_kind *k = arg;
    toto_cache *c = make_cache(k);
    if (!c) return;
    toto_session *s = stateful_session();
    if (!s) {
        drop_cache(k, c);
        return;
    }
    toto_error err = {0};
    char id[TOTO_MAX_SESSION_ID_LEN + 1];
    session_id_copy(s, id, sizeof id);
    double exp = 0;
    CHECK_RC(toto_session_expires(s, &exp), TOTO_RESULT_OK);
    CHECK_RC(toto_cache_store_session(c, s, &err), TOTO_RESULT_OK);
    bool dirty = true;
    CHECK_RC(toto_session_is_dirty(s, &dirty), TOTO_RESULT_OK);
    CHECK(!dirty);
    if (k->tc) {
        CHECK(k->tc->last_expires == exp);
        CHECK(strcmp(k->tc->last_user, "bob") == 0);
        CHECK(k->tc->last_flags == 0);
    }
    /* What the cache holds is exactly the session's export. */
    toto_bytes rec = {0}, exported = {0};
    CHECK_RC(toto_cache_load(c, STR(id), &rec, &err), TOTO_RESULT_OK);
    CHECK_RC(toto_session_export(s, &exported, &err), TOTO_RESULT_OK);
    CHECK_MEM(rec.data, rec.len, exported.data, exported.len);
    toto_bytes_free(&rec);
    toto_bytes_free(&exported);

    toto_session *t = NULL;
    if (CHECK_RC(toto_cache_load_session(c, STR(id), &t, &err), TOTO_RESULT_OK)) {
        const char *p = NULL;
        size_t l = 0;
        double e = 0;
        int64_t i = 1;
        /* Views taken while the session may share what the cache holds. */
        const char *vid = NULL, *vuser = NULL, *vkey = NULL;
        size_t lid = 0, luser = 0, lkey = 0;
        CHECK_RC(toto_session_id(t, &vid, &lid), TOTO_RESULT_OK);
        CHECK_RC(toto_session_user_id(t, &vuser, &luser), TOTO_RESULT_OK);
        CHECK_RC(toto_session_key(t, &vkey, &lkey), TOTO_RESULT_OK);
        CHECK_RC(toto_session_id(t, &p, &l), TOTO_RESULT_OK);
        CHECK_STR(p, l, id);
        CHECK_RC(toto_session_user_id(t, &p, &l), TOTO_RESULT_OK);
        CHECK_STR(p, l, "bob");
        CHECK_RC(toto_session_key(t, &p, &l), TOTO_RESULT_OK);
        CHECK_STR(p, l, "k3y");
        CHECK_RC(toto_session_expires(t, &e), TOTO_RESULT_OK);
        if (k->kind == KIND_REDIS) {
            CHECK(fabs(e - exp) <= 0.001); /* Redis keeps expiries in milliseconds */
        } else {
            CHECK(e == exp);
        }
        CHECK_RC(toto_session_get_text(t, STR("name"), &p, &l), TOTO_RESULT_OK);
        CHECK_STR(p, l, "Bob");
        CHECK_RC(toto_session_get_i64(t, STR("zero"), &i), TOTO_RESULT_OK);
        CHECK(i == 0);
        toto_bytes j = {0};
        CHECK_RC(toto_session_get_json(t, STR("cart"), &j, &err), TOTO_RESULT_OK);
        CHECK_MEM(j.data, j.len, "[1,{\"sku\":\"x\"}]", 15);
        toto_bytes_free(&j);
        CHECK_RC(toto_session_is_dirty(t, &dirty), TOTO_RESULT_OK);
        CHECK(!dirty); /* loaded sessions are clean */
        /* A change not stored does not reach the cache (nor another loaded copy). */
        CHECK_RC(toto_session_set_i64(t, STR("zero"), 5), TOTO_RESULT_OK);
        toto_session *u = NULL;
        if (CHECK_RC(toto_cache_load_session(c, STR(id), &u, &err), TOTO_RESULT_OK)) {
            CHECK_RC(toto_session_get_i64(u, STR("zero"), &i), TOTO_RESULT_OK);
            CHECK(i == 0);
            toto_session_free(u);
        }
        /* Change and store again: the cache holds the new state. The id, user id and
         * key views taken before stay valid (the documented lifetimes), even though
         * the cache let go of what it held before (valgrind checks the reads). */
        CHECK_RC(toto_session_set_text(t, STR("name"), STR("Eve")), TOTO_RESULT_OK);
        CHECK_RC(toto_cache_store_session(c, t, &err), TOTO_RESULT_OK);
        CHECK_STR(vid, lid, id);
        CHECK_STR(vuser, luser, "bob");
        CHECK_STR(vkey, lkey, "k3y");
        toto_session_free(t);
        t = NULL;
        CHECK_RC(toto_cache_load_session(c, STR(id), &t, &err), TOTO_RESULT_OK);
        CHECK_RC(toto_session_get_i64(t, STR("zero"), &i), TOTO_RESULT_OK);
        CHECK(i == 5);
        toto_session_free(t);
    }
    toto_session *none = (toto_session *)&err;
    CHECK_RC(toto_cache_load_session(c, STR("missing-id"), &none, &err), TOTO_RESULT_NOT_FOUND);
    CHECK(none == (toto_session *)&err);
    toto_session_free(s);
    drop_cache(k, c);
}

static void test_load_session_takes_the_lookup_id(void *arg) {
    cache_kind *k = arg;
    toto_cache *c = make_cache(k);
    if (!c) return;
    toto_session *s = new_session_with_id("inner-id", "bob", now_seconds() + 60);
    toto_bytes rec = {0};
    if (s && CHECK_RC(toto_session_export(s, &rec, NULL), TOTO_RESULT_OK)) {
        CHECK_RC(toto_cache_store(c, STR("outer-id"), STR("bob"), now_seconds() + 60, rec.data,
                                  rec.len, 0, NULL, NULL),
                 TOTO_RESULT_OK);
        toto_session *t = NULL;
        if (k->kind == KIND_REDIS) {
            /* Issue 19: Redis never renames, so a record that carries another id than
             * the one asked for is a reply or record gone astray, never handed out. */
            CHECK_RC(toto_cache_load_session(c, STR("outer-id"), &t, NULL),
                     TOTO_RESULT_BACKEND_MISBEHAVED);
        } else if (CHECK_RC(toto_cache_load_session(c, STR("outer-id"), &t, NULL), TOTO_RESULT_OK)) {
            const char *p = NULL;
            size_t l = 0;
            bool dirty = true;
            CHECK_RC(toto_session_id(t, &p, &l), TOTO_RESULT_OK);
            CHECK_STR(p, l, "outer-id");
            CHECK_RC(toto_session_is_dirty(t, &dirty), TOTO_RESULT_OK);
            CHECK(!dirty);
            toto_session_free(t);
        }
        toto_bytes_free(&rec);
    }
    toto_session_free(s);
    drop_cache(k, c);
}

/* load_session: "its expiry the one the cache holds (which a renewal may have moved
 * past the record's)". A version-1 vtable cannot report one: the record's is used. */
static void test_load_session_expiry_is_the_caches(void *arg) {
    cache_kind *k = arg;
    toto_cache *c = make_cache(k);
    if (!c) return;
    double in_record = now_seconds() + 60, in_cache = now_seconds() + 7200;
    toto_session *s = new_session_with_id("exp-id", "bob", in_record);
    toto_bytes rec = {0};
    if (s && CHECK_RC(toto_session_export(s, &rec, NULL), TOTO_RESULT_OK)) {
        CHECK_RC(toto_cache_store(c, STR("exp-id"), STR("bob"), in_cache, rec.data, rec.len, 0,
                                  NULL, NULL),
                 TOTO_RESULT_OK);
        toto_session *t = NULL;
        if (CHECK_RC(toto_cache_load_session(c, STR("exp-id"), &t, NULL), TOTO_RESULT_OK)) {
            double e = 0;
            bool dirty = true;
            CHECK_RC(toto_session_expires(t, &e), TOTO_RESULT_OK);
            double want = k->kind == KIND_VTABLE_V1 ? in_record : in_cache;
            if (!CHECK(fabs(e - want) <= (k->kind == KIND_REDIS ? 0.001 : 0.0))) {
                printf("#     expires %.3f, record %.3f, cache %.3f\n", e, in_record, in_cache);
            }
            CHECK_RC(toto_session_is_dirty(t, &dirty), TOTO_RESULT_OK);
            CHECK(!dirty);
            toto_session_free(t);
        }
        if (k->tc && k->kind == KIND_VTABLE) {
            CHECK(k->tc->load_renews == 1 && k->tc->loads == 0);
            CHECK(k->tc->last_renew_user_to == 0 && k->tc->last_renew_anonymous_to == 0);
            CHECK(test_cache_expiry(k->tc, "exp-id") == in_cache); /* not renewed */
        }
        toto_bytes_free(&rec);
    }
    toto_session_free(s);
    drop_cache(k, c);
}

static void test_load_session_bad_record_left_in_place(void *arg) {
    cache_kind *k = arg;
    toto_cache *c = make_cache(k);
    if (!c) return;
    double exp = now_seconds() + 60;
    toto_error err = {0};
    toto_session *t = NULL;
    CHECK_RC(store(c, "junk", "bob", exp, "not a record", 0), TOTO_RESULT_OK);
    CHECK_RC(toto_cache_load_session(c, STR("junk"), &t, &err), TOTO_RESULT_INVALID_CBOR);
    CHECK_ERR(err, TOTO_RESULT_INVALID_CBOR);
    load_equals(c, "junk", "not a record"); /* left in place */
    toto_session *s = new_session("bob");
    toto_bytes rec = {0};
    if (s && CHECK_RC(toto_session_export(s, &rec, NULL), TOTO_RESULT_OK)) {
        rec.data[3] = 0x07; /* "v": 7 */
        CHECK_RC(toto_cache_store(c, STR("future"), STR("bob"), exp, rec.data, rec.len, 0, NULL,
                                  NULL),
                 TOTO_RESULT_OK);
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_cache_load_session(c, STR("future"), &t, &err),
                 TOTO_RESULT_UNSUPPORTED_VERSION);
        CHECK_ERR(err, TOTO_RESULT_UNSUPPORTED_VERSION);
        toto_bytes again = {0};
        CHECK_RC(toto_cache_load(c, STR("future"), &again, NULL), TOTO_RESULT_OK);
        toto_bytes_free(&again);
        toto_bytes_free(&rec);
    }
    toto_session_free(s);
    drop_cache(k, c);
}

static void test_record_size_limit(void *arg) {
    cache_kind *k = arg;
    toto_cache *c = make_cache(k);
    if (!c) return;
    double exp = now_seconds() + 60;
    uint8_t *big = calloc(TOTO_MAX_RECORD_LEN + 1, 1);
    toto_error err = {0};
    CHECK_RC(toto_cache_store(c, STR("big"), STR("u"), exp, big, TOTO_MAX_RECORD_LEN + 1, 0, NULL,
                              &err),
             TOTO_RESULT_TOO_LARGE);
    CHECK_ERR(err, TOTO_RESULT_TOO_LARGE);
    CHECK_RC(toto_cache_store(c, STR("max"), STR("u"), exp, big, TOTO_MAX_RECORD_LEN, 0, NULL,
                              &err),
             TOTO_RESULT_OK);
    toto_bytes out = {0};
    if (CHECK_RC(toto_cache_load(c, STR("max"), &out, &err), TOTO_RESULT_OK)) {
        CHECK(out.len == TOTO_MAX_RECORD_LEN);
        toto_bytes_free(&out);
    }
    if (k->tc) CHECK(k->tc->stores == 1); /* the oversized one never reached it */
    /* A session whose record is too large is refused and keeps its state. */
    toto_session *s = new_session("u");
    if (s) {
        size_t half = TOTO_MAX_RECORD_LEN / 2 + 8;
        CHECK_RC(toto_session_set_bytes(s, STR("a"), big, half), TOTO_RESULT_OK);
        CHECK_RC(toto_session_set_bytes(s, STR("b"), big, half), TOTO_RESULT_OK);
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_cache_store_session(c, s, &err), TOTO_RESULT_TOO_LARGE);
        CHECK_ERR(err, TOTO_RESULT_TOO_LARGE);
        bool dirty = false;
        size_t n = 0;
        CHECK_RC(toto_session_is_dirty(s, &dirty), TOTO_RESULT_OK);
        CHECK_RC(toto_session_len(s, &n), TOTO_RESULT_OK);
        CHECK(dirty && n == 2);
        toto_session_free(s);
    }
    free(big);
    drop_cache(k, c);
}

static void test_ids_and_user_ids_are_checked(void *arg) {
    cache_kind *k = arg;
    toto_cache *c = make_cache(k);
    if (!c) return;
    double exp = now_seconds() + 60;
    char *long_id = repeat_char('i', TOTO_MAX_SESSION_ID_LEN + 1);
    char *max_id = repeat_char('i', TOTO_MAX_SESSION_ID_LEN);
    char *long_user = repeat_char('u', TOTO_MAX_USER_ID_LEN + 1);
    const char *bad_ids[] = {"", "bad id", "\xff", "caf\xc3\xa9", long_id};
    toto_bytes out = {0};
    toto_session *t = NULL;
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        toto_error err = {0};
        CHECK_RC(toto_cache_store(c, STR(bad_ids[i]), STR("u"), exp, BYTES("r"), 0, NULL, &err),
                 TOTO_RESULT_INVALID_SESSION_ID);
        CHECK_ERR(err, TOTO_RESULT_INVALID_SESSION_ID);
        CHECK_RC(toto_cache_load(c, STR(bad_ids[i]), &out, NULL), TOTO_RESULT_INVALID_SESSION_ID);
        CHECK_RC(toto_cache_remove(c, STR(bad_ids[i]), NULL), TOTO_RESULT_INVALID_SESSION_ID);
        CHECK_RC(toto_cache_load_session(c, STR(bad_ids[i]), &t, NULL),
                 TOTO_RESULT_INVALID_SESSION_ID);
    }
    CHECK_RC(store(c, max_id, "u", exp, "r", 0), TOTO_RESULT_OK);
    load_equals(c, max_id, "r");
    CHECK_RC(store(c, "ok", long_user, exp, "r", 0), TOTO_RESULT_TOO_LARGE);
    CHECK_RC(store(c, "ok", "\xff", exp, "r", 0), TOTO_RESULT_INVALID_UTF8);
    CHECK_RC(toto_cache_remove_user(c, STR(long_user), NULL, NULL), TOTO_RESULT_TOO_LARGE);
    CHECK_RC(toto_cache_remove_user(c, STR("\xff"), NULL, NULL), TOTO_RESULT_INVALID_UTF8);
    if (k->tc) CHECK(k->tc->stores == 1 && k->tc->remove_users == 0);
    free(long_id);
    free(max_id);
    free(long_user);
    drop_cache(k, c);
}

typedef struct {
    const toto_cache *cache;
    int thread;
    int failures;
} worker_arg;

static void *worker(void *p) {
    worker_arg *w = p;
    toto_error err = {0};
    for (int i = 0; i < 100; i++) {
        char id[64], rec[64];
        snprintf(id, sizeof id, "t%d-s%d", w->thread, i);
        snprintf(rec, sizeof rec, "record %d/%d", w->thread, i);
        if (toto_cache_store(w->cache, STR(id), STR("shared-user"), now_seconds() + 60,
                             BYTES(rec), TOTO_STORE_CREATE_NEW, NULL, &err) != TOTO_RESULT_OK) {
            w->failures++;
            continue;
        }
        toto_bytes out = {0};
        if (toto_cache_load(w->cache, STR(id), &out, &err) != TOTO_RESULT_OK ||
            out.len != strlen(rec) || memcmp(out.data, rec, out.len) != 0) {
            w->failures++;
        }
        toto_bytes_free(&out);
        if (i % 2 == 0 && toto_cache_remove(w->cache, STR(id), &err) != TOTO_RESULT_OK) {
            w->failures++;
        }
    }
    return NULL;
}

static void test_concurrent_use(void *arg) {
    cache_kind *k = arg;
    toto_cache *c = make_cache(k);
    if (!c) return;
    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    worker_arg args[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t] = (worker_arg){c, t, 0};
        CHECK(pthread_create(&threads[t], NULL, worker, &args[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        CHECK(args[t].failures == 0);
    }
    uint64_t removed = 0;
    CHECK_RC(toto_cache_remove_user(c, STR("shared-user"), &removed, NULL), TOTO_RESULT_OK);
    CHECK(removed == THREADS * 50);
    drop_cache(k, c);
}

/* ---- vtable-only tests ---- */

static void test_vtable_rename(void) {
    cache_kind k = {"vtable", KIND_VTABLE, NULL, 0};
    toto_cache *c = make_cache(&k);
    if (!c) return;
    double exp = now_seconds() + 60;
    toto_error err = {0};
    snprintf(k.tc->rename_to, sizeof k.tc->rename_to, "renamed-by-cache");
    test_cache_fault(k.tc, FAULT_RENAME, OP_STORE);
    toto_bytes new_id = {0};
    CHECK_RC(toto_cache_store(c, STR("original"), STR("u"), exp, BYTES("r"), 0, &new_id, &err),
             TOTO_RESULT_OK);
    CHECK_MEM(new_id.data, new_id.len, "renamed-by-cache", 16);
    toto_bytes_free(&new_id);
    CHECK_RC(toto_cache_store(c, STR("original"), STR("u"), exp, BYTES("r"), 0, NULL, &err),
             TOTO_RESULT_OK); /* out_new_id is optional */

    /* store_session: the session takes the new id. */
    toto_session *s = stateful_session();
    if (s) {
        snprintf(k.tc->rename_to, sizeof k.tc->rename_to, "session-renamed");
        CHECK_RC(toto_cache_store_session(c, s, &err), TOTO_RESULT_OK);
        const char *p = NULL;
        size_t l = 0;
        bool dirty = true;
        CHECK_RC(toto_session_id(s, &p, &l), TOTO_RESULT_OK);
        CHECK_STR(p, l, "session-renamed");
        CHECK_RC(toto_session_is_dirty(s, &dirty), TOTO_RESULT_OK);
        CHECK(!dirty);
        test_cache_fault(k.tc, FAULT_NONE, 0);
        toto_session *t = NULL;
        if (CHECK_RC(toto_cache_load_session(c, STR("session-renamed"), &t, &err),
                     TOTO_RESULT_OK)) {
            CHECK_RC(toto_session_id(t, &p, &l), TOTO_RESULT_OK);
            CHECK_STR(p, l, "session-renamed");
            CHECK_RC(toto_session_get_text(t, STR("name"), &p, &l), TOTO_RESULT_OK);
            CHECK_STR(p, l, "Bob");
            toto_session_free(t);
        }
        toto_session_free(s);
    }
    /* Handing back the same id is not a rename. */
    snprintf(k.tc->rename_to, sizeof k.tc->rename_to, "same-id");
    test_cache_fault(k.tc, FAULT_RENAME, OP_STORE);
    new_id.data = (uint8_t *)&err;
    new_id.len = 3;
    CHECK_RC(toto_cache_store(c, STR("same-id"), STR("u"), exp, BYTES("r"), 0, &new_id, &err),
             TOTO_RESULT_OK);
    CHECK(new_id.data == NULL && new_id.len == 0);
    drop_cache(&k, c);
}

static void test_vtable_validation(void) {
    int freed = 0;
    test_cache *tc = test_cache_new(&freed);
    toto_cache_vtable good = test_cache_vtable(tc);
    toto_cache *untouched = (toto_cache *)&freed;
    struct {
        const char *what;
        toto_cache_vtable vt;
    } cases[6];
    for (int i = 0; i < 6; i++) cases[i].vt = good;
    cases[0].what = "version 0";
    cases[0].vt.version = 0;
    cases[1].what = "version from the future";
    cases[1].vt.version = TOTO_CACHE_VTABLE_VERSION + 1;
    cases[2].what = "no store";
    cases[2].vt.store = NULL;
    cases[3].what = "no load";
    cases[3].vt.load = NULL;
    cases[4].what = "no remove";
    cases[4].vt.remove = NULL;
    cases[5].what = "all NULL";
    memset(&cases[5].vt, 0, sizeof cases[5].vt);
    cases[5].vt.version = TOTO_CACHE_VTABLE_VERSION;
    cases[5].vt.free_user_data = good.free_user_data;
    cases[5].vt.user_data = tc;
    for (int i = 0; i < 6; i++) {
        toto_cache *c = untouched;
        if (!CHECK_RC(toto_cache_new_vtable(&cases[i].vt, &c), TOTO_RESULT_INVALID_ARGUMENT)) {
            printf("#     (case: %s)\n", cases[i].what);
            if (c != untouched) toto_cache_free(c);
        }
        CHECK(c == untouched);
    }
    toto_cache *c = untouched;
    CHECK_RC(toto_cache_new_vtable(&good, NULL), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_cache_new_vtable(NULL, &c), TOTO_RESULT_NULL_ARGUMENT);
    CHECK(freed == 0); /* nothing was taken on failure */

    /* Optional callbacks may be NULL. */
    toto_cache_vtable minimal = good;
    minimal.remove_user = NULL;
    minimal.free_user_data = NULL;
    c = NULL;
    if (CHECK_RC(toto_cache_new_vtable(&minimal, &c), TOTO_RESULT_OK)) {
        toto_error err = {0};
        uint64_t removed = 42;
        CHECK_RC(toto_cache_remove_user(c, STR("alice"), &removed, &err),
                 TOTO_RESULT_UNSUPPORTED);
        CHECK_ERR(err, TOTO_RESULT_UNSUPPORTED);
        CHECK(removed == 42);
        CHECK_RC(store(c, "works", "alice", now_seconds() + 60, "r", 0), TOTO_RESULT_OK);
        load_equals(c, "works", "r");
        toto_cache_free(c);
    }
    CHECK(freed == 0);
    test_cache_destroy(tc); /* still ours: no free_user_data was given */
}

static void test_vtable_is_copied(void) {
    int freed = 0;
    test_cache *tc = test_cache_new(&freed);
    toto_cache_vtable vt = test_cache_vtable(tc);
    toto_cache *c = NULL;
    if (!CHECK_RC(toto_cache_new_vtable(&vt, &c), TOTO_RESULT_OK)) {
        test_cache_destroy(tc);
        return;
    }
    memset(&vt, 0, sizeof vt); /* the library took a copy */
    CHECK_RC(store(c, "copied", "u", now_seconds() + 60, "r", 0), TOTO_RESULT_OK);
    load_equals(c, "copied", "r");
    CHECK(freed == 0);
    toto_cache_free(c);
    CHECK(freed == 1);
}

static double manual_clock(void *data) {
    return *(double *)data;
}

static void test_free_user_data_after_last_user(void) {
    int freed = 0;
    test_cache *tc = test_cache_new(&freed);
    toto_cache *c = test_cache_make(tc);
    toto_account_store *st = NULL;
    if (!c) {
        test_cache_destroy(tc);
        return;
    }
    CHECK_RC(toto_account_store_new_memory(&st), TOTO_RESULT_OK);
    toto_manager_options opt;
    CHECK_RC(toto_manager_options_default(&opt), TOTO_RESULT_OK);
    opt.password_memory_kib = 64; /* cheap hashes: this is not a password test */
    opt.password_iterations = 1;
    toto_manager *m = NULL;
    toto_error err = {0};
    if (!CHECK_RC(toto_manager_new(c, st, &opt, &m, &err), TOTO_RESULT_OK)) {
        printf("#     %s\n", err.message);
        toto_cache_free(c);
        toto_account_store_free(st);
        return;
    }
    toto_cache_free(c);
    toto_account_store_free(st);
    CHECK(freed == 0); /* the manager still uses the cache */
    toto_session *s = NULL;
    CHECK_RC(toto_manager_create_session(m, STR("alice"), false, &s, &err), TOTO_RESULT_OK);
    CHECK(tc->stores == 1); /* the callbacks still run */
    toto_session_free(s);
    toto_manager_free(m);
    CHECK(freed == 1);
}

static void test_memory_cache_on_a_host_clock(void) {
    double now = 1000.0;
    toto_cache *c = NULL;
    toto_cache *untouched = (toto_cache *)&now;
    c = untouched;
    CHECK_RC(toto_cache_new_memory_with_clock(NULL, &now, &c), TOTO_RESULT_NULL_ARGUMENT);
    CHECK(c == untouched);
    CHECK_RC(toto_cache_new_memory_with_clock(manual_clock, &now, NULL),
             TOTO_RESULT_NULL_ARGUMENT);
    if (!CHECK_RC(toto_cache_new_memory_with_clock(manual_clock, &now, &c), TOTO_RESULT_OK)) {
        return;
    }
    toto_bytes out = {0};
    CHECK_RC(store(c, "s", "u", 1010.0, "r", 0), TOTO_RESULT_OK);
    load_equals(c, "s", "r");
    now = 1009.999;
    load_equals(c, "s", "r");
    now = 1010.0; /* expired at exactly its expiry */
    CHECK_RC(toto_cache_load(c, STR("s"), &out, NULL), TOTO_RESULT_NOT_FOUND);
    CHECK_RC(store(c, "t", "u", 1020.0, "r", TOTO_STORE_CREATE_NEW), TOTO_RESULT_OK);
    CHECK_RC(store(c, "t", "u", 1030.0, "r2", TOTO_STORE_CREATE_NEW), TOTO_RESULT_ID_COLLISION);
    now = 1025.0;
    CHECK_RC(store(c, "t", "u", 1030.0, "r2", TOTO_STORE_CREATE_NEW), TOTO_RESULT_OK);
    load_equals(c, "t", "r2");
    toto_cache_free(c);
}

static void test_redis_options_and_unavailable_server(void) {
    toto_redis_options opt;
    memset(&opt, 0xab, sizeof opt);
    CHECK_RC(toto_redis_options_default(NULL), TOTO_RESULT_NULL_ARGUMENT);
    if (!CHECK_RC(toto_redis_options_default(&opt), TOTO_RESULT_OK)) return;
    CHECK(opt.version == TOTO_REDIS_OPTIONS_VERSION);
    CHECK(opt.key_prefix == NULL && opt.key_prefix_len == 0);
    CHECK(opt.connect_timeout_ms == 2000 && opt.io_timeout_ms == 2000);
    CHECK(opt.pool_size == 8 && opt.hash_ids);
    CHECK(opt.down_backoff_ms == 1000);

    toto_cache *c = (toto_cache *)&opt;
    toto_error err = {0};
    /* Argument checks. */
    CHECK_RC(toto_cache_new_redis(NULL, 5, NULL, &c, &err), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_cache_new_redis(STR("redis://127.0.0.1:1/"), NULL, NULL, &err),
             TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_cache_new_redis(STR("\xff"), NULL, &c, &err), TOTO_RESULT_INVALID_UTF8);
    char *long_url = repeat_char('r', TOTO_MAX_REDIS_TEXT_LEN + 1);
    CHECK_RC(toto_cache_new_redis(STR(long_url), NULL, &c, &err), TOTO_RESULT_TOO_LARGE);
    free(long_url);
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_cache_new_redis(STR("not a url"), NULL, &c, &err),
             TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_ERR(err, TOTO_RESULT_INVALID_ARGUMENT);
    toto_redis_options bad = opt;
    bad.version = 0;
    CHECK_RC(toto_cache_new_redis(STR("redis://127.0.0.1:1/"), &bad, &c, &err),
             TOTO_RESULT_INVALID_ARGUMENT);
    bad = opt;
    bad.version = TOTO_REDIS_OPTIONS_VERSION + 1;
    CHECK_RC(toto_cache_new_redis(STR("redis://127.0.0.1:1/"), &bad, &c, &err),
             TOTO_RESULT_INVALID_ARGUMENT);
    bad = opt;
    bad.connect_timeout_ms = 0;
    CHECK_RC(toto_cache_new_redis(STR("redis://127.0.0.1:1/"), &bad, &c, &err),
             TOTO_RESULT_INVALID_ARGUMENT);
    bad = opt;
    bad.io_timeout_ms = 0;
    CHECK_RC(toto_cache_new_redis(STR("redis://127.0.0.1:1/"), &bad, &c, &err),
             TOTO_RESULT_INVALID_ARGUMENT);
    bad = opt;
    bad.key_prefix = "\xff";
    bad.key_prefix_len = 1;
    CHECK_RC(toto_cache_new_redis(STR("redis://127.0.0.1:1/"), &bad, &c, &err),
             TOTO_RESULT_INVALID_UTF8);
    CHECK(c == (toto_cache *)&opt);

    /* A caller built against version 1 of the header passes the shorter struct (no
     * down_backoff_ms): accepted, and nothing past its end is read (a heap block of
     * exactly that size, so valgrind would see an overread). */
    typedef struct {
        uint32_t version;
        const char *key_prefix;
        size_t key_prefix_len;
        uint32_t connect_timeout_ms, io_timeout_ms, pool_size;
        bool hash_ids;
    } redis_options_v1;
    redis_options_v1 *v1 = malloc(sizeof *v1);
    if (CHECK(v1 != NULL)) {
        memset(v1, 0, sizeof *v1);
        v1->version = 1;
        v1->connect_timeout_ms = 300;
        v1->io_timeout_ms = 300;
        v1->pool_size = 2;
        v1->hash_ids = true;
        toto_cache *old = NULL;
        if (CHECK_RC(toto_cache_new_redis(STR("redis://127.0.0.1:1/"),
                                          (const toto_redis_options *)(void *)v1, &old, &err),
                     TOTO_RESULT_OK))
            toto_cache_free(old);
        free(v1);
    }

    /* Nothing listens on port 1: created fine, every operation is UNAVAILABLE. */
    opt.connect_timeout_ms = 300;
    opt.io_timeout_ms = 300;
    c = NULL;
    if (CHECK_RC(toto_cache_new_redis(STR("redis://127.0.0.1:1/"), &opt, &c, &err),
                 TOTO_RESULT_OK)) {
        toto_bytes out = {0};
        toto_session *s = NULL;
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_cache_store(c, STR("sid"), STR("u"), now_seconds() + 60, BYTES("r"), 0,
                                  NULL, &err),
                 TOTO_RESULT_BACKEND_UNAVAILABLE);
        CHECK_ERR(err, TOTO_RESULT_BACKEND_UNAVAILABLE);
        CHECK_RC(toto_cache_load(c, STR("sid"), &out, &err), TOTO_RESULT_BACKEND_UNAVAILABLE);
        CHECK_RC(toto_cache_load_session(c, STR("sid"), &s, &err),
                 TOTO_RESULT_BACKEND_UNAVAILABLE);
        CHECK_RC(toto_cache_remove(c, STR("sid"), &err), TOTO_RESULT_BACKEND_UNAVAILABLE);
        CHECK_RC(toto_cache_remove_user(c, STR("u"), NULL, &err),
                 TOTO_RESULT_BACKEND_UNAVAILABLE);
        toto_session *t = new_session("u");
        if (t) {
            CHECK_RC(toto_cache_store_session(c, t, &err), TOTO_RESULT_BACKEND_UNAVAILABLE);
            bool dirty = false;
            CHECK_RC(toto_session_is_dirty(t, &dirty), TOTO_RESULT_OK);
            CHECK(dirty);
            toto_session_free(t);
        }
        toto_cache_free(c);
    }
}

static void test_free_null(void) {
    toto_cache_free(NULL);
    toto_account_store_free(NULL);
    toto_bytes_free(NULL);
    toto_bytes b = {NULL, 0};
    toto_bytes_free(&b);
    CHECK(b.data == NULL && b.len == 0);
}

int main(void) {
    cache_kind memory = {"memory", KIND_MEMORY, NULL, 0};
    cache_kind compact = {"memory-compact", KIND_MEMORY_COMPACT, NULL, 0};
    cache_kind vtable = {"vtable", KIND_VTABLE, NULL, 0};
    cache_kind vtable_v1 = {"vtable-v1", KIND_VTABLE_V1, NULL, 0};
    cache_kind redis = {"redis", KIND_REDIS, NULL, 0};
    cache_kind *kinds[] = {&memory, &compact, &vtable, &vtable_v1, &redis};
    int nkinds = (int)(sizeof kinds / sizeof kinds[0]);
    /* No silent skip: without a server (scripts/with-redis.sh, as make test-c runs
     * this) every Redis test fails in make_redis. */
    for (int i = 0; i < nkinds; i++) {
        RUN_WITH(test_store_load_remove, kinds[i], kinds[i]->name);
        RUN_WITH(test_expired_entries_are_not_returned, kinds[i], kinds[i]->name);
        RUN_WITH(test_create_new_collision, kinds[i], kinds[i]->name);
        RUN_WITH(test_remove_user_counts, kinds[i], kinds[i]->name);
        RUN_WITH(test_remove_user_finds_mixed_case_store, kinds[i], kinds[i]->name);
        RUN_WITH(test_store_session_load_session_round_trip, kinds[i], kinds[i]->name);
        RUN_WITH(test_load_session_takes_the_lookup_id, kinds[i], kinds[i]->name);
        RUN_WITH(test_load_session_expiry_is_the_caches, kinds[i], kinds[i]->name);
        RUN_WITH(test_load_session_bad_record_left_in_place, kinds[i], kinds[i]->name);
        RUN_WITH(test_record_size_limit, kinds[i], kinds[i]->name);
        RUN_WITH(test_ids_and_user_ids_are_checked, kinds[i], kinds[i]->name);
        RUN_WITH(test_concurrent_use, kinds[i], kinds[i]->name);
    }
    RUN(test_vtable_rename);
    RUN(test_vtable_validation);
    RUN(test_vtable_is_copied);
    RUN(test_free_user_data_after_last_user);
    RUN(test_memory_cache_on_a_host_clock);
    RUN(test_redis_options_and_unavailable_server);
    RUN(test_free_null);
    return finish();
}
