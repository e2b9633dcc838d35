// C-callable shims: the library calls these through its vtables and clock pointers;
// they pass the ref (user_data / clock_data: an integer, refs.go) on to the //export'ed
// Go functions in callbacks.go, which never see a void* they would have to convert.

#include <stdlib.h>
#include <string.h>

#include "shims.h"
#include "_cgo_export.h"

/* The session id (pointer and length) the Go caller handed to the library call running
   on this thread (toto_go_manager_*), or NULL. A callback whose id is this very memory
   is given the caller's id: Go then reuses the caller's string instead of copying the
   bytes into a new one (an allocation per callback). Saved and restored around each
   call, so a callback that calls the library again is handled. */
static __thread const char *call_id;
static __thread size_t call_id_len;

static int is_call_id(const char *id, size_t id_len) {
    return id != NULL && id == call_id && id_len == call_id_len;
}

static double shim_clock(void *data) { return totoGoClock((uintptr_t)data); }

static void shim_free_handle(void *user_data) { totoGoFreeHandle((uintptr_t)user_data); }

static uint32_t shim_cache_store(void *user_data, const char *id, size_t id_len,
                                 const char *user_id, size_t user_id_len, double expires,
                                 const uint8_t *record, size_t record_len, uint32_t flags,
                                 toto_callback_ctx *ctx) {
    return totoGoCacheStore((uintptr_t)user_data, (char *)id, id_len, is_call_id(id, id_len),
                            (char *)user_id, user_id_len, expires, (uint8_t *)record,
                            record_len, flags, ctx);
}

static uint32_t shim_cache_store_if(void *user_data, const char *id, size_t id_len,
                                    const char *user_id, size_t user_id_len, double expires,
                                    const uint8_t *record, size_t record_len, uint32_t flags,
                                    uint64_t expected_revision, uint64_t revision,
                                    toto_callback_ctx *ctx) {
    return totoGoCacheStoreIf((uintptr_t)user_data, (char *)id, id_len, is_call_id(id, id_len),
                              (char *)user_id, user_id_len, expires, (uint8_t *)record,
                              record_len, flags, expected_revision, revision, ctx);
}

/* After a Go load returned: hand over the record (and expiry) Go left in the scratch. */
static uint32_t finish_load(uint32_t rc, const toto_go_load_out *out, toto_callback_ctx *ctx) {
    if (rc != TOTO_RESULT_OK || out->len == TOTO_GO_LOAD_NONE) return rc;
    toto_result r = toto_callback_set_result(ctx, out->buf, out->len);
    if (r != TOTO_RESULT_OK) return (uint32_t)r;
    if (out->has_expires) return (uint32_t)toto_callback_set_expires(ctx, out->expires);
    return TOTO_RESULT_OK;
}

static uint32_t shim_cache_load(void *user_data, const char *id, size_t id_len,
                                toto_callback_ctx *ctx) {
    uint8_t buf[TOTO_GO_LOAD_SCRATCH];
    toto_go_load_out out = {buf, sizeof buf, TOTO_GO_LOAD_NONE, 0, 0};
    uint32_t rc = totoGoCacheLoad((uintptr_t)user_data, (char *)id, id_len,
                                  is_call_id(id, id_len), &out, ctx);
    return finish_load(rc, &out, ctx);
}

static uint32_t shim_cache_load_renew(void *user_data, const char *id, size_t id_len,
                                      double renew_user_to, double renew_anonymous_to,
                                      toto_callback_ctx *ctx) {
    uint8_t buf[TOTO_GO_LOAD_SCRATCH];
    toto_go_load_out out = {buf, sizeof buf, TOTO_GO_LOAD_NONE, 0, 0};
    uint32_t rc = totoGoCacheLoadRenew((uintptr_t)user_data, (char *)id, id_len,
                                       is_call_id(id, id_len), renew_user_to,
                                       renew_anonymous_to, &out, ctx);
    return finish_load(rc, &out, ctx);
}

