/*
 * support.c: the harness, helpers, and the C-implemented cache and account store used
 * by the C tests (see support.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* ---- harness ---------------------------------------------------------------- */

static int g_passed;
static int g_failed;
static bool g_current_failed;

bool check_impl(bool ok, const char *expr, const char *file, int line) {
    if (!ok) {
        g_current_failed = true;
        printf("#   %s:%d: CHECK(%s) failed\n", file, line, expr);
        fflush(stdout);
    }
    return ok;
}

bool check_rc_impl(uint32_t got, uint32_t want, const char *expr, const char *file,
                   int line) {
    if (got != want) {
        g_current_failed = true;
        printf("#   %s:%d: %s\n#     returned %u (%s), expected %u (%s)\n", file, line,
               expr, (unsigned)got, toto_result_message(got), (unsigned)want,
               toto_result_message(want));
        fflush(stdout);
        return false;
    }
    return true;
}

static void print_escaped(const void *p, size_t len) {
    const unsigned char *b = p;
    size_t shown = len < 80 ? len : 80;
    putchar('"');
    for (size_t i = 0; i < shown; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' && b[i] != '\\') {
            putchar(b[i]);
        } else {
            printf("\\x%02x", b[i]);
        }
    }
    putchar('"');
    if (shown < len) {
        printf("...(%zu bytes)", len);
    }
}

bool check_mem_impl(const void *got, size_t got_len, const void *want, size_t want_len,
                    const char *expr, const char *file, int line) {
    bool ok = got_len == want_len && (want_len == 0 || (got && memcmp(got, want, want_len) == 0));
    if (!ok) {
        g_current_failed = true;
        printf("#   %s:%d: %s\n#     got      ", file, line, expr);
        if (got) {
            print_escaped(got, got_len);
        } else {
            printf("NULL (len %zu)", got_len);
        }
        printf("\n#     expected ");
        print_escaped(want, want_len);
        printf("\n");
        fflush(stdout);
    }
    return ok;
}

bool check_err_impl(const toto_error *err, uint32_t want, const char *file, int line) {
    bool ok = true;
    size_t len = strnlen(err->message, TOTO_ERROR_MESSAGE_CAPACITY);
    if (err->code != want) {
        printf("#   %s:%d: toto_error.code is %u (%s), expected %u (%s)\n", file, line,
               (unsigned)err->code, toto_result_message(err->code), (unsigned)want,
               toto_result_message(want));
        ok = false;
    }
    if (len == 0 || len >= TOTO_ERROR_MESSAGE_CAPACITY) {
        printf("#   %s:%d: toto_error.message is empty or not NUL-terminated\n", file, line);
        ok = false;
    } else if (!utf8_valid(err->message, len)) {
        printf("#   %s:%d: toto_error.message is not valid UTF-8\n", file, line);
        ok = false;
    }
    if (!ok) {
        g_current_failed = true;
        fflush(stdout);
    }
    return ok;
}

static void report(const char *name, const char *arg_name) {
    if (g_current_failed) {
        g_failed++;
        printf("not ok - %s%s%s%s\n", name, arg_name ? "(" : "", arg_name ? arg_name : "",
               arg_name ? ")" : "");
    } else {
        g_passed++;
        printf("ok - %s%s%s%s\n", name, arg_name ? "(" : "", arg_name ? arg_name : "",
               arg_name ? ")" : "");
    }
    fflush(stdout);
}

void run_test(const char *name, void (*fn)(void)) {
    g_current_failed = false;
    fn();
    report(name, NULL);
}

void run_test_with(const char *name, void (*fn)(void *), void *arg, const char *arg_name) {
    g_current_failed = false;
    fn(arg);
    report(name, arg_name);
}

int finish(void) {
    printf("%d passed, %d failed\n", g_passed, g_failed);
    fflush(stdout);
    return g_failed == 0 ? 0 : 1;
}

/* ---- helpers ------------------------------------------------------------------ */

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

uint8_t *hex_decode(const char *hex, size_t *len) {
    size_t n = strlen(hex) / 2;
    uint8_t *out = malloc(n ? n : 1);
    if (!out) abort();
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) abort();
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    *len = n;
    return out;
}

