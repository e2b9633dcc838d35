/*
 * test_revocation.c: revocation that sticks and lost-update detection through the C
 * ABI (issue 19). On every cache a C server can use (memory, memory compact, Redis at
 * TOTO_REDIS_URL, a C vtable cache with store_if, and a version-2 vtable without it):
 * a handle retrieved before a logout, rotation, clear_sessions or password change
 * cannot save the session back (TOTO_RESULT_SESSION_REVOKED) and the id stays dead;
 * a save over a newer revision is TOTO_RESULT_CONFLICT (or wins with
 * TOTO_SAVE_LAST_WRITER_WINS); options of version 1 still work. Then processes forked
 * from one parent add to one counter in Redis with the documented retry loop, and no
 * increment is lost.
 */
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a vtable cache with the conditional store (version 3) ------------------------ */

typedef struct rev_entry {
    struct rev_entry *next;
    char *id;
    size_t id_len;
    char *user;
    size_t user_len;
    uint8_t *record;
    size_t record_len;
    double expires;
    uint64_t revision;
} rev_entry;

typedef struct {
    pthread_mutex_t mu;
    rev_entry *head;
    unsigned store_ifs; /* calls of store_if */
    unsigned stores;    /* calls of the plain store */
    uint32_t last_flags;
} rev_cache;

static void *dup_bytes(const void *p, size_t n) {
    void *d = malloc(n ? n : 1);
    if (!d) abort();
    if (n) memcpy(d, p, n);
    return d;
}

static rev_entry **rev_find(rev_cache *c, const char *id, size_t len) {
    rev_entry **link = &c->head;
    while (*link && !((*link)->id_len == len && memcmp((*link)->id, id, len) == 0)) {
        link = &(*link)->next;
    }
    return link;
}

static void rev_entry_free(rev_entry *e) {
    free(e->id);
    free(e->user);
    free(e->record);
    free(e);
}

/* Drops an expired entry; returns the live one or NULL. Under the mutex. */
static rev_entry *rev_live(rev_cache *c, const char *id, size_t len) {
    rev_entry **link = rev_find(c, id, len);
    rev_entry *e = *link;
    if (e && e->expires <= now_seconds()) {
        *link = e->next;
        rev_entry_free(e);
        return NULL;
    }
    return e;
}

static uint32_t rev_put(rev_cache *c, const char *id, size_t id_len, const char *user,
                        size_t user_len, double expires, const uint8_t *record,
                        size_t record_len, uint32_t flags, uint64_t expected,
                        uint64_t revision) {
    rev_entry *e = rev_live(c, id, id_len);
    if (flags == TOTO_STORE_CREATE_NEW && e) return TOTO_RESULT_ID_COLLISION;
    if ((flags == TOTO_STORE_IF_REVISION || flags == TOTO_STORE_IF_EXISTS) && !e) {
        return TOTO_RESULT_SESSION_REVOKED;
    }
    if (flags == TOTO_STORE_IF_REVISION && e->revision != expected) return TOTO_RESULT_CONFLICT;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) abort();
        e->id = dup_bytes(id, id_len);
        e->id_len = id_len;
        e->next = c->head;
        c->head = e;
    }
    free(e->user);
    free(e->record);
    e->user = dup_bytes(user, user_len);
    e->user_len = user_len;
    e->record = dup_bytes(record, record_len);
    e->record_len = record_len;
    e->expires = expires;
    e->revision = revision;
    return TOTO_RESULT_OK;
}