static uint32_t shim_cache_remove(void *user_data, const char *id, size_t id_len,
                                  toto_callback_ctx *ctx) {
    return totoGoCacheRemove((uintptr_t)user_data, (char *)id, id_len, is_call_id(id, id_len),
                             ctx);
}

static uint32_t shim_cache_remove_user(void *user_data, const char *user_id,
                                       size_t user_id_len, uint64_t *removed,
                                       toto_callback_ctx *ctx) {
    return totoGoCacheRemoveUser((uintptr_t)user_data, (char *)user_id, user_id_len, removed,
                                 ctx);
}

static uint32_t shim_store_load(void *user_data, const char *user_id, size_t user_id_len,
                                const toto_str *names, size_t names_count,
                                toto_callback_ctx *ctx) {
    return totoGoStoreLoad((uintptr_t)user_data, (char *)user_id, user_id_len,
                           (toto_str *)names, names_count, ctx);
}

static uint32_t shim_store_save(void *user_data, const char *user_id, size_t user_id_len,
                                const toto_property *properties, size_t count,
                                toto_callback_ctx *ctx) {
    return totoGoStoreWrite((uintptr_t)user_data, 0, (char *)user_id, user_id_len,
                            (toto_property *)properties, count, ctx);
}

static uint32_t shim_store_create(void *user_data, const char *user_id, size_t user_id_len,
                                  const toto_property *properties, size_t count,
                                  toto_callback_ctx *ctx) {
    return totoGoStoreWrite((uintptr_t)user_data, 1, (char *)user_id, user_id_len,
                            (toto_property *)properties, count, ctx);
}

static uint32_t shim_store_remove(void *user_data, const char *user_id, size_t user_id_len,
                                  toto_callback_ctx *ctx) {
    return totoGoStoreRemove((uintptr_t)user_data, (char *)user_id, user_id_len, ctx);
}

toto_result toto_go_cache_new(uintptr_t handle, int with_remove_user, int with_load_renew,
                              int with_store_if, toto_cache **out) {
    toto_cache_vtable vt;
    memset(&vt, 0, sizeof vt);
    vt.version = TOTO_CACHE_VTABLE_VERSION;
    vt.user_data = (void *)handle;
    vt.store = shim_cache_store;
    vt.load = shim_cache_load;
    vt.remove = shim_cache_remove;
    vt.remove_user = with_remove_user ? shim_cache_remove_user : NULL;
    vt.free_user_data = shim_free_handle;
    vt.load_renew = with_load_renew ? shim_cache_load_renew : NULL;
    vt.store_if = with_store_if ? shim_cache_store_if : NULL;
    return toto_cache_new_vtable(&vt, out);
}

toto_result toto_go_account_store_new(uintptr_t handle, int with_remove,
                                      toto_account_store **out) {
    toto_account_store_vtable vt;
    memset(&vt, 0, sizeof vt);
    vt.version = TOTO_ACCOUNT_STORE_VTABLE_VERSION;
    vt.user_data = (void *)handle;
    vt.load = shim_store_load;
    vt.save = shim_store_save;
    vt.create = shim_store_create;
    vt.remove = with_remove ? shim_store_remove : NULL;
    vt.free_user_data = shim_free_handle;
    return toto_account_store_new_vtable(&vt, out);
}

toto_result toto_go_cache_new_memory_with_clock(uintptr_t clock, toto_cache **out) {
    return toto_cache_new_memory_with_clock(shim_clock, (void *)clock, out);
}

toto_result toto_go_manager_new(const toto_cache *cache, const toto_account_store *store,
                                const toto_manager_options *options, uintptr_t clock,
                                toto_manager **out, toto_error *error) {
    toto_manager_options o = *options;
    if (clock != 0) {
        o.clock = shim_clock;
        o.clock_data = (void *)clock;
    }
    return toto_manager_new(cache, store, &o, out, error);
}

toto_result toto_go_cache_new_redis(const char *url, size_t url_len,
                                    const toto_redis_options *options, const char *prefix,
                                    size_t prefix_len, toto_cache **out, toto_error *error) {
    toto_redis_options o = *options;
    o.key_prefix = prefix;
    o.key_prefix_len = prefix_len;
    return toto_cache_new_redis(url, url_len, &o, out, error);
}

