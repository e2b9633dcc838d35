/*
 * sqlite_store.c: a toto-session account store on a SQLite database file.
 * See sqlite_store.h for the contract; the shape of every callback is:
 *
 *   lock -> BEGIN -> statements -> COMMIT -> unlock
 *
 * and on any SQLite error: capture the message, ROLLBACK, hand the message to the
 * library with toto_callback_set_error, return a failure code. Values are the CBOR
 * blobs the library passes, stored and handed back unchanged.
 */
#define _POSIX_C_SOURCE 200809L

#include "sqlite_store.h"

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* How long a statement waits for another process's lock before giving up. */
#define BUSY_TIMEOUT_MS 5000

static const char SCHEMA[] =
    "PRAGMA foreign_keys = ON;"
    "CREATE TABLE IF NOT EXISTS accounts("
    "  user_id    TEXT PRIMARY KEY NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"
    ");"
    "CREATE TABLE IF NOT EXISTS properties("
    "  user_id TEXT NOT NULL REFERENCES accounts(user_id) ON DELETE CASCADE,"
    "  name    TEXT NOT NULL,"
    "  value   BLOB NOT NULL," /* one CBOR item, as the library passes it */
    "  PRIMARY KEY(user_id, name)"
    ") WITHOUT ROWID;";

/* The store's user_data: one connection, used under one mutex. */
typedef struct sqlite_store {
  sqlite3 *db;
  /* Callbacks may run on several threads at once. SQLITE_OPEN_FULLMUTEX protects the
   * connection itself; this mutex makes each callback's BEGIN..COMMIT one unit, so two
   * threads never interleave statements inside one transaction. */
  pthread_mutex_t lock;
  FILE *trace; /* NULL: silent */
} sqlite_store;

/* What one callback is working with: where its errors go. */
typedef struct call {
  sqlite3 *db;
  toto_callback_ctx *ctx;
} call;

/* ---- error handling ------------------------------------------------------------- */

/* Reports the connection's last error and undoes the callback's work: the message is
 * captured first (later calls overwrite it), then `stmt` (may be NULL) is finalized,
 * the open transaction rolled back, and the message handed to the library. Returns
 * the code for the callback to return. */
static uint32_t fail(call *c, sqlite3_stmt *stmt, const char *doing) {
  int code = sqlite3_errcode(c->db);
  char msg[512];
  int n = snprintf(msg, sizeof msg, "sqlite %s: %s", doing, sqlite3_errmsg(c->db));
  size_t len = n < 0 ? 0 : ((size_t)n >= sizeof msg ? sizeof msg - 1 : (size_t)n);
  sqlite3_finalize(stmt);
  if (!sqlite3_get_autocommit(c->db)) {
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
  }
  toto_callback_set_error(c->ctx, msg, len);
  /* Locked by another process for longer than the busy timeout: "try again later". */
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
    return TOTO_RESULT_BACKEND_UNAVAILABLE;
  }
  return TOTO_RESULT_BACKEND_FAILED;
}

/* Ends the transaction without an error to report (e.g. NOT_FOUND) and returns `rc`. */
static uint32_t rollback(call *c, sqlite3_stmt *stmt, uint32_t rc) {
  sqlite3_finalize(stmt);
  sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* ---- small statement helpers (all return a toto_result; on failure `fail` ran) ---- */

static uint32_t exec(call *c, const char *sql) {
  if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
    return fail(c, NULL, sql);
  }
  return TOTO_RESULT_OK;
}

static uint32_t prepare(call *c, const char *sql, sqlite3_stmt **out) {
  if (sqlite3_prepare_v2(c->db, sql, -1, out, NULL) != SQLITE_OK) {
    return fail(c, NULL, "prepare");
  }
  return TOTO_RESULT_OK;
}

/* Binds text given as pointer + length (the library's strings are not NUL-terminated;
 * the pointer stays valid for the whole callback, hence SQLITE_STATIC). */
static int bind_text(sqlite3_stmt *s, int i, const char *p, size_t n) {
  if (n > INT_MAX) {
    return SQLITE_TOOBIG;
  }
  return sqlite3_bind_text(s, i, n == 0 ? "" : p, (int)n, SQLITE_STATIC);
}

static int bind_blob(sqlite3_stmt *s, int i, const uint8_t *p, size_t n) {
  if (n > INT_MAX) {
    return SQLITE_TOOBIG;
  }
  if (n == 0) {
    return sqlite3_bind_zeroblob(s, i, 0); /* a NULL pointer would bind SQL NULL */
  }
  return sqlite3_bind_blob(s, i, p, (int)n, SQLITE_STATIC);
}

