/*
 * test_stress.c: several threads run mixed operations (create, retrieve, save, rotate,
 * remove, clear) on one manager, over the built-in memory cache (both forms) and over a
 * C vtable cache (support.c). Each thread owns its sessions (its own user id, or
 * anonymous) and remembers what it last wrote; at the end every session that was
 * saved and not removed must read back exactly so. An alarm bounds the run: a
 * deadlock kills the process instead of hanging `make test`.
 */
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { THREADS = 4, OPS = 1500, OWNED_MAX = 48 };

typedef struct {
    char id[TOTO_MAX_SESSION_ID_LEN + 1];
    int64_t v;
    bool anonymous;
} owned;

typedef struct {
    const toto_manager *m;
    int t;
    uint64_t rng;
    owned s[OWNED_MAX];
    int n;
    int failures;
    char why[160];
} worker;

static uint64_t next(worker *w) {
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

static void fail(worker *w, const char *what, uint32_t rc, int step) {
    if (w->failures++ == 0)
        snprintf(w->why, sizeof w->why, "thread %d step %d: %s (%s)", w->t, step, what,
                 toto_result_message(rc));
}

static void user_of(const worker *w, char *buf, size_t cap) {
    snprintf(buf, cap, "stress-user-%d", w->t);
}

/* Writes v and owner into the session and saves it. */
static uint32_t write_and_save(worker *w, toto_session *s, int64_t v) {
    uint32_t rc = toto_session_set_i64(s, STR("v"), v);
    if (rc == TOTO_RESULT_OK) rc = toto_session_set_i64(s, STR("owner"), w->t);
    if (rc == TOTO_RESULT_OK) rc = toto_manager_save_session(w->m, s, NULL);
    return rc;
}

/* The session reads back as this thread last wrote it. */
static bool as_written(toto_session *s, const owned *o, int t) {
    int64_t v = -1, owner = -1;
    return toto_session_get_i64(s, STR("v"), &v) == TOTO_RESULT_OK && v == o->v &&
           toto_session_get_i64(s, STR("owner"), &owner) == TOTO_RESULT_OK && owner == t;
}

static void forget(worker *w, int i) { w->s[i] = w->s[--w->n]; }

static void *run(void *arg) {
    worker *w = arg;
    char user[64];
    user_of(w, user, sizeof user);
    for (int step = 1; step <= OPS && w->failures == 0; step++) {
        uint64_t r = next(w) % 10;
        int pick = w->n ? (int)(next(w) % (uint64_t)w->n) : -1;
        toto_session *s = NULL;
        uint32_t rc;
        if (r <= 2 || pick < 0) { /* create */
            if (w->n == OWNED_MAX) continue;
            bool anonymous = next(w) % 4 == 0;
            rc = toto_manager_create_session(w->m, anonymous ? "" : user,
                                             anonymous ? 0 : strlen(user), next(w) % 2, &s,
                                             NULL);
            if (rc == TOTO_RESULT_OK) rc = write_and_save(w, s, step);
            if (rc != TOTO_RESULT_OK) {
                fail(w, "create + save", rc, step);
            } else {
                owned *o = &w->s[w->n++];
                session_id_copy(s, o->id, sizeof o->id);
                o->v = step;
                o->anonymous = anonymous;
            }
        } else if (r <= 4) { /* retrieve, check, change, save */
            owned *o = &w->s[pick];
            rc = toto_manager_retrieve_session(w->m, STR(o->id), &s, NULL);
            if (rc != TOTO_RESULT_OK) {
                fail(w, "retrieve an owned session", rc, step);
            } else if (!as_written(s, o, w->t)) {
                fail(w, "an owned session changed under its owner", rc, step);
            } else if ((rc = write_and_save(w, s, step)) != TOTO_RESULT_OK) {
                fail(w, "save", rc, step);
            } else {
                o->v = step;
            }
        } else if (r == 5) { /* rotate: the old id is gone, the new one holds the state */
            owned *o = &w->s[pick];
            rc = toto_manager_retrieve_session(w->m, STR(o->id), &s, NULL);
            if (rc == TOTO_RESULT_OK) rc = toto_manager_rotate_session(w->m, s, NULL);
            if (rc != TOTO_RESULT_OK) {
                fail(w, "retrieve + rotate", rc, step);
            } else {
                toto_session *old = NULL;
                rc = toto_manager_retrieve_session(w->m, STR(o->id), &old, NULL);
                if (rc != TOTO_RESULT_INVALID_SESSION_ID) fail(w, "old id still live", rc, step);
                toto_session_free(old);
                session_id_copy(s, o->id, sizeof o->id);
            }
        } else if (r == 6) { /* logout */
            rc = toto_manager_remove_session(w->m, STR(w->s[pick].id), NULL);
            if (rc != TOTO_RESULT_OK) fail(w, "remove", rc, step);
            else forget(w, pick);
        } else if (r == 7 && next(w) % 4 == 0) { /* log out everywhere (own user only) */
            uint64_t removed = 0, expected = 0;
            for (int i = 0; i < w->n; i++) expected += !w->s[i].anonymous;
            rc = toto_manager_clear_sessions(w->m, STR(user), &removed, NULL);
            if (rc != TOTO_RESULT_OK || removed != expected) {
                fail(w, "clear: not exactly this thread's user sessions", rc, step);
            } else {
                for (int i = w->n - 1; i >= 0; i--)
                    if (!w->s[i].anonymous) forget(w, i);
            }
        } else { /* read only */
            owned *o = &w->s[pick];
            rc = toto_manager_retrieve_session(w->m, STR(o->id), &s, NULL);
            if (rc != TOTO_RESULT_OK || !as_written(s, o, w->t))
                fail(w, "read back", rc, step);
        }
        toto_session_free(s);
    }
    return NULL;
}

typedef enum { MEMORY, MEMORY_COMPACT, VTABLE } kind;

static void stress(void *arg) {
    kind k = *(kind *)arg;
    toto_cache *c = NULL;
    toto_account_store *st = NULL;
    toto_manager *m = NULL;
    toto_manager_options opt;
    if (k == MEMORY) CHECK_RC(toto_cache_new_memory(&c), TOTO_RESULT_OK);
    if (k == MEMORY_COMPACT) CHECK_RC(toto_cache_new_memory_compact(&c), TOTO_RESULT_OK);
    if (k == VTABLE) {
        test_cache *tc = test_cache_new(NULL);
        tc->with_load_renew = true;
        c = test_cache_make(tc);
    }
    CHECK_RC(toto_account_store_new_memory(&st), TOTO_RESULT_OK);
    CHECK_RC(toto_manager_options_default(&opt), TOTO_RESULT_OK);
    opt.password_memory_kib = 64; /* the manager hashes a decoy password at start */
    opt.password_iterations = 1;
    if (!c || !st || !CHECK_RC(toto_manager_new(c, st, &opt, &m, NULL), TOTO_RESULT_OK)) {
        toto_cache_free(c);
        toto_account_store_free(st);
        return;
    }
    toto_cache_free(c); /* the manager keeps its own references */
    toto_account_store_free(st);

    static worker w[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t] = (worker){.m = m, .t = t, .rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(t + 1) * 7919};
        CHECK(pthread_create(&th[t], NULL, run, &w[t]) == 0);
    }
    int live = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        if (!CHECK(w[t].failures == 0)) printf("#     %s\n", w[t].why);
    }
    /* Afterwards: every session saved and not removed reads back as last written. */
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < w[t].n; i++) {
            toto_session *s = NULL;
            if (CHECK_RC(toto_manager_retrieve_session(m, STR(w[t].s[i].id), &s, NULL),
                         TOTO_RESULT_OK)) {
                CHECK(as_written(s, &w[t].s[i], t));
                live++;
            }
            toto_session_free(s);
        }
    }
    CHECK(live >= THREADS * 5); /* the run kept enough sessions alive to check */
    toto_manager_free(m);
}

int main(void) {
    alarm(300); /* no deadlock: SIGALRM ends the process (a failure) */
    kind memory = MEMORY, compact = MEMORY_COMPACT, vtable = VTABLE;
    RUN_WITH(stress, &memory, "memory");
    RUN_WITH(stress, &compact, "memory-compact");
    RUN_WITH(stress, &vtable, "vtable");
    return finish();
}
