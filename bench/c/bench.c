/*
 * bench.c: toto-session's benchmarks from C, through the ABI of the shared library,
 * next to the floor of a bare C -> Rust call (toto_version) and OpenSSL's HMAC-SHA1 on
 * the same messages.
 *
 *   bench micro          single calls (ids, HMAC, records, state, accounts, manager)
 *   bench scale N [anon|compact]
 *                        N live sessions in the memory cache (each its own user, or all
 *                        anonymous, or in the compact cache): RSS and retrieve latency
 *   bench threads        1 vs 2 threads retrieving through one shared manager
 *   bench redis URL [S]  retrieve-with-renewal round trips through the Redis cache for S
 *                        seconds (default 2), single client
 *
 * Each prints one JSON object on stdout ({"results": [...], "info": {...}}); progress
 * goes to stderr. Run by bench/run.py (`make bench`). TOTO_BENCH_QUICK=1 shortens it;
 * TOTO_BENCH_BUDGET_MS=M sets the sampling time per figure (default 300, quick 60);
 * TOTO_BENCH_ROUNDS=R repeats the measurements of `scale` and `threads` R times in the
 * process (default 5; each repetition is one more entry of the same name / one more
 * round_* figure); TOTO_BENCH_SPIN=S makes `scale` retrieve for S seconds first
 * (attach a profiler).
 *
 * Harness: an operation runs in timed batches of ~2 ms (batch size calibrated first);
 * the figure is the median over the batches (for ~0.3 s, 15..101 batches) of ns/op.
 *
 * Inputs shared with bench/benches/core.rs and bench/python/toto_path.py: the 5-entry
 * state, KEY, the message pattern (message()), the request (METHOD, URI, 1 KiB body).
 */
#define _GNU_SOURCE

#include <toto_session.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEY "k3yK3yk3yK3yk3yK3yk3yA"
#define SESSION_ID "IpHYzcMQQR5-wnN4pmHJNQ"
#define USER "alice"
#define METHOD "POST"
#define URI "/api/v1/cart?item=42"
#define S(lit) (lit), (sizeof(lit) - 1)

static bool quick;
static double budget_ns = 3e8; /* sampling time per figure (TOTO_BENCH_BUDGET_MS) */
static int rounds = 5;         /* in-process rounds of scale and threads */