static uint32_t account_exists(call *c, const char *uid, size_t uid_len, bool *out) {
  sqlite3_stmt *s = NULL;
  uint32_t rc = prepare(c, "SELECT 1 FROM accounts WHERE user_id = ?1", &s);
  if (rc != TOTO_RESULT_OK) {
    return rc;
  }
  if (bind_text(s, 1, uid, uid_len) != SQLITE_OK) {
    return fail(c, s, "bind user id");
  }
  int step = sqlite3_step(s);
  if (step != SQLITE_ROW && step != SQLITE_DONE) {
    return fail(c, s, "select account");
  }
  *out = step == SQLITE_ROW;
  sqlite3_finalize(s);
  return TOTO_RESULT_OK;
}

/* Inserts or replaces each property of `uid` (inside the caller's transaction). */
static uint32_t write_properties(call *c, const char *uid, size_t uid_len,
                                 const toto_property *props, size_t count) {
  sqlite3_stmt *s = NULL;
  uint32_t rc = prepare(c,
                        "INSERT OR REPLACE INTO properties(user_id, name, value) "
                        "VALUES (?1, ?2, ?3)",
                        &s);
  if (rc != TOTO_RESULT_OK) {
    return rc;
  }
  for (size_t i = 0; i < count; i++) {
    if (bind_text(s, 1, uid, uid_len) != SQLITE_OK ||
        bind_text(s, 2, props[i].name, props[i].name_len) != SQLITE_OK ||
        bind_blob(s, 3, props[i].value, props[i].value_len) != SQLITE_OK) {
      return fail(c, s, "bind property");
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
      return fail(c, s, "write property");
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  sqlite3_finalize(s);
  return TOTO_RESULT_OK;
}

/* Hands the current row's (name, value) to the library. */
static uint32_t add_row(call *c, sqlite3_stmt *s, const char *name, size_t name_len,
                        int value_col) {
  const void *value = sqlite3_column_blob(s, value_col); /* blob first, then bytes */
  int value_len = sqlite3_column_bytes(s, value_col);
  return toto_callback_add_property(c->ctx, name, name_len, value, (size_t)value_len);
}

/* ---- the callbacks, without the lock -------------------------------------------- */

static uint32_t load_locked(call *c, const char *uid, size_t uid_len, const toto_str *names,
                            size_t names_count, size_t *found) {
  /* One read transaction: every property comes from the same snapshot. */
  uint32_t rc = exec(c, "BEGIN");
  bool exists = false;
  if (rc == TOTO_RESULT_OK) {
    rc = account_exists(c, uid, uid_len, &exists);
  }
  if (rc != TOTO_RESULT_OK) {
    return rc;
  }
  if (!exists) {
    return rollback(c, NULL, TOTO_RESULT_NOT_FOUND);
  }

  sqlite3_stmt *s = NULL;
  if (names == NULL) {
    /* Every property of the account. */
    rc = prepare(c, "SELECT name, value FROM properties WHERE user_id = ?1 ORDER BY name",
                 &s);
    if (rc != TOTO_RESULT_OK) {
      return rc;
    }
    if (bind_text(s, 1, uid, uid_len) != SQLITE_OK) {
      return fail(c, s, "bind user id");
    }
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
      const char *name = (const char *)sqlite3_column_text(s, 0);
      size_t name_len = (size_t)sqlite3_column_bytes(s, 0);
      rc = add_row(c, s, name, name_len, 1);
      if (rc != TOTO_RESULT_OK) {
        return rollback(c, s, rc); /* the library recorded why */
      }
      (*found)++;
    }
    if (step != SQLITE_DONE) {
      return fail(c, s, "select properties");
    }
  } else {
    /* Only the names asked for; absent ones are left out. */
    rc = prepare(c, "SELECT value FROM properties WHERE user_id = ?1 AND name = ?2", &s);
    if (rc != TOTO_RESULT_OK) {
      return rc;
    }
    for (size_t i = 0; i < names_count; i++) {
      if (bind_text(s, 1, uid, uid_len) != SQLITE_OK ||
          bind_text(s, 2, names[i].ptr, names[i].len) != SQLITE_OK) {
        return fail(c, s, "bind property name");
      }
      int step = sqlite3_step(s);
      if (step == SQLITE_ROW) {
        rc = add_row(c, s, names[i].ptr, names[i].len, 0);
        if (rc != TOTO_RESULT_OK) {
          return rollback(c, s, rc);
        }
        (*found)++;
      } else if (step != SQLITE_DONE) {
        return fail(c, s, "select property");
      }
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
  }
  sqlite3_finalize(s);
  return exec(c, "COMMIT");
}

static uint32_t save_locked(call *c, const char *uid, size_t uid_len,
                            const toto_property *props, size_t count) {
  /* IMMEDIATE: take the write lock now, so the existence check and the writes see the
   * same database. */
  uint32_t rc = exec(c, "BEGIN IMMEDIATE");
  bool exists = false;
  if (rc == TOTO_RESULT_OK) {
    rc = account_exists(c, uid, uid_len, &exists);
  }
  if (rc != TOTO_RESULT_OK) {
    return rc;
  }
  if (!exists) {
    return rollback(c, NULL, TOTO_RESULT_NOT_FOUND);
  }
  rc = write_properties(c, uid, uid_len, props, count);
  if (rc != TOTO_RESULT_OK) {
    return rc; /* rolled back: none of the properties was written */
  }
  return exec(c, "COMMIT");
}

static uint32_t create_locked(call *c, const char *uid, size_t uid_len,
                              const toto_property *props, size_t count) {
  uint32_t rc = exec(c, "BEGIN IMMEDIATE");
  sqlite3_stmt *s = NULL;
  if (rc == TOTO_RESULT_OK) {
    rc = prepare(c, "INSERT INTO accounts(user_id) VALUES (?1)", &s);
  }
  if (rc != TOTO_RESULT_OK) {
    return rc;
  }
  if (bind_text(s, 1, uid, uid_len) != SQLITE_OK) {
    return fail(c, s, "bind user id");
  }
  if (sqlite3_step(s) != SQLITE_DONE) {
    if (sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return rollback(c, s, TOTO_RESULT_USER_ID_EXISTS);
    }
    return fail(c, s, "insert account");
  }
  sqlite3_finalize(s);
  rc = write_properties(c, uid, uid_len, props, count);
  if (rc != TOTO_RESULT_OK) {
    return rc; /* rolled back: the account row is gone too */
  }
  return exec(c, "COMMIT");
}

static uint32_t remove_locked(call *c, const char *uid, size_t uid_len) {
  static const char *const sql[] = {
      "DELETE FROM properties WHERE user_id = ?1",
      "DELETE FROM accounts WHERE user_id = ?1",
  };
  uint32_t rc = exec(c, "BEGIN IMMEDIATE");
  if (rc != TOTO_RESULT_OK) {
    return rc;
  }
  for (size_t i = 0; i < 2; i++) {
    sqlite3_stmt *s = NULL;
    rc = prepare(c, sql[i], &s);
    if (rc != TOTO_RESULT_OK) {
      return rc;
    }
    if (bind_text(s, 1, uid, uid_len) != SQLITE_OK) {
      return fail(c, s, "bind user id");
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
      return fail(c, s, "delete");
    }
    sqlite3_finalize(s);
  }
  if (sqlite3_changes(c->db) == 0) { /* no account row was deleted */
    return rollback(c, NULL, TOTO_RESULT_NOT_FOUND);
  }
  return exec(c, "COMMIT");
}

/* ---- tracing (names and outcomes only, never values) ------------------------------ */

static void trace_begin(FILE *t, const char *op, const char *uid, size_t uid_len) {
  fprintf(t, "    [sqlite] %-6s %.*s", op, (int)uid_len, uid);
}

static void trace_end(FILE *t, uint32_t rc, const char *ok) {
  const char *what = ok;
  if (rc == TOTO_RESULT_NOT_FOUND) {
    what = "no such account";
  } else if (rc == TOTO_RESULT_USER_ID_EXISTS) {
    what = "account exists, nothing written";
  } else if (rc != TOTO_RESULT_OK) {
    what = "failed, rolled back";
  }
  fprintf(t, " -> %s\n", what);
  fflush(t);
}

static void trace_property_names(FILE *t, const toto_property *props, size_t count) {
  fputs(" {", t);
  for (size_t i = 0; i < count; i++) {
    fprintf(t, "%s%.*s", i ? ", " : "", (int)props[i].name_len, props[i].name);
  }
  fputs("}", t);
}

/* ---- the vtable ------------------------------------------------------------------- */

static uint32_t store_load(void *user_data, const char *uid, size_t uid_len,
                           const toto_str *names, size_t names_count, toto_callback_ctx *ctx) {
  sqlite_store *st = user_data;
  call c = {st->db, ctx};
  size_t found = 0;
  pthread_mutex_lock(&st->lock);
  uint32_t rc = load_locked(&c, uid, uid_len, names, names_count, &found);
  if (st->trace) {
    trace_begin(st->trace, "load", uid, uid_len);
    if (names == NULL) {
      fputs(" {all}", st->trace);
    } else {
      fputs(" {", st->trace);
      for (size_t i = 0; i < names_count; i++) {
        fprintf(st->trace, "%s%.*s", i ? ", " : "", (int)names[i].len, names[i].ptr);
      }
      fputs("}", st->trace);
    }
    char ok[32];
    snprintf(ok, sizeof ok, "%zu found", found);
    trace_end(st->trace, rc, ok);
  }
  pthread_mutex_unlock(&st->lock);
  return rc;
}

static uint32_t store_save(void *user_data, const char *uid, size_t uid_len,
                           const toto_property *props, size_t count, toto_callback_ctx *ctx) {
  sqlite_store *st = user_data;
  call c = {st->db, ctx};
  pthread_mutex_lock(&st->lock);
  uint32_t rc = save_locked(&c, uid, uid_len, props, count);
  if (st->trace) {
    trace_begin(st->trace, "save", uid, uid_len);
    trace_property_names(st->trace, props, count);
    trace_end(st->trace, rc, "committed");
  }
  pthread_mutex_unlock(&st->lock);
  return rc;
}

static uint32_t store_create(void *user_data, const char *uid, size_t uid_len,
                             const toto_property *props, size_t count, toto_callback_ctx *ctx) {
  sqlite_store *st = user_data;
  call c = {st->db, ctx};
  pthread_mutex_lock(&st->lock);
  uint32_t rc = create_locked(&c, uid, uid_len, props, count);
  if (st->trace) {
    trace_begin(st->trace, "create", uid, uid_len);
    trace_property_names(st->trace, props, count);
    trace_end(st->trace, rc, "committed");
  }
  pthread_mutex_unlock(&st->lock);
  return rc;
}

static uint32_t store_remove(void *user_data, const char *uid, size_t uid_len,
                             toto_callback_ctx *ctx) {
  sqlite_store *st = user_data;
  call c = {st->db, ctx};
  pthread_mutex_lock(&st->lock);
  uint32_t rc = remove_locked(&c, uid, uid_len);
  if (st->trace) {
    trace_begin(st->trace, "remove", uid, uid_len);
    trace_end(st->trace, rc, "committed");
  }
  pthread_mutex_unlock(&st->lock);
  return rc;
}

/* Called once by the library when the last reference to the store goes. */
static void store_free(void *user_data) {
  sqlite_store *st = user_data;
  sqlite3_close(st->db); /* every statement is finalized inside its callback */
  pthread_mutex_destroy(&st->lock);
  free(st);
}

/* ---- opening ---------------------------------------------------------------------- */

static toto_result report(toto_error *error, toto_result code, const char *message) {
  if (error != NULL) {
    error->code = code;
    snprintf(error->message, sizeof error->message, "%s", message);
  }
  return code;
}

toto_result sqlite_store_open(const char *path, FILE *trace, toto_account_store **out,
                              toto_error *error) {
  if (path == NULL || out == NULL) {
    return report(error, TOTO_RESULT_NULL_ARGUMENT, "sqlite_store_open: path and out are required");
  }
  sqlite_store *st = calloc(1, sizeof *st);
  if (st == NULL) {
    return report(error, TOTO_RESULT_BACKEND_FAILED, "sqlite_store_open: out of memory");
  }
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  int rc = sqlite3_open_v2(path, &st->db, flags, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
  }
  if (rc == SQLITE_OK) {
    rc = sqlite3_exec(st->db, SCHEMA, NULL, NULL, NULL); /* tables on first run */
  }
  if (rc != SQLITE_OK) {
    char msg[TOTO_ERROR_MESSAGE_CAPACITY];
    snprintf(msg, sizeof msg, "sqlite open %s: %s", path,
             st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
    sqlite3_close(st->db); /* NULL is fine */
    free(st);
    return report(error, TOTO_RESULT_BACKEND_FAILED, msg);
  }
  if (pthread_mutex_init(&st->lock, NULL) != 0) {
    sqlite3_close(st->db);
    free(st);
    return report(error, TOTO_RESULT_BACKEND_FAILED, "sqlite_store_open: mutex");
  }
  st->trace = trace;

  toto_account_store_vtable vt = {
      .version = TOTO_ACCOUNT_STORE_VTABLE_VERSION,
      .user_data = st,
      .load = store_load,
      .save = store_save,
      .create = store_create,
      .remove = store_remove,
      .free_user_data = store_free,
  };
  toto_result r = toto_account_store_new_vtable(&vt, out);
  if (r != TOTO_RESULT_OK) {
    store_free(st); /* the library took nothing */
    return report(error, r, "toto_account_store_new_vtable failed");
  }
  return TOTO_RESULT_OK;
}