static uint32_t rev_store_if(void *ud, const char *id, size_t id_len, const char *user,
                             size_t user_len, double expires, const uint8_t *record,
                             size_t record_len, uint32_t flags, uint64_t expected,
                             uint64_t revision, toto_callback_ctx *ctx) {
    rev_cache *c = ud;
    pthread_mutex_lock(&c->mu);
    c->store_ifs++;
    c->last_flags = flags;
    uint32_t rc = rev_put(c, id, id_len, user, user_len, expires, record, record_len, flags,
                          expected, revision);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* The version-1 store: no revision given, so the entry gets 0 (used by the v2 table). */
static uint32_t rev_store(void *ud, const char *id, size_t id_len, const char *user,
                          size_t user_len, double expires, const uint8_t *record,
                          size_t record_len, uint32_t flags, toto_callback_ctx *ctx) {
    rev_cache *c = ud;
    pthread_mutex_lock(&c->mu);
    c->stores++;
    c->last_flags = flags;
    uint32_t rc = rev_put(c, id, id_len, user, user_len, expires, record, record_len,
                          flags & TOTO_STORE_CREATE_NEW, 0, 0);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static uint32_t rev_load(void *ud, const char *id, size_t id_len, toto_callback_ctx *ctx) {
    rev_cache *c = ud;
    uint32_t rc = TOTO_RESULT_NOT_FOUND;
    pthread_mutex_lock(&c->mu);
    rev_entry *e = rev_live(c, id, id_len);
    if (e) rc = toto_callback_set_result(ctx, e->record, e->record_len);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static uint32_t rev_remove(void *ud, const char *id, size_t id_len, toto_callback_ctx *ctx) {
    rev_cache *c = ud;
    pthread_mutex_lock(&c->mu);
    rev_entry **link = rev_find(c, id, id_len);
    if (*link) {
        rev_entry *e = *link;
        *link = e->next;
        rev_entry_free(e);
    }
    pthread_mutex_unlock(&c->mu);
    return TOTO_RESULT_OK;
}

static uint32_t rev_remove_user(void *ud, const char *user, size_t user_len, uint64_t *removed,
                                toto_callback_ctx *ctx) {
    rev_cache *c = ud;
    uint64_t n = 0;
    pthread_mutex_lock(&c->mu);
    rev_entry **link = &c->head;
    while (*link) {
        rev_entry *e = *link;
        if (user_len > 0 && e->user_len == user_len && memcmp(e->user, user, user_len) == 0) {
            *link = e->next;
            rev_entry_free(e);
            n++;
        } else {
            link = &e->next;
        }
    }
    pthread_mutex_unlock(&c->mu);
    *removed = n;
    return TOTO_RESULT_OK;
}

static void rev_free(void *ud) {
    rev_cache *c = ud;
    rev_entry *e = c->head;
    while (e) {
        rev_entry *next = e->next;
        rev_entry_free(e);
        e = next;
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* A vtable cache: version 3 with store_if (and no plain store), or version 2 (the
 * library emulates the conditional store with load + store). */
static toto_cache *rev_cache_new(bool with_store_if, rev_cache **out_c) {
    rev_cache *c = calloc(1, sizeof *c);
    if (!c) abort();
    pthread_mutex_init(&c->mu, NULL);
    toto_cache_vtable vt;
    memset(&vt, 0, sizeof vt);
    vt.user_data = c;
    vt.load = rev_load;
    vt.remove = rev_remove;
    vt.remove_user = rev_remove_user;
    vt.free_user_data = rev_free;
    if (with_store_if) {
        vt.version = TOTO_CACHE_VTABLE_VERSION;
        vt.store_if = rev_store_if;
    } else {
        vt.version = 2;
        vt.store = rev_store;
        vt.store_if = rev_store_if; /* beyond a version-2 table: must never be called */
    }
    toto_cache *cache = NULL;
    if (!CHECK_RC(toto_cache_new_vtable(&vt, &cache), TOTO_RESULT_OK)) {
        rev_free(c);
        return NULL;
    }
    *out_c = c;
    return cache;
}

/* ---- the caches under test ----------------------------------------------------------- */

typedef enum { K_MEMORY, K_COMPACT, K_REDIS, K_VTABLE, K_VTABLE_V2, K_COUNT } kind;
static const char *kind_names[K_COUNT] = {"memory", "compact", "redis", "vtable v3 store_if",
                                          "vtable v2 (emulated)"};
static int g_prefix;

static toto_cache *redis_cache(void) {
    const char *url = getenv("TOTO_REDIS_URL");
    toto_redis_options opt;
    toto_cache *c = NULL;
    toto_error err = {0};
    char prefix[64];
    if (!CHECK(url != NULL)) return NULL;
    CHECK_RC(toto_redis_options_default(&opt), TOTO_RESULT_OK);
    snprintf(prefix, sizeof prefix, "crevoke:%ld:%d:%d:", (long)now_seconds(), (int)getpid(),
             ++g_prefix);
    opt.key_prefix = prefix;
    opt.key_prefix_len = strlen(prefix);
    if (!CHECK_RC(toto_cache_new_redis(STR(url), &opt, &c, &err), TOTO_RESULT_OK)) {
        printf("#     %s\n", err.message);
    }
    return c;
}

static rev_cache *g_last_rev; /* the vtable cache's state, for call counts */

static toto_cache *cache_of(kind k) {
    toto_cache *c = NULL;
    switch (k) {
    case K_MEMORY:
        CHECK_RC(toto_cache_new_memory(&c), TOTO_RESULT_OK);
        return c;
    case K_COMPACT:
        CHECK_RC(toto_cache_new_memory_compact(&c), TOTO_RESULT_OK);
        return c;
    case K_REDIS:
        return redis_cache();
    case K_VTABLE:
        return rev_cache_new(true, &g_last_rev);
    case K_VTABLE_V2:
        return rev_cache_new(false, &g_last_rev);
    default:
        return NULL;
    }
}

typedef struct {
    toto_cache *cache;
    toto_account_store *store;
    toto_manager *m;
} world;

static bool world_new(world *w, kind k, uint32_t save_policy) {
    toto_manager_options opt;
    toto_error err = {0};
    memset(w, 0, sizeof *w);
    w->cache = cache_of(k);
    if (!w->cache) return false;
    CHECK_RC(toto_account_store_new_memory(&w->store), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_options_default(&opt), TOTO_RESULT_OK);
    CHECK(opt.save_policy == TOTO_SAVE_DETECT_CONFLICTS);
    opt.password_memory_kib = 64;
    opt.password_iterations = 1;
    opt.save_policy = save_policy;
    if (!CHECK_RC(toto_manager_new(w->cache, w->store, &opt, &w->m, &err), TOTO_RESULT_OK)) {
        printf("#     %s\n", err.message);
        return false;
    }
    return true;
}

static void world_free(world *w) {
    toto_manager_free(w->m);
    toto_cache_free(w->cache);
    toto_account_store_free(w->store);
}

/* Logs `user` in (creating the account on first use); returns the id in `id`. */
static toto_session *login(world *w, const char *user, const char *password, char *id) {
    toto_session *s = NULL;
    uint32_t rc = toto_manager_create_account(w->m, STR(user), STR(password), NULL, 0, NULL);
    CHECK(rc == TOTO_RESULT_OK || rc == TOTO_RESULT_USER_ID_EXISTS);
    CHECK_RC(toto_manager_login(w->m, STR(user), STR(password), &s, NULL), TOTO_RESULT_OK);
    if (s) session_id_copy(s, id, TOTO_MAX_SESSION_ID_LEN + 1);
    return s;
}

static toto_session *retrieve(world *w, const char *id) {
    toto_session *s = NULL;
    CHECK_RC(toto_manager_retrieve_session(w->m, STR(id), &s, NULL), TOTO_RESULT_OK);
    return s;
}

/* The stale handle's save is refused as revoked (twice), and `id` stays dead. */
static void check_revoked(world *w, const char *id, toto_session *stale) {
    toto_session *back = NULL;
    toto_error err = {0};
    CHECK_RC(toto_session_set_i64(stale, STR("cart"), 99), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_save_session(w->m, stale, &err), TOTO_RESULT_SESSION_REVOKED);
    CHECK_ERR(err, TOTO_RESULT_SESSION_REVOKED);
    bool dirty = false;
    CHECK_RC(toto_session_is_dirty(stale, &dirty), TOTO_RESULT_OK);
    CHECK(dirty);
    CHECK_RC(toto_manager_save_session(w->m, stale, NULL), TOTO_RESULT_SESSION_REVOKED);
    CHECK_RC(toto_manager_retrieve_session(w->m, STR(id), &back, NULL),
             TOTO_RESULT_INVALID_SESSION_ID);
    CHECK(back == NULL);
    toto_session_free(stale);
}

static void revocation_sticks(void *arg) {
    kind k = (kind)(intptr_t)arg;
    for (uint32_t policy = 0; policy <= TOTO_SAVE_LAST_WRITER_WINS; policy++) {
        world w;
        char id[TOTO_MAX_SESSION_ID_LEN + 1], kept_id[TOTO_MAX_SESSION_ID_LEN + 1];
        char user[64];
        if (!world_new(&w, k, policy)) {
            world_free(&w);
            return;
        }

        /* Logout. */
        toto_session *s = login(&w, "alice", "pw", id);
        toto_session *stale = retrieve(&w, id);
        CHECK_RC(toto_manager_remove_session(w.m, STR(id), NULL), TOTO_RESULT_OK);
        check_revoked(&w, id, stale);
        toto_session_free(s);

        /* Rotation: the old id stays dead, and a stale handle cannot rotate itself back. */
        s = login(&w, "alice", "pw", id);
        stale = retrieve(&w, id);
        toto_session *stale2 = retrieve(&w, id);
        CHECK_RC(toto_manager_rotate_session(w.m, s, NULL), TOTO_RESULT_OK);
        session_id_copy(s, kept_id, sizeof kept_id);
        CHECK(strcmp(kept_id, id) != 0);
        check_revoked(&w, id, stale);
        CHECK_RC(toto_manager_rotate_session(w.m, stale2, NULL), TOTO_RESULT_SESSION_REVOKED);
        toto_session_free(stale2);
        toto_session_free(retrieve(&w, kept_id));
        toto_session_free(s);

        /* clear_sessions. */
        s = login(&w, "alice", "pw", id);
        stale = retrieve(&w, id);
        uint64_t removed = 0;
        CHECK_RC(toto_manager_clear_sessions(w.m, STR("alice"), &removed, NULL), TOTO_RESULT_OK);
        CHECK(removed >= 1);
        check_revoked(&w, id, stale);
        toto_session_free(s);

        /* Password change: the other sessions are cleared, the current one moves. */
        snprintf(user, sizeof user, "bob%u", (unsigned)policy);
        toto_session *other = login(&w, user, "pw", id);
        stale = retrieve(&w, id);
        toto_session *current = login(&w, user, "pw", kept_id);
        CHECK_RC(toto_manager_change_password(w.m, STR(user), STR("pw"), STR("pw2"), current,
                                              NULL),
                 TOTO_RESULT_OK);
        check_revoked(&w, id, stale);
        toto_session *gone = NULL;
        CHECK_RC(toto_manager_retrieve_session(w.m, STR(kept_id), &gone, NULL),
                 TOTO_RESULT_INVALID_SESSION_ID);
        CHECK_RC(toto_session_set_i64(current, STR("still"), 1), TOTO_RESULT_OK);
        CHECK_RC(toto_manager_save_session(w.m, current, NULL), TOTO_RESULT_OK);
        toto_session_free(current);
        toto_session_free(other);

        world_free(&w);
    }
}

static void conflicts_are_detected(void *arg) {
    kind k = (kind)(intptr_t)arg;
    world w;
    char id[TOTO_MAX_SESSION_ID_LEN + 1];
    int64_t n = 0;
    if (!world_new(&w, k, TOTO_SAVE_DETECT_CONFLICTS)) {
        world_free(&w);
        return;
    }
    toto_session *s = NULL;
    CHECK_RC(toto_manager_create_session(w.m, STR("dave"), false, &s, NULL), TOTO_RESULT_OK);
    session_id_copy(s, id, sizeof id);
    toto_session *a = retrieve(&w, id), *b = retrieve(&w, id);
    CHECK_RC(toto_session_set_i64(a, STR("who"), 1), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_save_session(w.m, a, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_i64(b, STR("who"), 2), TOTO_RESULT_OK);
    toto_error err = {0};
    CHECK_RC(toto_manager_save_session(w.m, b, &err), TOTO_RESULT_CONFLICT);
    CHECK_ERR(err, TOTO_RESULT_CONFLICT);
    toto_session *now = retrieve(&w, id);
    CHECK_RC(toto_session_get_i64(now, STR("who"), &n), TOTO_RESULT_OK);
    CHECK(n == 1);
    /* Renewal between a load and its save is not a conflict. */
    toto_session *c = retrieve(&w, id);
    toto_session_free(retrieve(&w, id));
    CHECK_RC(toto_session_set_i64(c, STR("who"), 3), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_save_session(w.m, c, NULL), TOTO_RESULT_OK);
    if (k == K_VTABLE) {
        CHECK(g_last_rev->store_ifs > 0 && g_last_rev->stores == 0);
        CHECK(g_last_rev->last_flags == TOTO_STORE_IF_REVISION);
    }
    if (k == K_VTABLE_V2) {
        CHECK(g_last_rev->store_ifs == 0 && g_last_rev->stores > 0);
        CHECK(g_last_rev->last_flags == 0);
    }
    toto_session_free(a);
    toto_session_free(b);
    toto_session_free(c);
    toto_session_free(now);
    toto_session_free(s);
    world_free(&w);

    /* The same two saves with last-writer-wins: both succeed, the second stands. */
    if (!world_new(&w, k, TOTO_SAVE_LAST_WRITER_WINS)) {
        world_free(&w);
        return;
    }
    CHECK_RC(toto_manager_create_session(w.m, STR("dave"), false, &s, NULL), TOTO_RESULT_OK);
    session_id_copy(s, id, sizeof id);
    a = retrieve(&w, id);
    b = retrieve(&w, id);
    CHECK_RC(toto_session_set_i64(a, STR("who"), 1), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_save_session(w.m, a, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_i64(b, STR("who"), 2), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_save_session(w.m, b, NULL), TOTO_RESULT_OK);
    /* (Read before the retrieve: without load_renew, its renewal write-back is a
     * TOTO_STORE_IF_REVISION store keeping the revision.) */
    if (k == K_VTABLE) CHECK(g_last_rev->last_flags == TOTO_STORE_IF_EXISTS);
    now = retrieve(&w, id);
    CHECK_RC(toto_session_get_i64(now, STR("who"), &n), TOTO_RESULT_OK);
    CHECK(n == 2);
    toto_session_free(a);
    toto_session_free(b);
    toto_session_free(now);
    toto_session_free(s);
    world_free(&w);
}

static void options_versions(void) {
    toto_cache *c = NULL;
    toto_account_store *st = NULL;
    toto_manager *m = NULL;
    toto_manager_options opt;
    CHECK_RC(toto_cache_new_memory(&c), TOTO_RESULT_OK);
    CHECK_RC(toto_account_store_new_memory(&st), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_options_default(&opt), TOTO_RESULT_OK);
    CHECK(opt.version == TOTO_MANAGER_OPTIONS_VERSION && opt.save_policy == TOTO_SAVE_DETECT_CONFLICTS);
    opt.password_memory_kib = 64;
    opt.password_iterations = 1;
    opt.save_policy = 7;
    CHECK_RC(toto_manager_new(c, st, &opt, &m, NULL), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK(m == NULL);
    /* A version-2 struct ends before max_sessions_per_user: a value there is not read
     * (a cap over this cache would work, so check the field is ignored by a user login
     * count below staying unlimited). */
    opt.save_policy = TOTO_SAVE_DETECT_CONFLICTS;
    opt.max_sessions_per_user = 1;
    opt.version = 2;
    CHECK_RC(toto_manager_new(c, st, &opt, &m, NULL), TOTO_RESULT_OK);
    {
        toto_session *u1 = NULL, *u2 = NULL, *r = NULL;
        char first[TOTO_MAX_SESSION_ID_LEN + 1];
        CHECK_RC(toto_manager_create_session(m, STR("vic"), false, &u1, NULL), TOTO_RESULT_OK);
        session_id_copy(u1, first, sizeof first);
        CHECK_RC(toto_manager_create_session(m, STR("vic"), false, &u2, NULL), TOTO_RESULT_OK);
        if (CHECK_RC(toto_manager_retrieve_session(m, STR(first), &r, NULL), TOTO_RESULT_OK))
            toto_session_free(r);
        toto_session_free(u1);
        toto_session_free(u2);
    }
    toto_manager_free(m);
    m = NULL;
    /* A version-3 struct ends before renew_granularity: a bad value there is not read. */
    opt.max_sessions_per_user = 0;
    opt.renew_granularity = 7;
    opt.version = 3;
    CHECK_RC(toto_manager_new(c, st, &opt, &m, NULL), TOTO_RESULT_OK);
    toto_manager_free(m);
    m = NULL;
    /* A version-1 struct ends before save_policy: whatever lies there is not read. */
    opt.save_policy = 7;
    opt.version = 1;
    CHECK_RC(toto_manager_new(c, st, &opt, &m, NULL), TOTO_RESULT_OK);
    /* ... and it detects conflicts, the default. */
    toto_session *s = NULL, *a = NULL, *b = NULL;
    char id[TOTO_MAX_SESSION_ID_LEN + 1];
    CHECK_RC(toto_manager_create_session(m, STR(""), false, &s, NULL), TOTO_RESULT_OK);
    session_id_copy(s, id, sizeof id);
    CHECK_RC(toto_manager_retrieve_session(m, STR(id), &a, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_retrieve_session(m, STR(id), &b, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_bool(a, STR("x"), true), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_bool(b, STR("x"), false), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_save_session(m, a, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_save_session(m, b, NULL), TOTO_RESULT_CONFLICT);
    CHECK(strcmp(toto_result_message(TOTO_RESULT_CONFLICT), "unknown result code") != 0);
    CHECK(strcmp(toto_result_message(TOTO_RESULT_SESSION_REVOKED), "unknown result code") != 0);
    toto_session_free(s);
    toto_session_free(a);
    toto_session_free(b);
    toto_manager_free(m);
    toto_cache_free(c);
    toto_account_store_free(st);
}

/* A version-3 vtable needs store or store_if. */
static void vtable_needs_a_store(void) {
    toto_cache_vtable vt;
    toto_cache *c = NULL;
    memset(&vt, 0, sizeof vt);
    vt.version = TOTO_CACHE_VTABLE_VERSION;
    vt.load = rev_load;
    vt.remove = rev_remove;
    CHECK_RC(toto_cache_new_vtable(&vt, &c), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK(c == NULL);
}

/* ---- processes sharing one counter in Redis ---------------------------------------- */

enum { PROCESSES = 3, INCREMENTS = 40, ATTEMPTS = 1000 };

/* The loop documented on toto_manager_save_session. Returns how many conflicts it
 * retried, or -1 on any other failure. */
static int increment(toto_manager *m, const char *id) {
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        toto_session *s = NULL;
        int64_t n = 0;
        uint32_t rc = toto_manager_retrieve_session(m, STR(id), &s, NULL);
        if (rc != TOTO_RESULT_OK) return -1;
        if (toto_session_get_i64(s, STR("n"), &n) != TOTO_RESULT_OK ||
            toto_session_set_i64(s, STR("n"), n + 1) != TOTO_RESULT_OK) {
            toto_session_free(s);
            return -1;
        }
        rc = toto_manager_save_session(m, s, NULL);
        toto_session_free(s);
        if (rc == TOTO_RESULT_OK) return attempt;
        if (rc != TOTO_RESULT_CONFLICT) return -1;
    }
    return -1;
}

static void forked_processes_lose_no_increment(void) {
    const char *url = getenv("TOTO_REDIS_URL");
    char prefix[64], id[TOTO_MAX_SESSION_ID_LEN + 1];
    if (!CHECK(url != NULL)) return;
    snprintf(prefix, sizeof prefix, "ccount:%ld:%d:", (long)now_seconds(), (int)getpid());
    toto_redis_options ropt;
    toto_manager_options mopt;
    CHECK_RC(toto_redis_options_default(&ropt), TOTO_RESULT_OK);
    ropt.key_prefix = prefix;
    ropt.key_prefix_len = strlen(prefix);
    CHECK_RC(toto_manager_options_default(&mopt), TOTO_RESULT_OK);
    mopt.password_memory_kib = 64;
    mopt.password_iterations = 1;

    toto_cache *c = NULL;
    toto_account_store *st = NULL;
    toto_manager *m = NULL;
    toto_session *s = NULL;
    CHECK_RC(toto_cache_new_redis(STR(url), &ropt, &c, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_account_store_new_memory(&st), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_new(c, st, &mopt, &m, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_create_session(m, STR(""), false, &s, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_i64(s, STR("n"), 0), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_save_session(m, s, NULL), TOTO_RESULT_OK);
    session_id_copy(s, id, sizeof id);
    toto_session_free(s);
    fflush(stdout);

    pid_t pids[PROCESSES];
    for (int p = 0; p < PROCESSES; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            /* The child opens its own cache and manager (connections are per process). */
            toto_cache *cc = NULL;
            toto_manager *cm = NULL;
            int status = 0;
            if (toto_cache_new_redis(STR(url), &ropt, &cc, NULL) != TOTO_RESULT_OK ||
                toto_manager_new(cc, st, &mopt, &cm, NULL) != TOTO_RESULT_OK) {
                status = 2;
            }
            int conflicts = 0;
            for (int i = 0; status == 0 && i < INCREMENTS; i++) {
                int retried = increment(cm, id);
                if (retried < 0) status = 3;
                else conflicts += retried;
            }
            printf("#     process %d: %d increments, %d conflicts retried\n", p, INCREMENTS,
                   conflicts);
            fflush(stdout);
            toto_manager_free(cm);
            toto_cache_free(cc);
            toto_manager_free(m);
            toto_cache_free(c);
            toto_account_store_free(st);
            _exit(status);
        }
        CHECK(pids[p] > 0);
    }
    for (int p = 0; p < PROCESSES; p++) {
        int status = -1;
        if (pids[p] > 0) {
            CHECK(waitpid(pids[p], &status, 0) == pids[p]);
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
    }
    int64_t n = -1;
    CHECK_RC(toto_manager_retrieve_session(m, STR(id), &s, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_i64(s, STR("n"), &n), TOTO_RESULT_OK);
    if (!CHECK(n == PROCESSES * INCREMENTS)) {
        printf("#     counter %lld, expected %d\n", (long long)n, PROCESSES * INCREMENTS);
    }
    toto_session_free(s);
    toto_manager_free(m);
    toto_cache_free(c);
    toto_account_store_free(st);
}

int main(void) {
    for (int k = 0; k < K_COUNT; k++) {
        RUN_WITH(revocation_sticks, (void *)(intptr_t)k, kind_names[k]);
        RUN_WITH(conflicts_are_detected, (void *)(intptr_t)k, kind_names[k]);
    }
    RUN(options_versions);
    RUN(vtable_needs_a_store);
    RUN(forked_processes_lose_no_increment);
    return finish();
}
