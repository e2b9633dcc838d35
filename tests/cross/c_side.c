/*
 * The C end of the cross-language test (tests/cross/run.sh): sessions shared through
 * one Redis by C, Go and Ruby.
 *   c_side create        creates a keyed session for "cross", sets from_c = 1, saves it,
 *                        signs POST /cross {"n":1} and prints "ID KEY MAC"
 *   c_side check ID      retrieves ID and checks the values Go and Ruby wrote
 * TOTO_REDIS_URL names the Redis server. With TOTO_CLIENT_KEY set ("ID:64 hex digits"),
 * the cache is client-side instead (toto_cache_new_client_side with that one key): the
 * session travels in its id, and "check" is given the id the last side saved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <toto_session.h>

#define STR(s) (s), strlen(s)

static int fail(const char *what, toto_result rc, const toto_error *err) {
    fprintf(stderr, "c_side: %s: code %u (%s) %s\n", what, (unsigned)rc, toto_result_message(rc),
            err ? err->message : "");
    return 1;
}

static int text_equals(const toto_session *s, const char *key, const char *want) {
    const char *p = NULL;
    size_t n = 0;
    toto_result rc = toto_session_get_text(s, STR(key), &p, &n);
    if (rc != TOTO_RESULT_OK) return fail(key, rc, NULL) == 0;
    if (n != strlen(want) || memcmp(p, want, n) != 0) {
        fprintf(stderr, "c_side: %s is '%.*s', expected '%s'\n", key, (int)n, p, want);
        return 0;
    }
    return 1;
}

/* TOTO_CLIENT_KEY "ID:HEX" into a key; false when malformed. */
static int parse_client_key(const char *text, toto_client_key *out) {
    unsigned long id = 0;
    int used = 0;
    if (sscanf(text, "%lu:%n", &id, &used) != 1 || strlen(text + used) != 2 * TOTO_CLIENT_KEY_LEN) return 0;
    out->id = (uint32_t)id;
    for (size_t i = 0; i < TOTO_CLIENT_KEY_LEN; i++) {
        unsigned byte = 0;
        if (sscanf(text + used + 2 * i, "%2x", &byte) != 1) return 0;
        out->key[i] = (uint8_t)byte;
    }
    return 1;
}

int main(int argc, char **argv) {
    const char *url = getenv("TOTO_REDIS_URL");
    const char *client_key = getenv("TOTO_CLIENT_KEY");
    if (argc < 2 || (!url && !client_key)) {
        fprintf(stderr, "usage: TOTO_REDIS_URL=... (or TOTO_CLIENT_KEY=ID:HEX) c_side create | check ID\n");
        return 2;
    }
    toto_error err = {0};
    toto_cache *cache = NULL;
    toto_account_store *store = NULL;
    toto_manager *m = NULL;
    toto_result rc;
    if (client_key) {
        toto_client_key key;
        if (!parse_client_key(client_key, &key)) {
            fprintf(stderr, "c_side: TOTO_CLIENT_KEY must be ID:64 hex digits\n");
            return 2;
        }
        rc = toto_cache_new_client_side(&key, 1, NULL, NULL, &cache, &err);
        if (rc != TOTO_RESULT_OK) return fail("toto_cache_new_client_side", rc, &err);
    } else {
        rc = toto_cache_new_redis(STR(url), NULL, &cache, &err);
        if (rc != TOTO_RESULT_OK) return fail("toto_cache_new_redis", rc, &err);
    }
    rc = toto_account_store_new_memory(&store);
    if (rc != TOTO_RESULT_OK) return fail("toto_account_store_new_memory", rc, NULL);
    rc = toto_manager_new(cache, store, NULL, &m, &err);
    toto_cache_free(cache);
    toto_account_store_free(store);
    if (rc != TOTO_RESULT_OK) return fail("toto_manager_new", rc, &err);

    int status = 0;
    toto_session *s = NULL;
    if (strcmp(argv[1], "create") == 0) {
        rc = toto_manager_create_session(m, STR("Cross"), true, &s, &err);
        if (rc != TOTO_RESULT_OK) {
            status = fail("create_session", rc, &err);
        } else if ((rc = toto_session_set_i64(s, STR("from_c"), 1)) != TOTO_RESULT_OK ||
                   (rc = toto_manager_save_session(m, s, &err)) != TOTO_RESULT_OK) {
            status = fail("set/save", rc, &err);
        } else {
            const char *id = NULL, *key = NULL;
            size_t id_len = 0, key_len = 0;
            char mac[TOTO_MAC_BUFFER_LEN];
            const char *body = "{\"n\":1}";
            toto_session_id(s, &id, &id_len);
            toto_session_key(s, &key, &key_len);
            rc = toto_session_sign_request(s, STR("POST"), STR("/cross"), (const uint8_t *)body,
                                           strlen(body), mac, sizeof mac);
            if (rc != TOTO_RESULT_OK) status = fail("sign_request", rc, NULL);
            else printf("%.*s %.*s %s\n", (int)id_len, id, (int)key_len, key, mac);
        }
    } else if (strcmp(argv[1], "check") == 0 && argc == 3) {
        rc = toto_manager_retrieve_session(m, STR(argv[2]), &s, &err);
        if (rc != TOTO_RESULT_OK) {
            status = fail("retrieve_session", rc, &err);
        } else {
            int64_t from_c = 0;
            int ok = toto_session_get_i64(s, STR("from_c"), &from_c) == TOTO_RESULT_OK && from_c == 1;
            ok = text_equals(s, "from_go", "hello from Go") && ok;
            ok = text_equals(s, "from_ruby", "hello from Ruby") && ok;
            const char *user = NULL;
            size_t user_len = 0;
            toto_session_user_id(s, &user, &user_len);
            ok = ok && user_len == 5 && memcmp(user, "cross", 5) == 0;
            if (ok) printf("c_side: C sees the values written by C, Go and Ruby\n");
            status = ok ? 0 : 1;
        }
    } else {
        fprintf(stderr, "c_side: unknown command\n");
        status = 2;
    }
    toto_session_free(s);
    toto_manager_free(m);
    return status;
}