/* ---- small helpers -------------------------------------------------------------- */

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Aborts with the library's message unless `rc` is TOTO_RESULT_OK. */
#define OK(call)                                                                      \
    do {                                                                              \
        uint32_t rc_ = (uint32_t)(call);                                              \
        if (rc_ != TOTO_RESULT_OK)                                                    \
            die("%s:%d: %s -> %u (%s)", __FILE__, __LINE__, #call, rc_,               \
                toto_result_message(rc_));                                            \
    } while (0)

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* `len` bytes of "abc...z" repeated (malloc'd). */
static uint8_t *message(size_t len) {
    uint8_t *m = malloc(len ? len : 1);
    if (!m) die("out of memory");
    for (size_t i = 0; i < len; i++) m[i] = (uint8_t)('a' + i % 26);
    return m;
}

/* xorshift64*: fixed, cheap picks. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* A random permutation of 0..n-1 (malloc'd). */
static uint32_t *permutation(size_t n) {
    uint32_t *p = malloc(n * sizeof *p);
    if (!p) die("out of memory");
    for (size_t i = 0; i < n; i++) p[i] = (uint32_t)i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(rng_next() % (i + 1));
        uint32_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    return p;
}

/* Resident set size of this process, bytes (VmRSS). */
static long long rss_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

/* ---- output --------------------------------------------------------------------- */

static char out_results[1 << 16];
static size_t out_len;
static char out_info[1 << 14];
static size_t info_len;

static void result(const char *name, double ns, double p10, double p90, uint64_t batch,
                   int samples) {
    fprintf(stderr, "  %-40s %12.1f ns/op\n", name, ns);
    out_len += (size_t)snprintf(out_results + out_len, sizeof out_results - out_len,
                                "%s\n  {\"name\": \"%s\", \"ns\": %.2f, \"p10\": %.2f, "
                                "\"p90\": %.2f, \"batch\": %llu, \"samples\": %d}",
                                out_len ? "," : "", name, ns, p10, p90,
                                (unsigned long long)batch, samples);
}

static void info_num(const char *key, double v) {
    fprintf(stderr, "  %-40s %14.2f\n", key, v);
    info_len += (size_t)snprintf(out_info + info_len, sizeof out_info - info_len,
                                 "%s\"%s\": %.4f", info_len ? ", " : "", key, v);
}

static void info_str(const char *key, const char *v) {
    info_len += (size_t)snprintf(out_info + info_len, sizeof out_info - info_len,
                                 "%s\"%s\": \"%s\"", info_len ? ", " : "", key, v);
}

static void print_json(void) {
    printf("{\"results\": [%s\n], \"info\": {%s}}\n", out_results, out_info);
}

/* ---- harness -------------------------------------------------------------------- */

#define MAX_SAMPLES 101
#define MIN_SAMPLES 15
#define TARGET_BATCH_NS 2e6

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summarize(const char *name, double *s, int k, uint64_t n) {
    qsort(s, (size_t)k, sizeof *s, cmp_double);
    double median = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
    result(name, median, s[(int)((k - 1) * 0.1 + 0.5)], s[(int)((k - 1) * 0.9 + 0.5)], n, k);
}

/* Runs `body` in calibrated batches and records the median ns/op under `name`. */
#define BENCH(name, body)                                                             \
    do {                                                                              \
        uint64_t n_ = 1;                                                              \
        for (;;) {                                                                    \
            double a_ = now_ns();                                                     \
            for (uint64_t i_ = 0; i_ < n_; i_++) { body; }                            \
            double t_ = now_ns() - a_;                                                \
            if (t_ >= TARGET_BATCH_NS / 4 || n_ >= (1ull << 32)) {                    \
                double sc_ = TARGET_BATCH_NS / (t_ > 1 ? t_ : 1);                     \
                n_ = (uint64_t)((double)n_ * sc_ + 0.999);                            \
                if (n_ < 1) n_ = 1;                                                   \
                break;                                                                \
            }                                                                         \
            n_ *= 2;                                                                  \
        }                                                                             \
        { /* warm-up, then re-scale on a warm batch (a cold first batch misleads) */   \
            double a_ = now_ns();                                                     \
            for (uint64_t i_ = 0; i_ < n_; i_++) { body; }                            \
            double t_ = now_ns() - a_;                                                \
            n_ = (uint64_t)((double)n_ * TARGET_BATCH_NS / (t_ > 1 ? t_ : 1) + 0.999); \
            if (n_ < 1) n_ = 1;                                                       \
        }                                                                             \
        double s_[MAX_SAMPLES];                                                       \
        int k_ = 0;                                                                   \
        double start_ = now_ns(), budget_ = budget_ns;                                 \
        while (k_ < MAX_SAMPLES && (k_ < MIN_SAMPLES || now_ns() - start_ < budget_)) { \
            double a_ = now_ns();                                                     \
            for (uint64_t i_ = 0; i_ < n_; i_++) { body; }                            \
            s_[k_++] = (now_ns() - a_) / (double)n_;                                  \
        }                                                                             \
        summarize((name), s_, k_, n_);                                                \
    } while (0)

/* ---- sessions ------------------------------------------------------------------- */

static volatile uintptr_t sink;

static void set_state(toto_session *s) {
    OK(toto_session_set_text(s, S("user_name"), S("alice@example.com")));
    OK(toto_session_set_i64(s, S("cart_items"), 3));
    OK(toto_session_set_bool(s, S("is_admin"), false));
    OK(toto_session_set_f64(s, S("balance"), 12.5));
    OK(toto_session_set_text(s, S("last_page"), S("/catalog/shoes?page=2")));
}

static toto_session *make_session(const char *id, const char *user, double expires) {
    toto_session *s = NULL;
    OK(toto_session_new_with_id(id, strlen(id), user, strlen(user), expires, &s));
    OK(toto_session_set_key(s, S(KEY)));
    set_state(s);
    return s;
}

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The i-th session id of the scale runs: 22 url-safe base64 characters of 16 bytes
 * derived from i (distinct for distinct i), computed in a few ns without touching
 * memory. A server gets the id from a request header it has just read, so it is in
 * cache; an id read from a 23 MB table at random would add a cache miss per call that
 * the library does not cause. */
static void derive_id(uint64_t i, char out[TOTO_ID_BUFFER_LEN]) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t a = splitmix64(i), b = splitmix64(a ^ 0x5bd1e995ull);
    uint8_t bytes[16];
    memcpy(bytes, &a, 8);
    memcpy(bytes + 8, &b, 8);
    int o = 0;
    for (int j = 0; j < 15; j += 3) { /* 5 groups of 3 bytes: 20 characters */
        uint32_t v = (uint32_t)bytes[j] << 16 | (uint32_t)bytes[j + 1] << 8 | bytes[j + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    out[o++] = b64[bytes[15] >> 2]; /* the last byte: 2 characters, no padding */
    out[o++] = b64[(bytes[15] & 3) << 4];
    out[22] = 0;
}

/* Fills `cache` with `n` sessions (5-entry state, key; user "user<i>", or anonymous
 * when `anon`): ids from toto_generate_id written to ids[i], or derive_id(i) when
 * `ids` is NULL. Returns the total bytes of the encoded records stored. */
static unsigned long long fill(toto_cache *cache, size_t n, char (*ids)[TOTO_ID_BUFFER_LEN],
                               double expires, bool anon) {
    unsigned long long total = 0;
    char user[32], idbuf[32];
    for (size_t i = 0; i < n; i++) {
        char *id = ids ? ids[i] : idbuf;
        if (ids)
            OK(toto_generate_id(id, TOTO_ID_BUFFER_LEN));
        else
            derive_id(i, id);
        if (anon)
            user[0] = 0;
        else
            snprintf(user, sizeof user, "user%zu", i);
        toto_session *s = make_session(id, user, expires);
        toto_bytes rec = {0};
        OK(toto_session_export(s, &rec, NULL)); /* its size, for the RSS ratio */
        total += rec.len;
        toto_bytes_free(&rec);
        /* Stored the way the manager saves a session (the memory cache keeps it
         * decoded); a record stored as bytes is decoded on every load instead. */
        OK(toto_cache_store_session(cache, s, NULL));
        toto_session_free(s);
    }
    return total;
}

static toto_manager *make_manager(toto_cache *cache) {
    toto_account_store *store = NULL;
    toto_manager *m = NULL;
    toto_error err = {0};
    OK(toto_account_store_new_memory(&store));
    if (toto_manager_new(cache, store, NULL, &m, &err) != TOTO_RESULT_OK)
        die("toto_manager_new: %s", err.message);
    toto_account_store_free(store);
    return m;
}

/* ---- bench micro ---------------------------------------------------------------- */

static void openssl_hmac(const uint8_t *msg, size_t len, uint8_t out[20]) {
    unsigned int out_len = 0;
    if (!HMAC(EVP_sha1(), KEY, (int)strlen(KEY), msg, len, out, &out_len) || out_len != 20)
        die("OpenSSL HMAC failed");
}

static void micro(void) {
    char id[TOTO_ID_BUFFER_LEN];
    char mac[TOTO_MAC_BUFFER_LEN];
    uint8_t digest[EVP_MAX_MD_SIZE];

    fprintf(stderr, "C through the ABI (shared library %s):\n", toto_version());
    {
        char ver[64];
        const char *full = OpenSSL_version(OPENSSL_VERSION); /* "OpenSSL 3.0.x <date>" */
        const char *sp = strchr(full, ' ');
        sp = sp ? strchr(sp + 1, ' ') : NULL;
        size_t vl = sp ? (size_t)(sp - full) : strlen(full);
        if (vl >= sizeof ver) vl = sizeof ver - 1;
        memcpy(ver, full, vl);
        ver[vl] = 0;
        info_str("openssl", ver);
    }
    BENCH("c_floor_toto_version", sink = (uintptr_t)toto_version());
    BENCH("c_id_generate", OK(toto_generate_id(id, sizeof id)));

    toto_session *s = make_session(SESSION_ID, USER, wall_seconds() + 3600);
    static const struct { const char *label; size_t len; } sizes[] = {
        {"64", 64}, {"1k", 1024}, {"64k", 65536}};
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!hmac) die("EVP_MAC_fetch(HMAC)");
    EVP_MAC_CTX *keyed = EVP_MAC_CTX_new(hmac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA1", 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC_CTX *per_msg = EVP_MAC_CTX_new(hmac);
    if (!keyed || !EVP_MAC_init(keyed, (const unsigned char *)KEY, strlen(KEY), params))
        die("EVP_MAC_init");
    if (!per_msg || !EVP_MAC_CTX_set_params(per_msg, params)) die("EVP_MAC_CTX_set_params");
    { /* check that all three OpenSSL ways agree with the library */
        uint8_t *m1 = message(1024), d1[EVP_MAX_MD_SIZE], d2[EVP_MAX_MD_SIZE];
        size_t l1 = 0;
        openssl_hmac(m1, 1024, d2);
        if (!EVP_MAC_init(per_msg, (const unsigned char *)KEY, strlen(KEY), NULL) ||
            !EVP_MAC_update(per_msg, m1, 1024) || !EVP_MAC_final(per_msg, d1, &l1, sizeof d1) ||
            l1 != 20 || memcmp(d1, d2, 20))
            die("OpenSSL HMAC variants disagree");
        char b64[64];
        EVP_EncodeBlock((unsigned char *)b64, d1, 20);
        info_str("openssl_mac_1k", b64);
        free(m1);
    }
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        char name[64];
        uint8_t *msg = message(sizes[z].len);
        size_t len = sizes[z].len;
        OK(toto_session_hmac(s, msg, len, mac, sizeof mac));
        snprintf(name, sizeof name, "c_hmac_%s", sizes[z].label);
        BENCH(name, OK(toto_session_hmac(s, msg, len, mac, sizeof mac)));
        snprintf(name, sizeof name, "c_verify_%s", sizes[z].label);
        BENCH(name, OK(toto_session_verify(s, mac, 28, msg, len)));
        if (len == 1024) {
            BENCH("c_verify_1k_oneshot_key",
                  OK(toto_verify((const uint8_t *)KEY, strlen(KEY), mac, 28, msg, len)));
            info_str("mac_1k", mac);
        }
        /* The reference: OpenSSL keyed per message (as a server with one key per
         * session does per request), algorithm fetched and context allocated once. */
        snprintf(name, sizeof name, "openssl_hmac_%s", sizes[z].label);
        BENCH(name, {
            size_t dl = 0;
            if (!EVP_MAC_init(per_msg, (const unsigned char *)KEY, strlen(KEY), NULL) ||
                !EVP_MAC_update(per_msg, msg, len) ||
                !EVP_MAC_final(per_msg, digest, &dl, sizeof digest))
                die("EVP_MAC");
        });
        /* The one-call API, HMAC(): fetches the algorithm and allocates per call. */
        snprintf(name, sizeof name, "openssl_hmac_oneshot_%s", sizes[z].label);
        BENCH(name, openssl_hmac(msg, len, digest));
        /* Keyed once, re-initialised per message (what toto's session signer does). */
        snprintf(name, sizeof name, "openssl_hmac_keyed_%s", sizes[z].label);
        BENCH(name, {
            size_t dl = 0;
            if (!EVP_MAC_init(keyed, NULL, 0, NULL) || !EVP_MAC_update(keyed, msg, len) ||
                !EVP_MAC_final(keyed, digest, &dl, sizeof digest))
                die("EVP_MAC");
        });
        free(msg);
    }
    EVP_MAC_CTX_free(keyed);
    EVP_MAC_CTX_free(per_msg);
    EVP_MAC_free(hmac);

    toto_bytes rec = {0};
    OK(toto_session_export(s, &rec, NULL));
    info_num("record_len", (double)rec.len);
    BENCH("c_record_encode", {
        toto_bytes r = {0};
        OK(toto_session_export(s, &r, NULL));
        toto_bytes_free(&r);
    });
    BENCH("c_record_decode", {
        toto_session *d = NULL;
        OK(toto_session_import(rec.data, rec.len, &d, NULL));
        toto_session_free(d);
    });
    toto_bytes_free(&rec);

    int64_t v = 0;
    const char *tp = NULL;
    size_t tl = 0;
    BENCH("c_get_i64", OK(toto_session_get_i64(s, S("cart_items"), &v)));
    BENCH("c_get_text", OK(toto_session_get_text(s, S("user_name"), &tp, &tl)));
    BENCH("c_set_i64", OK(toto_session_set_i64(s, S("cart_items"), ++v)));
    toto_session_free(s);

    /* accounts through the memory store */
    toto_account_store *store = NULL;
    OK(toto_account_store_new_memory(&store));
    OK(toto_account_store_create(store, S(USER), NULL));
    toto_account *a = NULL;
    OK(toto_account_new(store, S(USER), &a));
    OK(toto_account_set_text(a, S("user_name"), S("alice@example.com")));
    OK(toto_account_set_i64(a, S("cart_items"), 3));
    OK(toto_account_set_bool(a, S("is_admin"), false));
    OK(toto_account_set_f64(a, S("balance"), 12.5));
    OK(toto_account_set_text(a, S("last_page"), S("/catalog/shoes?page=2")));
    OK(toto_account_save(a, NULL));
    const toto_str names[5] = {{S("user_name")}, {S("cart_items")}, {S("is_admin")},
                               {S("balance")}, {S("last_page")}};
    BENCH("c_account_load_5", {
        toto_account *x = NULL;
        OK(toto_account_new(store, S(USER), &x));
        OK(toto_account_load(x, names, 5, NULL));
        toto_account_free(x);
    });
    BENCH("c_account_set_save_1", {
        OK(toto_account_set_i64(a, S("cart_items"), ++v));
        OK(toto_account_save(a, NULL));
    });
    toto_account_free(a);
    toto_account_store_free(store);

    /* manager over the memory cache, 1 k sessions */
    enum { N = 1000 };
    static char ids[N][TOTO_ID_BUFFER_LEN];
    toto_cache *cache = NULL;
    OK(toto_cache_new_memory(&cache));
    toto_manager *m = make_manager(cache);
    fill(cache, N, ids, wall_seconds() + 86400, false);
    uint32_t *order = permutation(N);
    size_t k = 0;
    BENCH("c_manager_retrieve_1k", {
        toto_session *r = NULL;
        k = (k + 1) % N;
        OK(toto_manager_retrieve_session(m, ids[order[k]], 22, &r, NULL));
        toto_session_free(r);
    });
    BENCH("c_cache_load_session_1k", {
        toto_session *r = NULL;
        k = (k + 1) % N;
        OK(toto_cache_load_session(cache, ids[order[k]], 22, &r, NULL));
        toto_session_free(r);
    });
    uint8_t *body = message(1024);
    char req_mac[TOTO_MAC_BUFFER_LEN];
    {
        toto_session *r = NULL;
        OK(toto_manager_retrieve_session(m, ids[0], 22, &r, NULL));
        OK(toto_session_sign_request(r, S(METHOD), S(URI), body, 1024, req_mac, sizeof req_mac));
        toto_session_free(r);
    }
    info_str("request_mac_1k", req_mac);
    BENCH("c_manager_verify_request_1k", {
        k = (k + 1) % N;
        OK(toto_manager_verify_request(m, ids[order[k]], 22, req_mac, 28, S(METHOD), S(URI),
                                       body, 1024, NULL, NULL));
    });
    BENCH("c_manager_verify_request_1k_out", {
        toto_session *r = NULL;
        k = (k + 1) % N;
        OK(toto_manager_verify_request(m, ids[order[k]], 22, req_mac, 28, S(METHOD), S(URI),
                                       body, 1024, &r, NULL));
        toto_session_free(r);
    });
    {
        toto_session *r = NULL;
        OK(toto_manager_retrieve_session(m, ids[1], 22, &r, NULL));
        BENCH("c_manager_save_1k", {
            OK(toto_session_set_i64(r, S("cart_items"), ++v));
            OK(toto_manager_save_session(m, r, NULL));
        });
        toto_session_free(r);
    }
    free(body);
    free(order);
    toto_manager_free(m);
    toto_cache_free(cache);
}

/* ---- bench scale N [anon] ------------------------------------------------------- */

static void scale(size_t n, bool anon, bool compact) {
    /* What the bench itself needs is allocated and touched before the baseline. */
    uint32_t *order = permutation(n);
    toto_cache *cache = NULL;
    OK(compact ? toto_cache_new_memory_compact(&cache) : toto_cache_new_memory(&cache));
    toto_manager *m = make_manager(cache);
    { /* warm the library's allocations (one session in and out) */
        char id[1][TOTO_ID_BUFFER_LEN];
        fill(cache, 1, id, wall_seconds() + 86400, anon);
        OK(toto_cache_remove(cache, id[0], 22, NULL));
    }
    long long before = rss_bytes();
    double t0 = now_ns();
    unsigned long long bytes = fill(cache, n, NULL, wall_seconds() + 86400, anon);
    double fill_s = (now_ns() - t0) / 1e9;
    long long after = rss_bytes();
    fprintf(stderr, "scale %zu%s: filled in %.2f s\n", n,
            anon ? " anonymous" : compact ? " compact" : "", fill_s);
    info_num("sessions", (double)n);
    info_num("anonymous", anon);
    info_num("compact", compact);
    info_num("record_bytes", (double)bytes);
    info_num("rss_before", (double)before);
    info_num("rss_after", (double)after);
    info_num("rss_delta", (double)(after - before));
    info_num("rss_per_session", (double)(after - before) / (double)n);
    info_num("rss_over_record_bytes", (double)(after - before) / (double)bytes);
    info_num("fill_seconds", fill_s);

    char name[64], id[TOTO_ID_BUFFER_LEN];
    size_t k = 0;
    const char *spin = getenv("TOTO_BENCH_SPIN"); /* profiling: retrieve for S seconds */
    if (spin && atof(spin) > 0) {
        fprintf(stderr, "scale %zu: spinning %s s (pid %d)\n", n, spin, (int)getpid());
        double end = now_ns() + atof(spin) * 1e9;
        while (now_ns() < end) {
            for (int j = 0; j < 100; j++) {
                toto_session *r = NULL;
                k = (k + 1) % n;
                derive_id(order[k], id);
                OK(toto_manager_retrieve_session(m, id, 22, &r, NULL));
                toto_session_free(r);
            }
        }
    }
    for (int round = 0; round < rounds; round++) { /* one entry per round, same names */
        snprintf(name, sizeof name, "c_derive_id_%zu", n); /* the loop's own overhead */
        BENCH(name, {
            k = (k + 1) % n;
            derive_id(order[k], id);
            sink += (uintptr_t)id[3];
        });
        snprintf(name, sizeof name, "c_manager_retrieve_%zu%s", n,
                 anon ? "_anon" : compact ? "_compact" : "");
        BENCH(name, {
            toto_session *r = NULL;
            k = (k + 1) % n;
            derive_id(order[k], id);
            OK(toto_manager_retrieve_session(m, id, 22, &r, NULL));
            toto_session_free(r);
        });
    }
    /* No teardown: freeing a million sessions takes seconds and measures nothing. */
    (void)m;
    (void)cache;
    free(order);
}

/* ---- bench threads -------------------------------------------------------------- */

typedef struct {
    toto_manager *m;
    char (*ids)[TOTO_ID_BUFFER_LEN];
    size_t n;
    uint64_t seed;
    volatile int *stop;
    uint64_t ops;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    uint64_t x = w->seed, ops = 0;
    while (!*w->stop) {
        for (int j = 0; j < 64; j++) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            size_t i = (size_t)((x * 0x2545f4914f6cdd1dull) % w->n);
            toto_session *r = NULL;
            OK(toto_manager_retrieve_session(w->m, w->ids[i], 22, &r, NULL));
            toto_session_free(r);
        }
        ops += 64;
    }
    w->ops = ops;
    return NULL;
}

