/* C-callable shims between the library's vtables and the Go callbacks (shims.c). */
#ifndef TOTO_GO_SHIMS_H
#define TOTO_GO_SHIMS_H

#include <stdint.h>
#include "toto_session.h"

/* A cache whose callbacks call the Go Cache behind the ref `handle` (refs.go). On
   success the cache owns the ref (deleted through free_user_data); on failure the
   caller does. */
toto_result toto_go_cache_new(uintptr_t handle, int with_remove_user, int with_load_renew,
                              int with_store_if, toto_cache **out);

/* An account store whose callbacks call the Go AccountStore behind `handle`. */
toto_result toto_go_account_store_new(uintptr_t handle, int with_remove,
                                      toto_account_store **out);

/* The built-in memory cache on the Go clock behind the ref `clock`. */
toto_result toto_go_cache_new_memory_with_clock(uintptr_t clock, toto_cache **out);

/* toto_manager_new with `options` copied and, when `clock` is not 0, the Go clock
   behind that ref installed. */
toto_result toto_go_manager_new(const toto_cache *cache, const toto_account_store *store,
                                const toto_manager_options *options, uintptr_t clock,
                                toto_manager **out, toto_error *error);

/* toto_cache_new_redis with `options` copied and the key prefix given apart (so that
   Go never passes a struct holding a pointer to Go memory). */
toto_result toto_go_cache_new_redis(const char *url, size_t url_len,
                                    const toto_redis_options *options, const char *prefix,
                                    size_t prefix_len, toto_cache **out, toto_error *error);

/* toto_account_store_new_redis, the key prefix given apart (as for the cache). */
toto_result toto_go_account_store_new_redis(const char *url, size_t url_len,
                                            const toto_redis_account_store_options *options,
                                            const char *prefix, size_t prefix_len,
                                            toto_account_store **out, toto_error *error);

/* A call that makes a session, answered by value: the handle, or on failure the code
   and the details copied to C memory (malloc'ed: the caller frees `err`). The error
   struct lives on the C stack and the handles cross as integers, so nothing of Go's
   escapes to the heap or goes through cgo's pointer check: the call allocates nothing
   in Go. */
typedef struct { toto_result rc; toto_session *s; toto_error *err; } toto_go_session_out;

/* A malloc'ed copy of a call's error details (NULL if out of memory): how a shim hands
   them back by value; the caller frees it. */
toto_error *toto_go_error_copy(const toto_error *e);

/* toto_manager_retrieve_session and toto_manager_verify_request answering by value.
   While they run, the Go cache callbacks they reach on this thread are told when the
   id they get is the caller's own (the Go string's bytes: see callbacks.go).
   `closed` is a session handle to free first (0: none), a closed Go Session's whose
   free was left to this call (session.go, closedSession). */
toto_go_session_out toto_go_manager_retrieve_session(uintptr_t closed, uintptr_t manager,
                                                     const char *id, size_t id_len);
toto_go_session_out toto_go_manager_verify_request(uintptr_t closed, uintptr_t manager,
                                                   const char *id, size_t id_len, const char *mac,
                                                   size_t mac_len, const char *method,
                                                   size_t method_len, const char *uri,
                                                   size_t uri_len, const uint8_t *body,
                                                   size_t body_len);

/* toto_manager_finish_response answering by value: the mac ("" for a keyless session),
   or, when it failed, the error details (a toto_go_error_copy; the caller frees it). */
typedef struct { toto_result rc; char mac[TOTO_MAC_BUFFER_LEN]; toto_error *err; } toto_go_finish_out;
toto_go_finish_out toto_go_manager_finish_response(uintptr_t manager, uintptr_t session,
                                                   const uint8_t *body, size_t body_len);

/* A Go cache's load hands its record back through this scratch buffer on the shim's C
   stack when the record fits: Go copies the bytes in (C memory: no cgo call) and reports
   the length, and the shim calls toto_callback_set_result itself, in C. A larger
   record takes the cgo call from Go (the nested Go -> C transition the scratch saves). */
#define TOTO_GO_LOAD_SCRATCH 4096
/* `len` when Go wrote nothing into the scratch (not found, an error, or a record it
   handed over itself). */
#define TOTO_GO_LOAD_NONE ((size_t)-1)

typedef struct {
    uint8_t *buf;    /* in: the scratch, `cap` bytes */
    size_t cap;
    size_t len;      /* out: bytes of record in `buf`, or TOTO_GO_LOAD_NONE */
    int has_expires; /* out (load_renew): call toto_callback_set_expires with `expires` */
    double expires;
} toto_go_load_out;

/* The toto_callback_* calls a Go callback makes, with the context as an integer: a
   toto_callback_ctx * argument (an incomplete type) would go through cgo's pointer
   check, which costs an allocation per call. */
toto_result toto_go_callback_set_result(uintptr_t ctx, const uint8_t *data, size_t len);
toto_result toto_go_callback_set_expires(uintptr_t ctx, double expires);
toto_result toto_go_callback_add_property(uintptr_t ctx, const char *name, size_t name_len,
                                          const uint8_t *value, size_t value_len);

#endif