char *repeat_char(char c, size_t n) {
    char *s = malloc(n + 1);
    if (!s) abort();
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

char *repeat_str(const char *unit, size_t count) {
    size_t u = strlen(unit);
    char *s = malloc(u * count + 1);
    if (!s) abort();
    for (size_t i = 0; i < count; i++) {
        memcpy(s + i * u, unit, u);
    }
    s[u * count] = '\0';
    return s;
}

bool utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n) return false; /* truncated sequence */
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

bool mem_contains(const void *hay, size_t hay_len, const char *needle) {
    size_t n = strlen(needle);
    const char *h = hay;
    if (n == 0) return true;
    if (!h || hay_len < n) return false;
    for (size_t i = 0; i + n <= hay_len; i++) {
        if (memcmp(h + i, needle, n) == 0) return true;
    }
    return false;
}

toto_session *new_session(const char *user) {
    toto_session *s = NULL;
    if (!CHECK_RC(toto_session_new(STR(user), now_seconds() + 3600.0, &s), TOTO_RESULT_OK)) {
        return NULL;
    }
    return s;
}

toto_session *new_session_with_id(const char *id, const char *user, double expires) {
    toto_session *s = NULL;
    if (!CHECK_RC(toto_session_new_with_id(STR(id), STR(user), expires, &s), TOTO_RESULT_OK)) {
        return NULL;
    }
    return s;
}