toto_result toto_go_account_store_new_redis(const char *url, size_t url_len,
                                            const toto_redis_account_store_options *options,
                                            const char *prefix, size_t prefix_len,
                                            toto_account_store **out, toto_error *error) {
    toto_redis_account_store_options o = *options;
    o.key_prefix = prefix;
    o.key_prefix_len = prefix_len;
    return toto_account_store_new_redis(url, url_len, &o, out, error);
}

toto_result toto_go_callback_set_result(uintptr_t ctx, const uint8_t *data, size_t len) {
    return toto_callback_set_result((toto_callback_ctx *)ctx, data, len);
}

toto_result toto_go_callback_set_expires(uintptr_t ctx, double expires) {
    return toto_callback_set_expires((toto_callback_ctx *)ctx, expires);
}

toto_result toto_go_callback_add_property(uintptr_t ctx, const char *name, size_t name_len,
                                          const uint8_t *value, size_t value_len) {
    return toto_callback_add_property((toto_callback_ctx *)ctx, name, name_len, value, value_len);
}

toto_error *toto_go_error_copy(const toto_error *e) {
    toto_error *copy = malloc(sizeof *copy);
    if (copy != NULL) memcpy(copy, e, sizeof *e);
    return copy;
}

static toto_go_session_out session_out(toto_result rc, toto_session *s, const toto_error *e) {
    toto_go_session_out r = {rc, s, NULL};
    if (rc != TOTO_RESULT_OK) {
        r.s = NULL;
        r.err = toto_go_error_copy(e);
    }
    return r;
}

toto_go_finish_out toto_go_manager_finish_response(uintptr_t manager, uintptr_t session,
                                                   const uint8_t *body, size_t body_len) {
    toto_go_finish_out r;
    toto_error e;
    e.code = 0;
    r.mac[0] = 0;
    r.err = NULL;
    r.rc = toto_manager_finish_response((const toto_manager *)manager, (toto_session *)session, body,
                                        body_len, r.mac, TOTO_MAC_BUFFER_LEN, &e);
    if (r.rc != TOTO_RESULT_OK) r.err = toto_go_error_copy(&e);
    return r;
}

/* The caller's id while a retrieve runs (so the Go cache's callbacks can reuse the Go
 * string for it), and the session a Close parked to be freed in this call. */
typedef struct {
    const char *id;
    size_t id_len;
} call_scope;

static call_scope enter_call(uintptr_t closed, const char *id, size_t id_len) {
    if (closed != 0) toto_session_free((toto_session *)closed);
    call_scope saved = {call_id, call_id_len};
    call_id = id;
    call_id_len = id_len;
    return saved;
}

static void leave_call(call_scope saved) {
    call_id = saved.id;
    call_id_len = saved.id_len;
}

toto_go_session_out toto_go_manager_retrieve_session(uintptr_t closed, uintptr_t manager,
                                                     const char *id, size_t id_len) {
    call_scope saved = enter_call(closed, id, id_len);
    toto_session *s = NULL;
    toto_error e;
    e.code = 0;
    toto_result rc = toto_manager_retrieve_session((const toto_manager *)manager, id, id_len,
                                                   &s, &e);
    leave_call(saved);
    return session_out(rc, s, &e);
}

toto_go_session_out toto_go_manager_verify_request(uintptr_t closed, uintptr_t manager,
                                                   const char *id, size_t id_len, const char *mac,
                                                   size_t mac_len, const char *method,
                                                   size_t method_len, const char *uri,
                                                   size_t uri_len, const uint8_t *body,
                                                   size_t body_len) {
    call_scope saved = enter_call(closed, id, id_len);
    toto_session *s = NULL;
    toto_error e;
    e.code = 0;
    toto_result rc = toto_manager_verify_request((const toto_manager *)manager, id, id_len, mac,
                                                 mac_len, method, method_len, uri, uri_len, body,
                                                 body_len, &s, &e);
    leave_call(saved);
    return session_out(rc, s, &e);
}