static double cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Retrieves/s with `threads` threads for `seconds`; *cpus gets the CPUs the process
 * actually had (CPU time / wall time: below `threads` when other work competed). */
static double throughput(toto_manager *m, char (*ids)[TOTO_ID_BUFFER_LEN], size_t n,
                         int threads, double seconds, double *cpus) {
    pthread_t t[8];
    worker w[8];
    volatile int stop = 0;
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){m, ids, n, 0x1234567ull * (uint64_t)(i + 1) + rng_next(), &stop, 0};
        if (pthread_create(&t[i], NULL, work, &w[i])) die("pthread_create");
    }
    double a = now_ns(), c0 = cpu_ns();
    struct timespec d = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&d, NULL);
    stop = 1;
    uint64_t total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += w[i].ops;
    }
    double wall = now_ns() - a;
    if (cpus) *cpus = (cpu_ns() - c0) / wall;
    return (double)total / (wall / 1e9);
}

static void threads_bench(void) {
    enum { N = 10000 };
    static char ids[N][TOTO_ID_BUFFER_LEN];
    toto_cache *cache = NULL;
    OK(toto_cache_new_memory(&cache));
    toto_manager *m = make_manager(cache);
    fill(cache, N, ids, wall_seconds() + 86400, false);
    double secs = quick ? 0.3 : 0.8;
    throughput(m, ids, N, 2, 0.2, NULL); /* warm-up */
    enum { MAX_ROUNDS = 32 };
    int nr = rounds < 1 ? 1 : rounds > MAX_ROUNDS ? MAX_ROUNDS : rounds;
    double r[MAX_ROUNDS], one[MAX_ROUNDS], two[MAX_ROUNDS], cpu1[MAX_ROUNDS],
        cpu2[MAX_ROUNDS], eff[MAX_ROUNDS];
    char key[64];
    for (int i = 0; i < nr; i++) {
        one[i] = throughput(m, ids, N, 1, secs, &cpu1[i]);
        two[i] = throughput(m, ids, N, 2, secs, &cpu2[i]);
        r[i] = two[i] / one[i];
        /* ops per CPU-second, 2 threads over 1: 1.0 = perfect scaling of the code */
        eff[i] = (two[i] / cpu2[i]) / (one[i] / cpu1[i]);
        fprintf(stderr,
                "  round %d: 1 thread %.0f/s (%.2f CPUs), 2 threads %.0f/s (%.2f CPUs), "
                "ratio %.3f, per-CPU efficiency %.3f\n",
                i, one[i], cpu1[i], two[i], cpu2[i], r[i], eff[i]);
        /* per round, for bench/run.py's ratio spread: round_<figure>_<i> */
        snprintf(key, sizeof key, "round_ops_1_thread_%d", i);
        info_num(key, one[i]);
        snprintf(key, sizeof key, "round_ops_2_threads_%d", i);
        info_num(key, two[i]);
        snprintf(key, sizeof key, "round_per_cpu_efficiency_%d", i);
        info_num(key, eff[i]);
    }
    size_t un = (size_t)nr;
    qsort(r, un, sizeof r[0], cmp_double);
    qsort(one, un, sizeof one[0], cmp_double);
    qsort(two, un, sizeof two[0], cmp_double);
    qsort(cpu2, un, sizeof cpu2[0], cmp_double);
    qsort(eff, un, sizeof eff[0], cmp_double);
    info_num("sessions", N);
    info_num("rounds", nr);
    info_num("ops_1_thread", one[nr / 2]);
    info_num("ops_2_threads", two[nr / 2]);
    info_num("ratio_2_over_1", r[nr / 2]);
    info_num("cpus_used_2_threads", cpu2[nr / 2]);
    info_num("per_cpu_efficiency_2_over_1", eff[nr / 2]);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    info_num("cpus", (double)cpus);
    toto_manager_free(m);
    toto_cache_free(cache);
}

