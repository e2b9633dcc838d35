/*
 * test_fork.c: the library inside a pre-forking server.
 *
 * - Ids and HMAC keys drawn in forked children never repeat the parent's (drawn
 *   before and after the fork) or a sibling's: the random generator is reseeded in a
 *   child (issue 19, point 1).
 * - A Redis cache used by a parent (so its pool holds a connection) and then by forked
 *   children: every process reads back its own sessions only; no connection opened by
 *   another process is reused (issue 19, point 2).
 *
 * Children report through pipes and exit non-zero on any failure; the parent checks
 * every exit status. (Under valgrind the children run instrumented too, and report
 * their own errors through their exit status: --error-exitcode.)
 */
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 4
#define DRAWS 6        /* per process: ids, session ids and keys each */
#define TOKEN_LEN 22   /* every id and key the library generates */
#define REDIS_CHILDREN 2
#define REDIS_ROUNDS 300

/* ---- ids and keys ------------------------------------------------------------ */

/* Draws DRAWS ids (toto_generate_id) and DRAWS sessions with a generated key, and
 * writes the 3 * DRAWS tokens to `out` (TOKEN_LEN bytes each). */
static bool draw_tokens(char *out) {
    size_t n = 0;
    for (int i = 0; i < DRAWS; i++) {
        char id[TOTO_ID_BUFFER_LEN];
        if (toto_generate_id(id, sizeof id) != TOTO_RESULT_OK || strlen(id) != TOKEN_LEN)
            return false;
        memcpy(out + TOKEN_LEN * n++, id, TOKEN_LEN);
        toto_session *s = NULL;
        const char *p = NULL, *k = NULL;
        size_t l = 0, kl = 0;
        if (toto_session_new(STR("forked"), now_seconds() + 60, &s) != TOTO_RESULT_OK) return false;
        bool ok = toto_session_id(s, &p, &l) == TOTO_RESULT_OK && l == TOKEN_LEN &&
                  toto_session_generate_key(s, &k, &kl) == TOTO_RESULT_OK && kl == TOKEN_LEN;
        if (ok) {
            memcpy(out + TOKEN_LEN * n++, p, TOKEN_LEN);
            memcpy(out + TOKEN_LEN * n++, k, TOKEN_LEN);
        }
        toto_session_free(s);
        if (!ok) return false;
    }
    return true;
}

#define TOKENS_PER_PROCESS (3 * DRAWS)
#define TOKEN_BYTES (TOKENS_PER_PROCESS * TOKEN_LEN)

static bool write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        buf += w;
        len -= (size_t)w;
    }
    return true;
}

static bool read_all(int fd, char *buf, size_t len) {
    while (len > 0) {
        ssize_t r = read(fd, buf, len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        buf += r;
        len -= (size_t)r;
    }
    return true;
}

/* Waits for `pid`; true when it exited with status 0. */
static bool child_succeeded(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return false;
    }
    if (!WIFEXITED(status)) {
        printf("#     child %ld did not exit normally\n", (long)pid);
        return false;
    }
    if (WEXITSTATUS(status) != 0) {
        printf("#     child %ld exited with %d\n", (long)pid, WEXITSTATUS(status));
        return false;
    }
    return true;
}

static void test_ids_and_keys_differ_across_fork(void) {
    /* (1 parent before the fork + 1 parent after + CHILDREN) * tokens. */
    enum { PROCS = CHILDREN + 2 };
    static char tokens[PROCS][TOKEN_BYTES];
    /* The parent's generator is seeded and in use before the fork. */
    if (!CHECK(draw_tokens(tokens[0]))) return;
    int fds[CHILDREN];
    pid_t pids[CHILDREN];
    int started = 0;
    fflush(stdout);
    for (int c = 0; c < CHILDREN; c++) {
        int p[2];
        if (!CHECK(pipe(p) == 0)) break;
        pid_t pid = fork();
        if (pid == 0) {
            char mine[TOKEN_BYTES];
            close(p[0]);
            bool ok = draw_tokens(mine) && write_all(p[1], mine, sizeof mine);
            close(p[1]);
            _exit(ok ? 0 : 1);
        }
        close(p[1]);
        if (!CHECK(pid > 0)) {
            close(p[0]);
            break;
        }
        fds[started] = p[0];
        pids[started] = pid;
        started++;
    }
    /* The parent goes on drawing: a child that inherited its generator state would
     * repeat exactly these. */
    CHECK(draw_tokens(tokens[1]));
    for (int c = 0; c < started; c++) {
        CHECK(read_all(fds[c], tokens[2 + c], TOKEN_BYTES));
        close(fds[c]);
        CHECK(child_succeeded(pids[c]));
    }
    CHECK(started == CHILDREN);
    int total = (2 + started) * TOKENS_PER_PROCESS, repeats = 0;
    const char *flat = &tokens[0][0];
    for (int i = 0; i < total; i++) {
        for (int j = i + 1; j < total; j++) {
            if (memcmp(flat + (size_t)i * TOKEN_LEN, flat + (size_t)j * TOKEN_LEN, TOKEN_LEN) == 0)
                repeats++;
        }
    }
    if (!CHECK(repeats == 0)) printf("#     %d repeated ids/keys across processes\n", repeats);
}