bool session_id_copy(const toto_session *s, char *buf, size_t cap) {
    const char *p = NULL;
    size_t len = 0;
    if (!CHECK_RC(toto_session_id(s, &p, &len), TOTO_RESULT_OK) || !CHECK(len < cap)) {
        if (cap) buf[0] = '\0';
        return false;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    return true;
}

static char *dup_mem(const void *p, size_t len) {
    char *d = malloc(len + 1);
    if (!d) abort();
    if (len) memcpy(d, p, len);
    d[len] = '\0';
    return d;
}

static void copy_text(char *dst, size_t cap, const char *src, size_t len) {
    size_t n = len < cap - 1 ? len : cap - 1;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

static bool applies(int fault, unsigned ops, unsigned op) {
    return fault != FAULT_NONE && (ops & op) != 0;
}

static uint32_t fail_with(toto_callback_ctx *ctx, const char *message, uint32_t code,
                          uint32_t *last_cb_rc) {
    if (message) {
        *last_cb_rc = toto_callback_set_error(ctx, message, strlen(message));
    }
    return code ? code : TOTO_RESULT_BACKEND_FAILED;
}

/* ---- the C session cache ---------------------------------------------------------- */

typedef struct cache_entry {
    struct cache_entry *next;
    char *id;
    size_t id_len;
    char *user;
    size_t user_len;
    double expires;
    uint8_t *record;
    size_t record_len;
} cache_entry;

typedef struct {
    pthread_mutex_t mu;
    cache_entry *head;
} cache_priv;

static void cache_entry_free(cache_entry *e) {
    free(e->id);
    free(e->user);
    free(e->record);
    free(e);
}

static cache_entry **cache_find(cache_priv *p, const char *id, size_t id_len) {
    cache_entry **link = &p->head;
    while (*link) {
        if ((*link)->id_len == id_len && memcmp((*link)->id, id, id_len) == 0) {
            return link;
        }
        link = &(*link)->next;
    }
    return link;
}

static uint32_t tc_store(void *user_data, const char *id, size_t id_len, const char *user_id,
                         size_t user_id_len, double expires, const uint8_t *record,
                         size_t record_len, uint32_t flags, toto_callback_ctx *ctx) {
    test_cache *tc = user_data;
    cache_priv *p = tc->priv;
    uint32_t rc = TOTO_RESULT_OK;
    bool rename = false, bad_new_id = false;
    pthread_mutex_lock(&p->mu);
    tc->stores++;
    tc->last_flags = flags;
    tc->last_expires = expires;
    copy_text(tc->last_user, sizeof tc->last_user, user_id, user_id_len);
    if (tc->hook) {
        uint32_t h = tc->hook(tc->hook_arg, OP_STORE, ctx);
        if (h != HOOK_CONTINUE) {
            rc = h;
            goto out;
        }
    }
    if (applies(tc->fault, tc->fault_ops, OP_STORE)) {
        switch (tc->fault) {
        case FAULT_FAIL:
            rc = fail_with(ctx, tc->fault_message, tc->fault_code, &tc->last_cb_rc);
            goto out;
        case FAULT_RETURN_CODE:
            rc = tc->fault_code;
            goto out;
        case FAULT_UNKNOWN_CODE:
            rc = 77;
            goto out;
        case FAULT_SET_TWICE:
            tc->last_cb_rc = toto_callback_set_result(ctx, (const uint8_t *)id, id_len);
            tc->last_cb_rc = toto_callback_set_result(ctx, (const uint8_t *)id, id_len);
            break;
        case FAULT_BAD_NEW_ID:
            bad_new_id = true;
            break;
        case FAULT_RENAME:
            rename = true;
            id = tc->rename_to;
            id_len = strlen(tc->rename_to);
            break;
        default:
            break;
        }
    }
    if (flags & ~(uint32_t)TOTO_STORE_CREATE_NEW) {
        rc = TOTO_RESULT_INVALID_ARGUMENT;
        goto out;
    }
    cache_entry **link = cache_find(p, id, id_len);
    cache_entry *e = *link;
    if (e && (flags & TOTO_STORE_CREATE_NEW) && e->expires > now_seconds()) {
        rc = TOTO_RESULT_ID_COLLISION;
        goto out;
    }
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) abort();
        e->id = dup_mem(id, id_len);
        e->id_len = id_len;
        e->next = p->head;
        p->head = e;
    }
    free(e->user);
    free(e->record);
    e->user = dup_mem(user_id, user_id_len);
    e->user_len = user_id_len;
    e->expires = expires;
    e->record = (uint8_t *)dup_mem(record, record_len);
    e->record_len = record_len;
    if (rename) {
        tc->last_cb_rc = toto_callback_set_result(ctx, (const uint8_t *)id, id_len);
    }
    if (bad_new_id) {
        tc->last_cb_rc = toto_callback_set_result(ctx, BYTES("bad id"));
    }
out:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* load and load_renew: `renew` selects the latter (targets > 0 extend the expiry). */
static uint32_t tc_load_common(test_cache *tc, const char *id, size_t id_len, bool renew,
                               double user_to, double anonymous_to, toto_callback_ctx *ctx) {
    cache_priv *p = tc->priv;
    uint32_t rc = TOTO_RESULT_OK;
    pthread_mutex_lock(&p->mu);
    if (renew) {
        tc->load_renews++;
        tc->last_renew_user_to = user_to;
        tc->last_renew_anonymous_to = anonymous_to;
    } else {
        tc->loads++;
    }
    if (tc->hook) {
        uint32_t h = tc->hook(tc->hook_arg, renew ? OP_LOAD_RENEW : OP_LOAD, ctx);
        if (h != HOOK_CONTINUE) {
            rc = h;
            goto out;
        }
    }
    bool twice = false;
    if (applies(tc->fault, tc->fault_ops, OP_LOAD | (renew ? OP_LOAD_RENEW : 0))) {
        switch (tc->fault) {
        case FAULT_FAIL:
            rc = fail_with(ctx, tc->fault_message, tc->fault_code, &tc->last_cb_rc);
            goto out;
        case FAULT_RETURN_CODE:
            rc = tc->fault_code;
            goto out;
        case FAULT_UNKNOWN_CODE:
            rc = 77;
            goto out;
        case FAULT_GARBAGE: {
            static const uint8_t garbage[] = {0xff, 0x00, 'g', 'a', 'r', 'b', 'a', 'g', 'e'};
            tc->last_cb_rc = toto_callback_set_result(ctx, garbage, sizeof garbage);
            goto out;
        }
        case FAULT_HUGE: {
            uint8_t *huge = calloc(TOTO_MAX_RECORD_LEN + 1, 1);
            if (!huge) abort();
            tc->last_cb_rc = toto_callback_set_result(ctx, huge, TOTO_MAX_RECORD_LEN + 1);
            free(huge);
            goto out;
        }
        case FAULT_OK_WITHOUT_RESULT:
            goto out;
        case FAULT_SET_TWICE:
            twice = true;
            break;
        default:
            break;
        }
    }
    cache_entry **link = cache_find(p, id, id_len);
    cache_entry *e = *link;
    if (!e) {
        rc = TOTO_RESULT_NOT_FOUND;
        goto out;
    }
    if (e->expires <= now_seconds()) {
        *link = e->next;
        cache_entry_free(e);
        rc = TOTO_RESULT_NOT_FOUND;
        goto out;
    }
    if (renew) {
        double target = e->user_len ? user_to : anonymous_to;
        if (target > 0 && e->expires < target) e->expires = target;
    }
    tc->last_cb_rc = toto_callback_set_result(ctx, e->record, e->record_len);
    if (twice) {
        tc->last_cb_rc = toto_callback_set_result(ctx, e->record, e->record_len);
    }
    if (renew) {
        uint32_t r = toto_callback_set_expires(ctx, e->expires);
        if (r != TOTO_RESULT_OK) tc->last_cb_rc = r;
    }
out:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static uint32_t tc_load(void *user_data, const char *id, size_t id_len,
                        toto_callback_ctx *ctx) {
    return tc_load_common(user_data, id, id_len, false, 0, 0, ctx);
}

static uint32_t tc_load_renew(void *user_data, const char *id, size_t id_len,
                              double renew_user_to, double renew_anonymous_to,
                              toto_callback_ctx *ctx) {
    return tc_load_common(user_data, id, id_len, true, renew_user_to, renew_anonymous_to, ctx);
}

static uint32_t tc_v1_trap(void *user_data, const char *id, size_t id_len, double u, double a,
                           toto_callback_ctx *ctx) {
    test_cache *tc = user_data;
    tc->v1_trap_called = true;
    return TOTO_RESULT_BACKEND_FAILED;
}

static uint32_t tc_remove(void *user_data, const char *id, size_t id_len,
                          toto_callback_ctx *ctx) {
    test_cache *tc = user_data;
    cache_priv *p = tc->priv;
    uint32_t rc = TOTO_RESULT_OK;
    pthread_mutex_lock(&p->mu);
    tc->removes++;
    if (tc->hook) {
        uint32_t h = tc->hook(tc->hook_arg, OP_REMOVE, ctx);
        if (h != HOOK_CONTINUE) {
            rc = h;
            goto out;
        }
    }
    if (applies(tc->fault, tc->fault_ops, OP_REMOVE)) {
        switch (tc->fault) {
        case FAULT_FAIL:
            rc = fail_with(ctx, tc->fault_message, tc->fault_code, &tc->last_cb_rc);
            goto out;
        case FAULT_RETURN_CODE:
            rc = tc->fault_code;
            goto out;
        case FAULT_UNKNOWN_CODE:
            rc = 77;
            goto out;
        case FAULT_RESULT_ON_REMOVE:
            tc->last_cb_rc = toto_callback_set_result(ctx, BYTES("x"));
            break;
        default:
            break;
        }
    }
    cache_entry **link = cache_find(p, id, id_len);
    if (*link) {
        cache_entry *e = *link;
        *link = e->next;
        cache_entry_free(e);
    }
out:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static uint32_t tc_remove_user(void *user_data, const char *user_id, size_t user_id_len,
                               uint64_t *removed, toto_callback_ctx *ctx) {
    test_cache *tc = user_data;
    cache_priv *p = tc->priv;
    uint32_t rc = TOTO_RESULT_OK;
    uint64_t n = 0;
    pthread_mutex_lock(&p->mu);
    tc->remove_users++;
    if (tc->hook) {
        uint32_t h = tc->hook(tc->hook_arg, OP_REMOVE_USER, ctx);
        if (h != HOOK_CONTINUE) {
            rc = h;
            goto out;
        }
    }
    if (applies(tc->fault, tc->fault_ops, OP_REMOVE_USER)) {
        switch (tc->fault) {
        case FAULT_FAIL:
            rc = fail_with(ctx, tc->fault_message, tc->fault_code, &tc->last_cb_rc);
            goto out;
        case FAULT_RETURN_CODE:
            rc = tc->fault_code;
            goto out;
        case FAULT_UNKNOWN_CODE:
            rc = 77;
            goto out;
        case FAULT_RESULT_ON_REMOVE:
            tc->last_cb_rc = toto_callback_set_result(ctx, BYTES("x"));
            break;
        default:
            break;
        }
    }
    if (user_id_len > 0) { /* anonymous sessions are not indexed */
        cache_entry **link = &p->head;
        while (*link) {
            cache_entry *e = *link;
            if (e->user_len == user_id_len && memcmp(e->user, user_id, user_id_len) == 0) {
                *link = e->next;
                cache_entry_free(e);
                n++;
            } else {
                link = &e->next;
            }
        }
    }
    *removed = n;
out:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void tc_free_user_data(void *user_data) {
    test_cache *tc = user_data;
    if (tc->free_count) {
        (*tc->free_count)++;
    }
    test_cache_destroy(tc);
}

test_cache *test_cache_new(int *free_count) {
    test_cache *tc = calloc(1, sizeof *tc);
    cache_priv *p = calloc(1, sizeof *p);
    if (!tc || !p) abort();
    pthread_mutex_init(&p->mu, NULL);
    tc->priv = p;
    tc->free_count = free_count;
    return tc;
}

toto_cache_vtable test_cache_vtable(test_cache *tc) {
    toto_cache_vtable vt;
    memset(&vt, 0, sizeof vt);
    vt.version = TOTO_CACHE_VTABLE_VERSION;
    vt.user_data = tc;
    vt.store = tc_store;
    vt.load = tc_load;
    vt.remove = tc_remove;
    vt.remove_user = tc_remove_user;
    vt.free_user_data = tc_free_user_data;
    vt.load_renew = tc->with_load_renew ? tc_load_renew : NULL;
    return vt;
}

toto_cache_vtable test_cache_vtable_v1(test_cache *tc) {
    toto_cache_vtable vt = test_cache_vtable(tc);
    vt.version = 1;
    vt.load_renew = tc_v1_trap;
    return vt;
}

double test_cache_expiry(test_cache *tc, const char *id) {
    cache_priv *p = tc->priv;
    double e = NAN;
    pthread_mutex_lock(&p->mu);
    cache_entry *found = *cache_find(p, id, strlen(id));
    if (found) e = found->expires;
    pthread_mutex_unlock(&p->mu);
    return e;
}

toto_cache *test_cache_make(test_cache *tc) {
    toto_cache_vtable vt = test_cache_vtable(tc);
    toto_cache *c = NULL;
    if (!CHECK_RC(toto_cache_new_vtable(&vt, &c), TOTO_RESULT_OK)) {
        return NULL;
    }
    return c;
}

void test_cache_destroy(test_cache *tc) {
    if (!tc) return;
    cache_priv *p = tc->priv;
    cache_entry *e = p->head;
    while (e) {
        cache_entry *next = e->next;
        cache_entry_free(e);
        e = next;
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
    free(tc);
}

size_t test_cache_count(test_cache *tc) {
    cache_priv *p = tc->priv;
    size_t n = 0;
    pthread_mutex_lock(&p->mu);
    for (cache_entry *e = p->head; e; e = e->next) n++;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void test_cache_fault(test_cache *tc, int fault, unsigned ops) {
    cache_priv *p = tc->priv;
    pthread_mutex_lock(&p->mu);
    tc->fault = fault;
    tc->fault_ops = ops;
    tc->last_cb_rc = TOTO_RESULT_OK;
    pthread_mutex_unlock(&p->mu);
}

/* ---- the C account store ----------------------------------------------------------- */

typedef struct store_prop {
    struct store_prop *next;
    char *name;
    size_t name_len;
    uint8_t *value;
    size_t value_len;
} store_prop;

typedef struct store_account {
    struct store_account *next;
    char *user;
    size_t user_len;
    store_prop *props;
} store_account;

typedef struct {
    pthread_mutex_t mu;
    store_account *head;
} store_priv;

static void account_free_all(store_account *a) {
    store_prop *p = a->props;
    while (p) {
        store_prop *next = p->next;
        free(p->name);
        free(p->value);
        free(p);
        p = next;
    }
    free(a->user);
    free(a);
}

static store_account **store_find(store_priv *p, const char *user, size_t len) {
    store_account **link = &p->head;
    while (*link) {
        if ((*link)->user_len == len && memcmp((*link)->user, user, len) == 0) {
            return link;
        }
        link = &(*link)->next;
    }
    return link;
}

static store_prop *prop_find(store_account *a, const char *name, size_t len) {
    for (store_prop *p = a->props; p; p = p->next) {
        if (p->name_len == len && memcmp(p->name, name, len) == 0) {
            return p;
        }
    }
    return NULL;
}

static void prop_put(store_account *a, const char *name, size_t name_len, const uint8_t *value,
                     size_t value_len) {
    store_prop *p = prop_find(a, name, name_len);
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p) abort();
        p->name = dup_mem(name, name_len);
        p->name_len = name_len;
        p->next = a->props;
        a->props = p;
    }
    free(p->value);
    p->value = (uint8_t *)dup_mem(value, value_len);
    p->value_len = value_len;
}

static store_account *account_add(store_priv *p, const char *user, size_t len) {
    store_account *a = calloc(1, sizeof *a);
    if (!a) abort();
    a->user = dup_mem(user, len);
    a->user_len = len;
    a->next = p->head;
    p->head = a;
    return a;
}

static void append_name(char *buf, size_t cap, const char *name, size_t len) {
    size_t used = strlen(buf);
    if (used && used + 1 < cap) {
        buf[used++] = ',';
        buf[used] = '\0';
    }
    copy_text(buf + used, cap - used, name, len);
}

/* Common fault handling of an account operation; returns HOOK_CONTINUE to go on. */
static uint32_t store_fault(test_store *ts, unsigned op, toto_callback_ctx *ctx) {
    if (ts->hook) {
        uint32_t h = ts->hook(ts->hook_arg, op, ctx);
        if (h != HOOK_CONTINUE) {
            return h;
        }
    }
    if (!applies(ts->fault, ts->fault_ops, op)) {
        return HOOK_CONTINUE;
    }
    switch (ts->fault) {
    case FAULT_FAIL:
        return fail_with(ctx, ts->fault_message, ts->fault_code, &ts->last_cb_rc);
    case FAULT_RETURN_CODE:
        return ts->fault_code;
    case FAULT_UNKNOWN_CODE:
        return 77;
    case FAULT_RESULT_ON_REMOVE:
        ts->last_cb_rc = toto_callback_set_result(ctx, BYTES("x"));
        return HOOK_CONTINUE;
    case FAULT_PROPERTY_OUTSIDE_LOAD: {
        static const uint8_t null_cbor[] = {0xf6};
        ts->last_cb_rc = toto_callback_add_property(ctx, STR("x"), null_cbor, 1);
        return HOOK_CONTINUE;
    }
    case FAULT_GARBAGE: {
        static const uint8_t garbage[] = {0xff};
        ts->last_cb_rc = toto_callback_add_property(ctx, STR("garbage"), garbage, 1);
        return TOTO_RESULT_OK;
    }
    case FAULT_HUGE: {
        uint8_t *huge = calloc(TOTO_MAX_RECORD_LEN + 1, 1);
        if (!huge) abort();
        ts->last_cb_rc = toto_callback_add_property(ctx, STR("huge"), huge,
                                                    TOTO_MAX_RECORD_LEN + 1);
        free(huge);
        return TOTO_RESULT_OK;
    }
    case FAULT_BAD_NAME: {
        static const uint8_t null_cbor[] = {0xf6};
        ts->last_cb_rc = toto_callback_add_property(ctx, STR("\xff"), null_cbor, 1);
        return TOTO_RESULT_OK;
    }
    default:
        return HOOK_CONTINUE;
    }
}

static uint32_t ts_load(void *user_data, const char *user_id, size_t user_id_len,
                        const toto_str *names, size_t names_count, toto_callback_ctx *ctx) {
    test_store *ts = user_data;
    store_priv *p = ts->priv;
    uint32_t rc = TOTO_RESULT_OK;
    pthread_mutex_lock(&p->mu);
    ts->loads++;
    ts->last_load_all = names == NULL;
    ts->last_load_count = names_count;
    ts->last_load_names[0] = '\0';
    copy_text(ts->last_user, sizeof ts->last_user, user_id, user_id_len);
    for (size_t i = 0; names && i < names_count; i++) {
        append_name(ts->last_load_names, sizeof ts->last_load_names, names[i].ptr,
                    names[i].len);
    }
    uint32_t f = store_fault(ts, OP_LOAD, ctx);
    if (f != HOOK_CONTINUE) {
        rc = f;
        goto out;
    }
    store_account *a = *store_find(p, user_id, user_id_len);
    if (!a) {
        rc = TOTO_RESULT_NOT_FOUND;
        goto out;
    }
    if (!names) {
        for (store_prop *q = a->props; q; q = q->next) {
            uint32_t r = toto_callback_add_property(ctx, q->name, q->name_len, q->value,
                                                    q->value_len);
            if (r != TOTO_RESULT_OK) ts->last_cb_rc = r;
        }
    } else {
        for (size_t i = 0; i < names_count; i++) {
            store_prop *q = prop_find(a, names[i].ptr, names[i].len);
            if (q) {
                uint32_t r = toto_callback_add_property(ctx, q->name, q->name_len, q->value,
                                                        q->value_len);
                if (r != TOTO_RESULT_OK) ts->last_cb_rc = r;
            }
        }
    }
out:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static uint32_t ts_save(void *user_data, const char *user_id, size_t user_id_len,
                        const toto_property *properties, size_t count,
                        toto_callback_ctx *ctx) {
    test_store *ts = user_data;
    store_priv *p = ts->priv;
    uint32_t rc = TOTO_RESULT_OK;
    pthread_mutex_lock(&p->mu);
    ts->saves++;
    ts->last_save_names[0] = '\0';
    copy_text(ts->last_user, sizeof ts->last_user, user_id, user_id_len);
    for (size_t i = 0; i < count; i++) {
        append_name(ts->last_save_names, sizeof ts->last_save_names, properties[i].name,
                    properties[i].name_len);
    }
    uint32_t f = store_fault(ts, OP_SAVE, ctx);
    if (f != HOOK_CONTINUE) {
        rc = f;
        goto out;
    }
    store_account *a = *store_find(p, user_id, user_id_len);
    if (!a) {
        rc = TOTO_RESULT_NOT_FOUND;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        prop_put(a, properties[i].name, properties[i].name_len, properties[i].value,
                 properties[i].value_len);
    }
out:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static uint32_t ts_create(void *user_data, const char *user_id, size_t user_id_len,
                          const toto_property *properties, size_t count,
                          toto_callback_ctx *ctx) {
    test_store *ts = user_data;
    store_priv *p = ts->priv;
    uint32_t rc = TOTO_RESULT_OK;
    pthread_mutex_lock(&p->mu);
    ts->creates++;
    copy_text(ts->last_user, sizeof ts->last_user, user_id, user_id_len);
    uint32_t f = store_fault(ts, OP_CREATE, ctx);
    if (f != HOOK_CONTINUE) {
        rc = f;
        goto out;
    }
    if (*store_find(p, user_id, user_id_len)) {
        rc = TOTO_RESULT_USER_ID_EXISTS;
        goto out;
    }
    store_account *a = account_add(p, user_id, user_id_len);
    for (size_t i = 0; i < count; i++) {
        prop_put(a, properties[i].name, properties[i].name_len, properties[i].value,
                 properties[i].value_len);
    }
out:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static uint32_t ts_remove(void *user_data, const char *user_id, size_t user_id_len,
                          toto_callback_ctx *ctx) {
    test_store *ts = user_data;
    store_priv *p = ts->priv;
    uint32_t rc = TOTO_RESULT_OK;
    pthread_mutex_lock(&p->mu);
    ts->removes++;
    copy_text(ts->last_user, sizeof ts->last_user, user_id, user_id_len);
    uint32_t f = store_fault(ts, OP_REMOVE, ctx);
    if (f != HOOK_CONTINUE) {
        rc = f;
        goto out;
    }
    store_account **link = store_find(p, user_id, user_id_len);
    if (!*link) {
        rc = TOTO_RESULT_NOT_FOUND;
        goto out;
    }
    store_account *a = *link;
    *link = a->next;
    account_free_all(a);
out:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void ts_free_user_data(void *user_data) {
    test_store *ts = user_data;
    if (ts->free_count) {
        (*ts->free_count)++;
    }
    test_store_destroy(ts);
}

test_store *test_store_new(int *free_count) {
    test_store *ts = calloc(1, sizeof *ts);
    store_priv *p = calloc(1, sizeof *p);
    if (!ts || !p) abort();
    pthread_mutex_init(&p->mu, NULL);
    ts->priv = p;
    ts->free_count = free_count;
    return ts;
}

toto_account_store_vtable test_store_vtable(test_store *ts) {
    toto_account_store_vtable vt;
    memset(&vt, 0, sizeof vt);
    vt.version = TOTO_ACCOUNT_STORE_VTABLE_VERSION;
    vt.user_data = ts;
    vt.load = ts_load;
    vt.save = ts_save;
    vt.create = ts_create;
    vt.remove = ts_remove;
    vt.free_user_data = ts_free_user_data;
    return vt;
}

toto_account_store *test_store_make(test_store *ts) {
    toto_account_store_vtable vt = test_store_vtable(ts);
    toto_account_store *s = NULL;
    if (!CHECK_RC(toto_account_store_new_vtable(&vt, &s), TOTO_RESULT_OK)) {
        return NULL;
    }
    return s;
}

void test_store_destroy(test_store *ts) {
    if (!ts) return;
    store_priv *p = ts->priv;
    store_account *a = p->head;
    while (a) {
        store_account *next = a->next;
        account_free_all(a);
        a = next;
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
    free(ts);
}

void test_store_fault(test_store *ts, int fault, unsigned ops) {
    store_priv *p = ts->priv;
    pthread_mutex_lock(&p->mu);
    ts->fault = fault;
    ts->fault_ops = ops;
    ts->last_cb_rc = TOTO_RESULT_OK;
    pthread_mutex_unlock(&p->mu);
}

void test_store_put(test_store *ts, const char *user, const char *name, const uint8_t *cbor,
                    size_t cbor_len) {
    store_priv *p = ts->priv;
    pthread_mutex_lock(&p->mu);
    store_account *a = *store_find(p, user, strlen(user));
    if (!a) {
        a = account_add(p, user, strlen(user));
    }
    prop_put(a, name, strlen(name), cbor, cbor_len);
    pthread_mutex_unlock(&p->mu);
}

bool test_store_get(test_store *ts, const char *user, const char *name, uint8_t *buf,
                    size_t cap, size_t *len) {
    store_priv *p = ts->priv;
    bool found = false;
    pthread_mutex_lock(&p->mu);
    store_account *a = *store_find(p, user, strlen(user));
    store_prop *q = a ? prop_find(a, name, strlen(name)) : NULL;
    if (q) {
        found = true;
        *len = q->value_len;
        memcpy(buf, q->value, q->value_len < cap ? q->value_len : cap);
    }
    pthread_mutex_unlock(&p->mu);
    return found;
}

size_t test_store_count(test_store *ts) {
    store_priv *p = ts->priv;
    size_t n = 0;
    pthread_mutex_lock(&p->mu);
    for (store_account *a = p->head; a; a = a->next) n++;
    pthread_mutex_unlock(&p->mu);
    return n;
}
