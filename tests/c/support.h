/*
 * support.h: the C test suite's tiny harness and its C-implemented backends.
 *
 * Harness: CHECK / CHECK_RC record a failure (file:line, the expression, and for
 * result codes the library's toto_result_message) in the running test; RUN prints
 * "ok - name" or "not ok - name"; finish() prints "N passed, N failed" and gives the
 * process exit code (0 only when nothing failed).
 *
 * Backends: test_cache (a toto_cache_vtable) and test_store (a
 * toto_account_store_vtable), both mutex-protected, with fault-injection knobs and a
 * counter of free_user_data calls.
 */
#ifndef TOTO_TEST_SUPPORT_H
#define TOTO_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <toto_session.h>

/* ---- harness ---------------------------------------------------------------- */

bool check_impl(bool ok, const char *expr, const char *file, int line);
bool check_rc_impl(uint32_t got, uint32_t want, const char *expr, const char *file,
                   int line);
bool check_mem_impl(const void *got, size_t got_len, const void *want, size_t want_len,
                    const char *expr, const char *file, int line);
bool check_err_impl(const toto_error *err, uint32_t want, const char *file, int line);

/* Records a failure unless `cond` holds; evaluates to whether it held. */
#define CHECK(cond) check_impl((cond) ? true : false, #cond, __FILE__, __LINE__)
/* Evaluates `call` once; records a failure unless it returned `expected`. */
#define CHECK_RC(call, expected) \
    check_rc_impl((uint32_t)(call), (uint32_t)(expected), #call, __FILE__, __LINE__)
/* `ptr`/`len` hold exactly the bytes of the C string `lit`. */
#define CHECK_STR(ptr, len, lit) \
    check_mem_impl((ptr), (len), (lit), strlen(lit), #ptr " == " #lit, __FILE__, __LINE__)
/* `ptr`/`len` hold exactly `want`/`want_len`. */
#define CHECK_MEM(ptr, len, want, want_len) \
    check_mem_impl((ptr), (len), (want), (want_len), #ptr, __FILE__, __LINE__)
/* A toto_error was filled in for code `expected` with a non-empty, NUL-terminated,
 * valid UTF-8 message. */
#define CHECK_ERR(err, expected) check_err_impl(&(err), (uint32_t)(expected), __FILE__, __LINE__)

void run_test(const char *name, void (*fn)(void));
void run_test_with(const char *name, void (*fn)(void *), void *arg, const char *arg_name);
#define RUN(fn) run_test(#fn, (fn))
#define RUN_WITH(fn, arg, arg_name) run_test_with(#fn, (fn), (arg), (arg_name))
int finish(void);

/* A string literal (or any C string) as pointer + length. */
#define STR(s) (s), strlen(s)
/* A C string as bytes: pointer + length. */
#define BYTES(s) (const uint8_t *)(s), strlen(s)

/* ---- helpers ------------------------------------------------------------------ */

/* Wall clock, Unix seconds. */
double now_seconds(void);
/* Decodes hex into a new malloc'd buffer; *len gets its length. */
uint8_t *hex_decode(const char *hex, size_t *len);
/* A malloc'd buffer of `n` copies of `c` plus a NUL. */
char *repeat_char(char c, size_t n);
/* A malloc'd buffer of `count` copies of `unit` (NUL-terminated). */
char *repeat_str(const char *unit, size_t count);
/* Strict UTF-8 validation. */
bool utf8_valid(const char *s, size_t len);
/* `hay` (with length) contains the C string `needle`. */
bool mem_contains(const void *hay, size_t hay_len, const char *needle);
/* A fresh session for `user` expiring in an hour (NULL and a recorded failure on error). */
toto_session *new_session(const char *user);
/* A session with a given id. */
toto_session *new_session_with_id(const char *id, const char *user, double expires);
/* The session's id copied into `buf` (NUL-terminated); false on error. */
bool session_id_copy(const toto_session *s, char *buf, size_t cap);

/* ---- fault injection ------------------------------------------------------------ */

enum test_fault {
    FAULT_NONE = 0,
    /* Return `fault_code` (default TOTO_RESULT_BACKEND_FAILED) after
     * toto_callback_set_error(fault_message). */
    FAULT_FAIL,
    /* Return `fault_code` without a message. */
    FAULT_RETURN_CODE,
    /* Return 77, a code the library does not know. */
    FAULT_UNKNOWN_CODE,
    /* cache load: hand back bytes that are not a record. account load: a property
     * whose value is not CBOR. */
    FAULT_GARBAGE,
    /* cache load: a record of TOTO_MAX_RECORD_LEN + 1 bytes. account load: a property
     * value of that size. */
    FAULT_HUGE,
    /* cache load/store: call toto_callback_set_result twice. */
    FAULT_SET_TWICE,
    /* Call toto_callback_set_result where no result is taken: cache remove and
     * remove_user, and any account store operation the fault is set for. */
    FAULT_RESULT_ON_REMOVE,
    /* cache store: hand back the invalid new id "bad id". */
    FAULT_BAD_NEW_ID,
    /* cache store: store under `rename_to` and hand it back as the new id. */
    FAULT_RENAME,
    /* cache load: return TOTO_RESULT_OK without handing back a record. */
    FAULT_OK_WITHOUT_RESULT,
    /* account load: a property whose name is not UTF-8. */
    FAULT_BAD_NAME,
    /* account save/create/remove: call toto_callback_add_property. */
    FAULT_PROPERTY_OUTSIDE_LOAD,
};

/* Which operations a fault applies to (bit mask). */
enum test_op {
    OP_STORE = 1,       /* cache store */
    OP_LOAD = 2,        /* cache load, account load */
    OP_REMOVE = 4,      /* cache remove, account remove */
    OP_REMOVE_USER = 8, /* cache remove_user */
    OP_SAVE = 16,       /* account save */
    OP_CREATE = 32,     /* account create */
    OP_LOAD_RENEW = 64, /* cache load_renew (faults set for OP_LOAD apply to it too) */
    OP_ALL = 127,
};

/* A hook runs first in every callback; returning HOOK_CONTINUE lets the callback go
 * on, anything else is returned as the callback's result. */
#define HOOK_CONTINUE 0xffffffffu
typedef uint32_t (*test_hook)(void *hook_arg, unsigned op, toto_callback_ctx *ctx);

/* ---- the C session cache ---------------------------------------------------------- */

typedef struct test_cache test_cache;
struct test_cache {
    void *priv;            /* entries and the mutex */
    int *free_count;       /* incremented by free_user_data (may be NULL) */
    /* fault knobs */
    int fault;             /* enum test_fault */
    unsigned fault_ops;    /* enum test_op mask */
    uint32_t fault_code;   /* for FAULT_FAIL / FAULT_RETURN_CODE; 0 = BACKEND_FAILED */
    const char *fault_message;
    char rename_to[TOTO_MAX_SESSION_ID_LEN + 1];
    test_hook hook;
    void *hook_arg;
    bool with_load_renew;  /* test_cache_vtable() includes the optional load_renew */
    /* observations */
    unsigned stores, loads, removes, remove_users, load_renews;
    double last_renew_user_to, last_renew_anonymous_to;
    bool v1_trap_called;   /* see test_cache_vtable_v1 */
    uint32_t last_cb_rc;   /* what the last toto_callback_* call made by a fault gave */
    uint32_t last_flags;   /* flags of the last store */
    double last_expires;   /* expiry of the last store */
    char last_user[TOTO_MAX_USER_ID_LEN * 4 + 1]; /* user id of the last store */
};

/* A new, empty cache user_data. */
test_cache *test_cache_new(int *free_count);
/* The full vtable over `tc` (store, load, remove, remove_user, free_user_data, and
 * load_renew when tc->with_load_renew). */
toto_cache_vtable test_cache_vtable(test_cache *tc);
/* The same, declared as version 1; its load_renew field holds a trap that records a
 * call in tc->v1_trap_called (a version-1 vtable must never have it read). */
toto_cache_vtable test_cache_vtable_v1(test_cache *tc);
/* The expiry the cache holds for `id` (NAN when absent). */
double test_cache_expiry(test_cache *tc, const char *id);
/* toto_cache_new_vtable over test_cache_vtable(tc); NULL (and a recorded failure) on
 * error. On success the cache owns `tc`. */
toto_cache *test_cache_make(test_cache *tc);
/* Frees `tc` directly (only when no cache owns it). */
void test_cache_destroy(test_cache *tc);
/* Live and expired entries held. */
size_t test_cache_count(test_cache *tc);
/* Sets a fault (FAULT_NONE clears it). */
void test_cache_fault(test_cache *tc, int fault, unsigned ops);

/* ---- the C account store ----------------------------------------------------------- */

typedef struct test_store test_store;
struct test_store {
    void *priv;
    int *free_count;
    int fault;
    unsigned fault_ops;
    uint32_t fault_code;
    const char *fault_message;
    test_hook hook;
    void *hook_arg;
    unsigned loads, saves, creates, removes;
    uint32_t last_cb_rc;
    bool last_load_all;       /* the last load got names == NULL */
    size_t last_load_count;   /* names_count of the last load */
    char last_load_names[1024];  /* "a,b,c" of the last load */
    char last_save_names[1024];  /* "a,b" of the last save */
    char last_user[TOTO_MAX_USER_ID_LEN * 4 + 1];
};

test_store *test_store_new(int *free_count);
toto_account_store_vtable test_store_vtable(test_store *ts);
toto_account_store *test_store_make(test_store *ts);
void test_store_destroy(test_store *ts);
void test_store_fault(test_store *ts, int fault, unsigned ops);
/* Puts a property straight into the store (account created when missing). */
void test_store_put(test_store *ts, const char *user, const char *name, const uint8_t *cbor,
                    size_t cbor_len);
/* Copies a property's CBOR out of the store; false when absent. */
bool test_store_get(test_store *ts, const char *user, const char *name, uint8_t *buf,
                    size_t cap, size_t *len);
size_t test_store_count(test_store *ts);

#endif /* TOTO_TEST_SUPPORT_H */