/* ---- bench redis URL ------------------------------------------------------------ */

static void redis_bench(const char *url, double secs) {
    toto_cache *cache = NULL;
    toto_error err = {0};
    if (toto_cache_new_redis(url, strlen(url), NULL, &cache, &err) != TOTO_RESULT_OK)
        die("toto_cache_new_redis: %s", err.message);
    toto_manager *m = make_manager(cache);
    /* One session with the 5-entry state, as a login and a first save would leave it. */
    toto_session *s = NULL;
    if (toto_manager_create_session(m, S(USER), true, &s, &err) != TOTO_RESULT_OK)
        die("create_session: %s", err.message);
    set_state(s);
    OK(toto_manager_save_session(m, s, &err));
    char id[TOTO_MAX_SESSION_ID_LEN + 1];
    const char *idp = NULL;
    size_t idl = 0;
    OK(toto_session_id(s, &idp, &idl));
    memcpy(id, idp, idl);
    id[idl] = 0;
    toto_bytes rec = {0};
    OK(toto_session_export(s, &rec, NULL));
    info_num("record_len", (double)rec.len);
    toto_bytes_free(&rec);
    toto_session_free(s);

    /* Round trips per second: a fixed wall time of back-to-back retrieves (each one
     * EVALSHA with renewal), plus the per-call median from the harness. Every retrieve
     * is counted (retrieves_total), for the server time per retrieve. */
    uint64_t total = 0;
    for (int i = 0; i < 500; i++) { /* warm-up: connection, script cache */
        toto_session *r = NULL;
        OK(toto_manager_retrieve_session(m, id, idl, &r, &err));
        toto_session_free(r);
        total++;
    }
    uint64_t ops = 0;
    double a = now_ns(), end = a + secs * 1e9, t;
    do {
        for (int i = 0; i < 100; i++) {
            toto_session *r = NULL;
            OK(toto_manager_retrieve_session(m, id, idl, &r, &err));
            toto_session_free(r);
        }
        ops += 100;
    } while ((t = now_ns()) < end);
    total += ops;
    info_num("retrieve_per_second", (double)ops / ((t - a) / 1e9));
    BENCH("c_redis_retrieve_renew", {
        toto_session *r = NULL;
        OK(toto_manager_retrieve_session(m, id, idl, &r, &err));
        toto_session_free(r);
        total++;
    });
    info_num("retrieves_total", (double)total);
    toto_manager_free(m);
    toto_cache_free(cache);
}

