/*
 * test_toto_compat.c: a Python Toto 1.0.10 deployment's Redis data, made by Toto's own
 * code (tests/toto_fixtures/fixtures.txt, from make_fixtures.py), read from C: the
 * Redis cache's Toto compatibility (toto_read / toto_keep_key / toto_write) and the
 * Redis account store (toto_account_store_new_redis).
 *
 * Needs TOTO_REDIS_URL (make test-c runs the suite under scripts/with-redis.sh). The
 * fixtures are written into that Redis with a few raw RESP commands over a socket.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h"

/* ---- a minimal Redis client: enough to load fixtures and ask EXISTS / HGET ---- */

static int redis_connect(void) {
    const char *url = getenv("TOTO_REDIS_URL");
    if (url == NULL) return -1;
    const char *colon = strrchr(url, ':');
    if (colon == NULL) return -1;
    int port = atoi(colon + 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static bool write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Sends one command (argc binary-safe arguments) and reads the reply into `reply`
 * (NUL-terminated, at most cap - 1 bytes). */
static bool redis_cmd(int fd, int argc, const uint8_t *const *argv, const size_t *lens,
                      char *reply, size_t cap) {
    char head[64];
    snprintf(head, sizeof head, "*%d\r\n", argc);
    if (!write_all(fd, head, strlen(head))) return false;
    for (int i = 0; i < argc; i++) {
        snprintf(head, sizeof head, "$%zu\r\n", lens[i]);
        if (!write_all(fd, head, strlen(head)) || !write_all(fd, argv[i], lens[i]) ||
            !write_all(fd, "\r\n", 2))
            return false;
    }
    /* Replies here are short (+OK, :n, $-1, or a bulk of a password hash). */
    size_t got = 0;
    while (got < cap - 1) {
        ssize_t n = read(fd, reply + got, cap - 1 - got);
        if (n <= 0) return false;
        got += (size_t)n;
        reply[got] = '\0';
        if (reply[0] == '$' && reply[1] != '-') {
            char *nl = strstr(reply, "\r\n");
            if (nl != NULL && strstr(nl + 2, "\r\n") != NULL) break;
        } else if (strstr(reply, "\r\n") != NULL) {
            break;
        }
    }
    return true;
}

static bool redis_cmd_str(int fd, const char *a, const char *b, const char *c, char *reply,
                          size_t cap) {
    const uint8_t *argv[3] = {(const uint8_t *)a, (const uint8_t *)b, (const uint8_t *)c};
    size_t lens[3] = {strlen(a), strlen(b), c ? strlen(c) : 0};
    return redis_cmd(fd, c ? 3 : 2, argv, lens, reply, cap);
}

/* ---- the fixtures --------------------------------------------------------------- */

#define MAX_ITEMS 64

typedef struct {
    char id[64];
    char user[64];
    char key[64];
} fx_session;

typedef struct {
    char id[64];
    char *name, *json;
} fx_state;

typedef struct {
    char id[64];
    char *method, *uri, *body;
    char hmac[64];
} fx_request;

typedef struct {
    char *user, *password;
} fx_account;

static fx_session g_sessions[MAX_ITEMS];
static int g_nsessions;
static fx_state g_states[MAX_ITEMS];
static int g_nstates;
static fx_request g_requests[MAX_ITEMS];
static int g_nrequests;
static fx_account g_accounts[MAX_ITEMS];
static int g_naccounts;
static char g_bad[64];

/* Hex to a malloc'd NUL-terminated string ("-" is empty). */
static char *unhex(const char *hex) {
    size_t len = 0;
    if (strcmp(hex, "-") == 0) return calloc(1, 1);
    uint8_t *raw = hex_decode(hex, &len);
    char *s = malloc(len + 1);
    memcpy(s, raw, len);
    s[len] = '\0';
    free(raw);
    return s;
}

static void copy_unhex(char *dst, size_t cap, const char *hex) {
    char *s = unhex(hex);
    snprintf(dst, cap, "%s", s);
    free(s);
}

/* Reads fixtures.txt and writes its Redis keys into TOTO_REDIS_URL's server. */
static bool load_fixtures(void) {
    const char *path = getenv("TOTO_FIXTURES");
    if (path == NULL) path = "tests/toto_fixtures/fixtures.txt";
    FILE *f = fopen(path, "r");
    if (!CHECK(f != NULL)) return false;
    int fd = redis_connect();
    if (!CHECK(fd >= 0)) {
        fclose(f);
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    char reply[256];
    while (getline(&line, &cap, f) > 0) {
        char kind[16], a[4096], b[4096], c[4096], d[4096], e[128];
        int n = sscanf(line, "%15s %4095s %4095s %4095s %4095s %127s", kind, a, b, c, d, e);
        if (n >= 4 && (strcmp(kind, "string") == 0 || strcmp(kind, "hash") == 0)) {
            size_t klen, f1len, f2len = 0;
            uint8_t *key = hex_decode(a, &klen);
            uint8_t *v1 = hex_decode(b, &f1len);
            uint8_t *v2 = strcmp(kind, "hash") == 0 ? hex_decode(c, &f2len) : NULL;
            if (v2 == NULL) { /* SETEX key ttl value */
                const uint8_t *argv[4] = {(const uint8_t *)"SETEX", key, (const uint8_t *)c, v1};
                size_t lens[4] = {5, klen, strlen(c), f1len};
                CHECK(redis_cmd(fd, 4, argv, lens, reply, sizeof reply));
                CHECK(strncmp(reply, "+OK", 3) == 0);
            } else { /* HSET key field value */
                const uint8_t *argv[4] = {(const uint8_t *)"HSET", key, v1, v2};
                size_t lens[4] = {4, klen, f1len, f2len};
                CHECK(redis_cmd(fd, 4, argv, lens, reply, sizeof reply));
                CHECK(reply[0] == ':');
            }
            free(key);
            free(v1);
            free(v2);
        } else if (n == 3 && strcmp(kind, "account") == 0 && g_naccounts < MAX_ITEMS) {
            g_accounts[g_naccounts].user = unhex(a);
            g_accounts[g_naccounts++].password = unhex(b);
        } else if (n == 4 && strcmp(kind, "session") == 0 && g_nsessions < MAX_ITEMS) {
            fx_session *s = &g_sessions[g_nsessions++];
            snprintf(s->id, sizeof s->id, "%.63s", a);
            copy_unhex(s->user, sizeof s->user, b);
            snprintf(s->key, sizeof s->key, "%.63s", strcmp(c, "-") == 0 ? "" : c);
        } else if (n == 4 && strcmp(kind, "state") == 0 && g_nstates < MAX_ITEMS) {
            fx_state *s = &g_states[g_nstates++];
            snprintf(s->id, sizeof s->id, "%.63s", a);
            s->name = unhex(b);
            s->json = unhex(c);
        } else if (n == 6 && strcmp(kind, "request") == 0 && g_nrequests < MAX_ITEMS) {
            fx_request *r = &g_requests[g_nrequests++];
            snprintf(r->id, sizeof r->id, "%.63s", a);
            r->method = unhex(b);
            r->uri = unhex(c);
            r->body = unhex(d);
            snprintf(r->hmac, sizeof r->hmac, "%.63s", e);
        } else if (n == 2 && strcmp(kind, "bad") == 0) {
            snprintf(g_bad, sizeof g_bad, "%.63s", a);
        }
    }
    free(line);
    fclose(f);
    close(fd);
    return CHECK(g_nsessions >= 3 && g_naccounts >= 2 && g_nrequests >= 1 && g_bad[0]);
}

static void free_fixtures(void) {
    for (int i = 0; i < g_naccounts; i++) {
        free(g_accounts[i].user);
        free(g_accounts[i].password);
    }
    for (int i = 0; i < g_nstates; i++) {
        free(g_states[i].name);
        free(g_states[i].json);
    }
    for (int i = 0; i < g_nrequests; i++) {
        free(g_requests[i].method);
        free(g_requests[i].uri);
        free(g_requests[i].body);
    }
}

static bool redis_exists(const char *key) {
    int fd = redis_connect();
    char reply[64] = "";
    bool ok = fd >= 0 && redis_cmd_str(fd, "EXISTS", key, NULL, reply, sizeof reply);
    if (fd >= 0) close(fd);
    return ok && strncmp(reply, ":1", 2) == 0;
}

/* ---- the manager over Redis, Toto's layout read ------------------------------------ */

static char g_prefix[64];

static toto_manager *make_manager(bool keep, bool write, toto_cache **cache_out) {
    const char *url = getenv("TOTO_REDIS_URL");
    toto_redis_options ro;
    toto_redis_account_store_options so;
    toto_cache *cache = NULL;
    toto_account_store *store = NULL;
    toto_manager *m = NULL;
    toto_error err = {0};
    if (!CHECK(url != NULL)) return NULL;
    CHECK_RC(toto_redis_options_default(&ro), TOTO_RESULT_OK);
    CHECK(ro.version == TOTO_REDIS_OPTIONS_VERSION && !ro.toto_read && !ro.toto_write);
    ro.key_prefix = g_prefix;
    ro.key_prefix_len = strlen(g_prefix);
    ro.toto_read = true;
    ro.toto_keep_key = keep;
    ro.toto_write = write;
    CHECK_RC(toto_cache_new_redis(STR(url), &ro, &cache, &err), TOTO_RESULT_OK);
    CHECK_RC(toto_redis_account_store_options_default(&so), TOTO_RESULT_OK);
    CHECK(so.version == TOTO_REDIS_ACCOUNT_STORE_OPTIONS_VERSION);
    CHECK_RC(toto_account_store_new_redis(STR(url), &so, &store, &err), TOTO_RESULT_OK);
    toto_manager_options mo;
    CHECK_RC(toto_manager_options_default(&mo), TOTO_RESULT_OK);
    mo.password_memory_kib = 64;
    mo.password_iterations = 1;
    mo.password_parallelism = 1;
    CHECK_RC(toto_manager_new(cache, store, &mo, &m, &err), TOTO_RESULT_OK);
    toto_account_store_free(store);
    if (cache_out != NULL) {
        *cache_out = cache;
    } else {
        toto_cache_free(cache);
    }
    return m;
}

static void test_toto_sessions_are_read(void) {
    toto_manager *m = make_manager(true, false, NULL);
    toto_error err = {0};
    if (m == NULL) return;
    for (int i = 0; i < g_nsessions; i++) {
        fx_session *fs = &g_sessions[i];
        toto_session *s = NULL;
        if (!CHECK_RC(toto_manager_retrieve_session(m, STR(fs->id), &s, &err), TOTO_RESULT_OK))
            continue;
        const char *p;
        size_t n;
        CHECK_RC(toto_session_user_id(s, &p, &n), TOTO_RESULT_OK);
        CHECK_STR(p, n, fs->user);
        toto_result rc = toto_session_key(s, &p, &n);
        if (fs->key[0]) {
            CHECK_RC(rc, TOTO_RESULT_OK);
            CHECK_STR(p, n, fs->key);
        } else {
            CHECK_RC(rc, TOTO_RESULT_NOT_FOUND);
        }
        /* Every state value, as JSON. */
        size_t count = 0;
        for (int j = 0; j < g_nstates; j++) {
            fx_state *st = &g_states[j];
            if (strcmp(st->id, fs->id) != 0) continue;
            toto_bytes json = {0};
            if (CHECK_RC(toto_session_get_json(s, STR(st->name), &json, &err), TOTO_RESULT_OK)) {
                if (!CHECK_STR((const char *)json.data, json.len, st->json))
                    printf("#     %s: got %.*s\n", st->name, (int)json.len, (const char *)json.data);
                toto_bytes_free(&json);
            }
            count++;
        }
        size_t len = 0;
        CHECK_RC(toto_session_len(s, &len), TOTO_RESULT_OK);
        CHECK(len == count);
        toto_session_free(s);
    }
    /* toto_keep_key: Toto's key stays for the Python side. */
    char key[96];
    snprintf(key, sizeof key, "session:%s", g_sessions[0].id);
    CHECK(redis_exists(key));
    /* A request Toto's client signed with the session key verifies. */
    for (int i = 0; i < g_nrequests; i++) {
        fx_request *r = &g_requests[i];
        toto_session *s = NULL;
        CHECK_RC(toto_manager_verify_request(m, STR(r->id), STR(r->hmac), STR(r->method),
                                             STR(r->uri), BYTES(r->body), &s, &err),
                 TOTO_RESULT_OK);
        toto_session_free(s);
        s = NULL;
        CHECK_RC(toto_manager_verify_request(m, STR(r->id), STR(r->hmac), STR(r->method),
                                             STR(r->uri), BYTES("tampered"), &s, &err),
                 TOTO_RESULT_INVALID_HMAC);
        CHECK(s == NULL);
    }
    /* A state with a type Toto sessions may not hold here: an error for it alone. */
    toto_session *s = NULL;
    CHECK_RC(toto_manager_retrieve_session(m, STR(g_bad), &s, &err), TOTO_RESULT_INVALID_CBOR);
    CHECK_ERR(err, TOTO_RESULT_INVALID_CBOR);
    CHECK(s == NULL);
    /* Logout removes both copies: it cannot be undone by reading Toto's again. */
    CHECK_RC(toto_manager_remove_session(m, STR(g_sessions[0].id), &err), TOTO_RESULT_OK);
    CHECK(!redis_exists(key));
    CHECK_RC(toto_manager_retrieve_session(m, STR(g_sessions[0].id), &s, &err),
             TOTO_RESULT_INVALID_SESSION_ID);
    toto_manager_free(m);
}

static void test_toto_accounts_log_in(void) {
    toto_manager *m = make_manager(false, false, NULL);
    toto_error err = {0};
    if (m == NULL) return;
    for (int i = 0; i < g_naccounts; i++) {
        fx_account *a = &g_accounts[i];
        toto_session *s = NULL;
        CHECK_RC(toto_manager_login(m, STR(a->user), STR("wrong"), &s, &err),
                 TOTO_RESULT_INVALID_CREDENTIALS);
        CHECK_RC(toto_manager_login(m, STR(a->user), STR(a->password), &s, &err),
                 TOTO_RESULT_OK);
        toto_session_free(s);
        s = NULL;
        /* The $p5k2$ hash was upgraded and saved back into Toto's hash. */
        toto_account *acct = NULL;
        CHECK_RC(toto_manager_account(m, STR(a->user), &acct), TOTO_RESULT_OK);
        const char *p;
        size_t n;
        if (CHECK_RC(toto_account_get_text(acct, STR("password"), &p, &n, &err), TOTO_RESULT_OK))
            CHECK(n > 10 && memcmp(p, "$argon2id$", 10) == 0);
        CHECK_RC(toto_account_get_text(acct, STR("user_id"), &p, &n, &err), TOTO_RESULT_OK);
        CHECK_STR(p, n, a->user);
        toto_account_free(acct);
        CHECK_RC(toto_manager_login(m, STR(a->user), STR(a->password), &s, &err),
                 TOTO_RESULT_OK);
        toto_session_free(s);
    }
    CHECK_RC(toto_manager_create_account(m, STR("ALICE"), STR("x"), NULL, 0, &err),
             TOTO_RESULT_USER_ID_EXISTS);
    toto_manager_free(m);
}

static void test_toto_write_and_store_options(void) {
    toto_cache *cache = NULL;
    toto_manager *m = make_manager(false, true, &cache);
    toto_error err = {0};
    if (m == NULL) return;
    toto_session *s = NULL;
    char user[64], key[96], id[64];
    snprintf(user, sizeof user, "c-writer-%ld", (long)getpid());
    CHECK_RC(toto_manager_create_account(m, STR(user), STR("pw"), NULL, 0, &err), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_login(m, STR(user), STR("pw"), &s, &err), TOTO_RESULT_OK);
    if (s != NULL && session_id_copy(s, id, sizeof id)) {
        snprintf(key, sizeof key, "session:%s", id);
        CHECK(redis_exists(key)); /* Python Toto can read it */
        uint64_t removed = 0;
        CHECK_RC(toto_manager_clear_sessions(m, STR(user), &removed, &err), TOTO_RESULT_OK);
        CHECK(removed == 1);
        CHECK(!redis_exists(key));
    }
    toto_session_free(s);
    toto_manager_free(m);
    toto_cache_free(cache);

    /* Account store options: a prefix of one's own, bad arguments refused. */
    const char *url = getenv("TOTO_REDIS_URL");
    toto_redis_account_store_options so;
    toto_account_store *store = NULL;
    CHECK_RC(toto_redis_account_store_options_default(NULL), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_redis_account_store_options_default(&so), TOTO_RESULT_OK);
    so.key_prefix = "c-accounts:";
    so.key_prefix_len = strlen(so.key_prefix);
    CHECK_RC(toto_account_store_new_redis(STR(url), &so, &store, &err), TOTO_RESULT_OK);
    CHECK_RC(toto_account_store_create(store, STR(user), &err), TOTO_RESULT_OK);
    CHECK_RC(toto_account_store_create(store, STR(user), &err), TOTO_RESULT_USER_ID_EXISTS);
    snprintf(key, sizeof key, "c-accounts:%s", user);
    CHECK(redis_exists(key));
    CHECK_RC(toto_account_store_remove(store, STR(user), &err), TOTO_RESULT_OK);
    CHECK(!redis_exists(key));
    toto_account_store_free(store);
    store = NULL;
    so.io_timeout_ms = 0;
    CHECK_RC(toto_account_store_new_redis(STR(url), &so, &store, &err),
             TOTO_RESULT_INVALID_ARGUMENT);
    so.io_timeout_ms = 2000;
    so.version = 99;
    CHECK_RC(toto_account_store_new_redis(STR(url), &so, &store, &err),
             TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_RC(toto_account_store_new_redis(STR("not a url"), NULL, &store, &err),
             TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_RC(toto_account_store_new_redis(STR(url), NULL, NULL, &err), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_account_store_new_redis(STR("\xff"), NULL, &store, &err),
             TOTO_RESULT_INVALID_UTF8);
    CHECK(store == NULL);
    /* Down: unavailable on first use, not at creation. */
    CHECK_RC(toto_account_store_new_redis(STR("redis://127.0.0.1:1/"), NULL, &store, &err),
             TOTO_RESULT_OK);
    CHECK_RC(toto_account_store_create(store, STR("x"), &err), TOTO_RESULT_BACKEND_UNAVAILABLE);
    toto_account_store_free(store);
}

/* A caller built against version 1 of toto_redis_options passes the shorter struct. */
typedef struct {
    uint32_t version;
    const char *key_prefix;
    size_t key_prefix_len;
    uint32_t connect_timeout_ms, io_timeout_ms, pool_size;
    bool hash_ids;
} redis_options_v1;

static void test_redis_options_version_1(void) {
    const char *url = getenv("TOTO_REDIS_URL");
    redis_options_v1 *v1 = malloc(sizeof *v1); /* exactly v1's size: valgrind sees overreads */
    v1->version = 1;
    v1->key_prefix = NULL;
    v1->key_prefix_len = 0;
    v1->connect_timeout_ms = v1->io_timeout_ms = 2000;
    v1->pool_size = 2;
    v1->hash_ids = true;
    toto_cache *c = NULL;
    toto_error err = {0};
    CHECK_RC(toto_cache_new_redis(STR(url), (const toto_redis_options *)(void *)v1, &c, &err),
             TOTO_RESULT_OK);
    toto_cache_free(c);
    free(v1);
}

int main(void) {
    snprintf(g_prefix, sizeof g_prefix, "ctoto:%ld:", (long)getpid());
    if (!load_fixtures()) {
        printf("not ok - fixtures could not be loaded (TOTO_REDIS_URL set?)\n");
        return 1;
    }
    RUN(test_toto_sessions_are_read);
    RUN(test_toto_accounts_log_in);
    RUN(test_toto_write_and_store_options);
    RUN(test_redis_options_version_1);
    free_fixtures();
    return finish();
}