/* ---- Redis through fork -------------------------------------------------------- */

static toto_manager *redis_manager(toto_cache **cache_out) {
    const char *url = getenv("TOTO_REDIS_URL");
    /* No silent skip: make test-c runs this under scripts/with-redis.sh. */
    if (!CHECK(url != NULL)) return NULL;
    toto_redis_options ro;
    toto_manager_options mo;
    toto_account_store *store = NULL;
    toto_cache *cache = NULL;
    toto_manager *m = NULL;
    toto_error err = {0};
    char prefix[64];
    snprintf(prefix, sizeof prefix, "cfork:%ld:%ld:", (long)getpid(), (long)now_seconds());
    CHECK_RC(toto_redis_options_default(&ro), TOTO_RESULT_OK);
    ro.key_prefix = prefix;
    ro.key_prefix_len = strlen(prefix);
    if (!CHECK_RC(toto_cache_new_redis(STR(url), &ro, &cache, &err), TOTO_RESULT_OK)) {
        printf("#     %s\n", err.message);
        return NULL;
    }
    CHECK_RC(toto_manager_options_default(&mo), TOTO_RESULT_OK);
    mo.password_memory_kib = 64;
    mo.password_iterations = 1;
    if (CHECK_RC(toto_account_store_new_memory(&store), TOTO_RESULT_OK)) {
        CHECK_RC(toto_manager_new(cache, store, &mo, &m, &err), TOTO_RESULT_OK);
        toto_account_store_free(store);
    }
    if (!m) {
        toto_cache_free(cache);
        return NULL;
    }
    *cache_out = cache;
    return m;
}

/* Creates a keyed session for `user` and reads it back by id: false (with a line on
 * stdout) unless the session read back is the one created, user and key. */
static bool round_trip(toto_manager *m, const char *user, const char *who, int round) {
    toto_session *s = NULL, *back = NULL;
    toto_error err = {0};
    bool ok = false;
    uint32_t rc = toto_manager_create_session(m, STR(user), true, &s, &err);
    if (rc != TOTO_RESULT_OK) {
        printf("#     %s round %d: create: %u %s\n", who, round, rc, err.message);
        return false;
    }
    const char *id = NULL, *key = NULL, *bid = NULL, *buser = NULL, *bkey = NULL;
    size_t id_len = 0, key_len = 0, bid_len = 0, buser_len = 0, bkey_len = 0;
    toto_session_id(s, &id, &id_len);
    toto_session_key(s, &key, &key_len);
    rc = toto_manager_retrieve_session(m, id, id_len, &back, &err);
    if (rc != TOTO_RESULT_OK) {
        printf("#     %s round %d: retrieve: %u %s\n", who, round, rc, err.message);
    } else if (toto_session_id(back, &bid, &bid_len) != TOTO_RESULT_OK ||
               toto_session_user_id(back, &buser, &buser_len) != TOTO_RESULT_OK ||
               toto_session_key(back, &bkey, &bkey_len) != TOTO_RESULT_OK) {
        printf("#     %s round %d: reading the session back failed\n", who, round);
    } else if (bid_len != id_len || memcmp(bid, id, id_len) != 0 ||
               buser_len != strlen(user) || memcmp(buser, user, buser_len) != 0 ||
               bkey_len != key_len || memcmp(bkey, key, key_len) != 0) {
        printf("#     %s round %d: got another session back (user %.*s)\n", who, round,
               (int)buser_len, buser);
    } else {
        ok = true;
    }
    toto_session_free(back);
    toto_session_free(s);
    return ok;
}

static void test_redis_pool_across_fork(void) {
    toto_cache *cache = NULL;
    toto_manager *m = redis_manager(&cache);
    if (!m) return;
    /* The pool now holds a connection opened by the parent. */
    if (!CHECK(round_trip(m, "parent", "parent", 0))) goto done;
    pid_t pids[REDIS_CHILDREN];
    int started = 0;
    fflush(stdout);
    for (int c = 0; c < REDIS_CHILDREN; c++) {
        pid_t pid = fork();
        if (pid == 0) {
            char user[32], who[32];
            snprintf(user, sizeof user, "worker%d", c);
            snprintf(who, sizeof who, "child %d", c);
            bool ok = true;
            for (int r = 0; r < REDIS_ROUNDS && ok; r++) ok = round_trip(m, user, who, r);
            fflush(stdout);
            toto_manager_free(m);
            toto_cache_free(cache);
            _exit(ok ? 0 : 1);
        }
        if (!CHECK(pid > 0)) break;
        pids[started++] = pid;
    }
    /* The parent keeps using its own pool meanwhile. */
    bool parent_ok = true;
    for (int r = 1; r <= REDIS_ROUNDS && parent_ok; r++)
        parent_ok = round_trip(m, "parent", "parent", r);
    CHECK(parent_ok);
    for (int c = 0; c < started; c++) CHECK(child_succeeded(pids[c]));
    CHECK(started == REDIS_CHILDREN);
done:
    toto_manager_free(m);
    toto_cache_free(cache);
}

int main(void) {
    RUN(test_ids_and_keys_differ_across_fork);
    RUN(test_redis_pool_across_fork);
    return finish();
}