int main(int argc, char **argv) {
    quick = getenv("TOTO_BENCH_QUICK") != NULL;
    budget_ns = quick ? 6e7 : 3e8;
    if (getenv("TOTO_BENCH_BUDGET_MS") && atof(getenv("TOTO_BENCH_BUDGET_MS")) > 0)
        budget_ns = atof(getenv("TOTO_BENCH_BUDGET_MS")) * 1e6;
    if (getenv("TOTO_BENCH_ROUNDS") && atoi(getenv("TOTO_BENCH_ROUNDS")) > 0)
        rounds = atoi(getenv("TOTO_BENCH_ROUNDS"));
    if (argc >= 2 && !strcmp(argv[1], "micro")) {
        micro();
    } else if (argc >= 3 && !strcmp(argv[1], "scale")) {
        scale((size_t)strtoull(argv[2], NULL, 10), argc >= 4 && !strcmp(argv[3], "anon"),
              argc >= 4 && !strcmp(argv[3], "compact"));
    } else if (argc >= 2 && !strcmp(argv[1], "threads")) {
        threads_bench();
    } else if (argc >= 3 && !strcmp(argv[1], "redis")) {
        redis_bench(argv[2], argc >= 4 ? atof(argv[3]) : 2.0);
    } else {
        fprintf(stderr, "usage: %s micro | scale N [anon] | threads | redis URL [SECONDS]\n", argv[0]);
        return 2;
    }
    print_json();
    return 0;
}
