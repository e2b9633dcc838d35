/*
 * test_client_cache.c: client-side sessions (toto_cache_new_client_side): argument
 * checks, the token as the id (URL-safe, within TOTO_MAX_SESSION_ID_LEN), round trips
 * through the cache and the manager, tampering, wrong keys, rotation, expiry on a host
 * clock, the size limit, logout that cannot revoke, garbage ids.
 */
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include <stdio.h>
#include <stdlib.h>

static toto_client_key key_of(uint32_t id, uint8_t byte) {
    toto_client_key k;
    k.id = id;
    memset(k.key, byte, sizeof k.key);
    return k;
}

static double manual_clock(void *data) { return *(const double *)data; }

static toto_cache *client_cache(const toto_client_key *keys, size_t n, double *clock_now) {
    toto_cache *c = NULL;
    toto_error err = {0};
    toto_result rc = toto_cache_new_client_side(keys, n, clock_now ? manual_clock : NULL,
                                                clock_now, &c, &err);
    if (!CHECK_RC(rc, TOTO_RESULT_OK)) {
        printf("#     %s\n", err.message);
        return NULL;
    }
    return c;
}

static bool url_safe(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '_';
        if (!ok) return false;
    }
    return true;
}

static void test_constructor_arguments(void) {
    toto_client_key keys[2] = {key_of(1, 1), key_of(1, 2)};
    toto_client_key zero = key_of(3, 0);
    toto_cache *c = NULL;
    toto_error err = {0};
    CHECK_RC(toto_cache_new_client_side(keys, 1, NULL, NULL, NULL, NULL), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_cache_new_client_side(NULL, 1, NULL, NULL, &c, NULL), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_cache_new_client_side(keys, 0, NULL, NULL, &c, &err), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_ERR(err, TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_RC(toto_cache_new_client_side(keys, 2, NULL, NULL, &c, &err), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_RC(toto_cache_new_client_side(&zero, 1, NULL, NULL, &c, &err), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_RC(toto_cache_new_client_side(keys, TOTO_MAX_CLIENT_KEYS + 1, NULL, NULL, &c, &err),
             TOTO_RESULT_INVALID_ARGUMENT);
    CHECK(c == NULL);
    c = client_cache(keys, 1, NULL);
    toto_cache_free(c);
}

/* Stores a session through the cache; returns the token (malloc'd) or NULL. */
static char *store_token(toto_cache *c, toto_session *s) {
    if (!CHECK_RC(toto_cache_store_session(c, s, NULL), TOTO_RESULT_OK)) return NULL;
    char *buf = malloc(TOTO_MAX_SESSION_ID_LEN + 1);
    if (!session_id_copy(s, buf, TOTO_MAX_SESSION_ID_LEN + 1)) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void test_round_trip_and_tampering(void) {
    toto_client_key k = key_of(7, 0x42);
    toto_cache *c = client_cache(&k, 1, NULL);
    toto_session *s = new_session("alice");
    toto_session *back = NULL;
    if (!c || !s) goto done;
    CHECK_RC(toto_session_set_text(s, STR("name"), STR("Alice")), TOTO_RESULT_OK);
    char *token = store_token(c, s);
    if (!token) goto done;
    size_t n = strlen(token);
    CHECK(n > 22 && n <= TOTO_MAX_SESSION_ID_LEN);
    CHECK(url_safe(token, n));
    if (CHECK_RC(toto_cache_load_session(c, token, n, &back, NULL), TOTO_RESULT_OK)) {
        const char *p = NULL;
        size_t len = 0;
        CHECK_RC(toto_session_get_text(back, STR("name"), &p, &len), TOTO_RESULT_OK);
        CHECK_STR(p, len, "Alice");
        CHECK_RC(toto_session_user_id(back, &p, &len), TOTO_RESULT_OK);
        CHECK_STR(p, len, "alice");
        CHECK_RC(toto_session_id(back, &p, &len), TOTO_RESULT_OK);
        CHECK_MEM(p, len, token, n);
    }
    /* The raw record comes back too. */
    toto_bytes rec = {0};
    CHECK_RC(toto_cache_load(c, token, n, &rec, NULL), TOTO_RESULT_OK);
    CHECK(rec.len > 0);
    toto_bytes_free(&rec);

    /* A changed character anywhere but the last is not found. */
    for (size_t i = 0; i + 1 < n; i++) {
        char saved = token[i];
        token[i] = saved == 'A' ? 'B' : 'A';
        toto_session *t = NULL;
        CHECK_RC(toto_cache_load_session(c, token, n, &t, NULL), TOTO_RESULT_NOT_FOUND);
        token[i] = saved;
    }
    /* Another key, another key id. */
    toto_client_key other = key_of(7, 0x43);
    toto_cache *c2 = client_cache(&other, 1, NULL);
    toto_bytes none = {0};
    if (c2) CHECK_RC(toto_cache_load(c2, token, n, &none, NULL), TOTO_RESULT_NOT_FOUND);
    toto_cache_free(c2);
    /* Logout cannot revoke: remove succeeds and the token still opens. */
    CHECK_RC(toto_cache_remove(c, token, n, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_cache_load(c, token, n, &rec, NULL), TOTO_RESULT_OK);
    toto_bytes_free(&rec);
    uint64_t removed = 0;
    CHECK_RC(toto_cache_remove_user(c, STR("alice"), &removed, NULL), TOTO_RESULT_UNSUPPORTED);
    free(token);
done:
    toto_session_free(back);
    toto_session_free(s);
    toto_cache_free(c);
}

static void test_rotation(void) {
    toto_client_key old_key = key_of(1, 1);
    toto_client_key both[2] = {key_of(2, 2), key_of(1, 1)};
    toto_client_key new_only = key_of(2, 2);
    toto_cache *old_c = client_cache(&old_key, 1, NULL);
    toto_cache *rot = client_cache(both, 2, NULL);
    toto_cache *new_c = client_cache(&new_only, 1, NULL);
    toto_session *s = new_session("bob");
    toto_bytes rec = {0};
    if (!old_c || !rot || !new_c || !s) goto done;
    char *old_token = store_token(old_c, s);
    char *new_token = store_token(rot, s);
    if (old_token && new_token) {
        CHECK_RC(toto_cache_load(rot, STR(old_token), &rec, NULL), TOTO_RESULT_OK);
        toto_bytes_free(&rec);
        CHECK_RC(toto_cache_load(new_c, STR(new_token), &rec, NULL), TOTO_RESULT_OK);
        toto_bytes_free(&rec);
        CHECK_RC(toto_cache_load(old_c, STR(new_token), &rec, NULL), TOTO_RESULT_NOT_FOUND);
        CHECK_RC(toto_cache_load(new_c, STR(old_token), &rec, NULL), TOTO_RESULT_NOT_FOUND);
    }
    free(old_token);
    free(new_token);
done:
    toto_session_free(s);
    toto_cache_free(old_c);
    toto_cache_free(rot);
    toto_cache_free(new_c);
}

static void test_expiry_and_size(void) {
    double now = 1000000.0;
    toto_client_key k = key_of(1, 9);
    toto_cache *c = client_cache(&k, 1, &now);
    toto_session *s = NULL;
    toto_bytes rec = {0};
    if (!c) return;
    if (!CHECK_RC(toto_session_new(STR("carol"), now + 60, &s), TOTO_RESULT_OK)) goto done;
    char *token = store_token(c, s);
    if (token) {
        now += 59;
        CHECK_RC(toto_cache_load(c, STR(token), &rec, NULL), TOTO_RESULT_OK);
        toto_bytes_free(&rec);
        now += 1;
        CHECK_RC(toto_cache_load(c, STR(token), &rec, NULL), TOTO_RESULT_NOT_FOUND);
        free(token);
    }
    /* A state over TOTO_MAX_CLIENT_RECORD_LEN is TOO_LARGE, and the session keeps its id. */
    uint8_t *big = calloc(1, TOTO_MAX_CLIENT_RECORD_LEN);
    toto_error err = {0};
    CHECK_RC(toto_session_set_bytes(s, STR("big"), big, TOTO_MAX_CLIENT_RECORD_LEN), TOTO_RESULT_OK);
    CHECK_RC(toto_cache_store_session(c, s, &err), TOTO_RESULT_TOO_LARGE);
    CHECK_ERR(err, TOTO_RESULT_TOO_LARGE);
    free(big);
    /* A raw store hands back the token as the new id. */
    toto_bytes new_id = {0};
    CHECK_RC(toto_cache_store(c, STR("x"), STR(""), now + 10, BYTES("opaque"), TOTO_STORE_CREATE_NEW,
                              &new_id, NULL),
             TOTO_RESULT_OK);
    if (CHECK(new_id.len > 0)) {
        CHECK_RC(toto_cache_load(c, (const char *)new_id.data, new_id.len, &rec, NULL), TOTO_RESULT_OK);
        CHECK_MEM(rec.data, rec.len, "opaque", 6);
        toto_bytes_free(&rec);
    }
    toto_bytes_free(&new_id);
done:
    toto_session_free(s);
    toto_cache_free(c);
}

static void test_through_the_manager(void) {
    toto_client_key k = key_of(5, 0x5a);
    toto_cache *c = client_cache(&k, 1, NULL);
    toto_account_store *store = NULL;
    toto_manager *m = NULL;
    toto_manager_options opt;
    toto_session *s = NULL, *v = NULL;
    toto_error err = {0};
    if (!c) return;
    CHECK_RC(toto_manager_options_default(&opt), TOTO_RESULT_OK);
    opt.password_memory_kib = 64;
    opt.password_iterations = 1;
    opt.password_parallelism = 1;
    if (!CHECK_RC(toto_account_store_new_memory(&store), TOTO_RESULT_OK) ||
        !CHECK_RC(toto_manager_new(c, store, &opt, &m, &err), TOTO_RESULT_OK))
        goto done;
    if (!CHECK_RC(toto_manager_create_session(m, STR("Dave"), true, &s, &err), TOTO_RESULT_OK)) goto done;
    char first[TOTO_MAX_SESSION_ID_LEN + 1], second[TOTO_MAX_SESSION_ID_LEN + 1];
    session_id_copy(s, first, sizeof first);
    CHECK_RC(toto_session_set_i64(s, STR("n"), 1), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_save_session(m, s, &err), TOTO_RESULT_OK);
    session_id_copy(s, second, sizeof second);
    CHECK(strcmp(first, second) != 0); /* a save seals a new token */

    char mac[TOTO_MAC_BUFFER_LEN];
    CHECK_RC(toto_session_sign_request(s, STR("POST"), STR("/x"), BYTES("{}"), mac, sizeof mac),
             TOTO_RESULT_OK);
    if (CHECK_RC(toto_manager_verify_request(m, STR(second), STR(mac), STR("POST"), STR("/x"), BYTES("{}"),
                                             &v, &err),
                 TOTO_RESULT_OK)) {
        int64_t n = 0;
        CHECK_RC(toto_session_get_i64(v, STR("n"), &n), TOTO_RESULT_OK);
        CHECK(n == 1);
    }
    toto_session_free(v);
    v = NULL;
    CHECK_RC(toto_manager_verify_request(m, STR(second), STR(mac), STR("POST"), STR("/x"), BYTES("{ }"), &v,
                                         &err),
             TOTO_RESULT_INVALID_HMAC);
    /* Garbage and over-long ids: 1007, never a crash. */
    char *huge = repeat_char('A', TOTO_MAX_SESSION_ID_LEN + 1);
    CHECK_RC(toto_manager_verify_request(m, STR("garbage"), STR(mac), STR("POST"), STR("/x"), BYTES("{}"), &v,
                                         &err),
             TOTO_RESULT_INVALID_SESSION_ID);
    CHECK_RC(toto_manager_verify_request(m, STR(huge), STR(mac), STR("POST"), STR("/x"), BYTES("{}"), &v, &err),
             TOTO_RESULT_INVALID_SESSION_ID);
    huge[TOTO_MAX_SESSION_ID_LEN] = '\0';
    CHECK_RC(toto_manager_retrieve_session(m, STR(huge), &v, &err), TOTO_RESULT_INVALID_SESSION_ID);
    free(huge);
    /* Logout answers OK (the token cannot be revoked); clear_sessions is unsupported. */
    CHECK_RC(toto_manager_remove_session(m, STR(second), &err), TOTO_RESULT_OK);
    uint64_t removed = 0;
    CHECK_RC(toto_manager_clear_sessions(m, STR("dave"), &removed, &err), TOTO_RESULT_UNSUPPORTED);
done:
    toto_session_free(v);
    toto_session_free(s);
    toto_manager_free(m);
    toto_account_store_free(store);
    toto_cache_free(c);
}

int main(void) {
    RUN(test_constructor_arguments);
    RUN(test_round_trip_and_tampering);
    RUN(test_rotation);
    RUN(test_expiry_and_size);
    RUN(test_through_the_manager);
    return finish();
}
