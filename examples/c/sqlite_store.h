/*
 * sqlite_store.h: a toto-session account store on a SQLite database file, written
 * through toto_account_store_vtable. A reusable example: copy it, or adapt it to
 * another SQL database.
 *
 * Schema (created on first use; see sqlite_store.c):
 *
 *   accounts(user_id TEXT PRIMARY KEY, created_at TEXT)
 *   properties(user_id TEXT, name TEXT, value BLOB, PRIMARY KEY(user_id, name))
 *
 * Each property value is stored as the opaque CBOR blob the library passes (one CBOR
 * item); the password hash is the property "password", written by the manager.
 *
 * Behaviour, as toto_account_store_vtable asks:
 * - load: the named properties (all of them when names is NULL), each handed to
 *   toto_callback_add_property; absent ones are left out; TOTO_RESULT_NOT_FOUND when
 *   the account does not exist.
 * - save and create run in one transaction each: all or nothing. On a database error
 *   the transaction is rolled back and SQLite's message reaches the caller through
 *   toto_error.message. create returns TOTO_RESULT_USER_ID_EXISTS for an existing
 *   account; save and remove return TOTO_RESULT_NOT_FOUND for a missing one.
 * - A database that stays locked by another process (busy for longer than 5 s) is
 *   reported as TOTO_RESULT_BACKEND_UNAVAILABLE; other errors as
 *   TOTO_RESULT_BACKEND_FAILED.
 * - Thread safety: callbacks may run on several threads at once; one mutex serialises
 *   them (each callback is one transaction on the single connection).
 * - The database is closed when the library releases the store (free_user_data), i.e.
 *   after toto_account_store_free and the release of every manager and account using it.
 *
 * Link with -lsqlite3 (and -pthread).
 */
#ifndef TOTO_EXAMPLE_SQLITE_STORE_H
#define TOTO_EXAMPLE_SQLITE_STORE_H

#include <stdio.h>

#include <toto_session.h>

/*
 * Opens (creating when missing) the SQLite database at `path`, creates the tables if
 * needed, and returns an account store on it in `*out` (release it with
 * toto_account_store_free).
 *
 * `trace`: NULL, or a stream on which every store operation is logged in one line
 * (user id, property names, outcome; never values). The demo uses it to show when
 * the library reaches the database.
 *
 * Errors: TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_BACKEND_FAILED (the database could not
 * be opened or its tables created), or what toto_account_store_new_vtable returns.
 * `error` (may be NULL) gets the code and a message; nothing is left open on failure.
 */
toto_result sqlite_store_open(const char *path, FILE *trace, toto_account_store **out,
                              toto_error *error);

#endif /* TOTO_EXAMPLE_SQLITE_STORE_H */
