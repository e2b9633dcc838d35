/*
 * test_account.c: the built-in memory account store and the C vtable store
 * (support.c) through the same test functions: create / remove with Toto's codes,
 * account handles, lazy and bulk loading, typed properties, modified tracking, saves
 * that write only what changed and keep everything on failure, missing accounts,
 * store lifetime and vtable validation.
 */
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *name;
    bool vtable;
    test_store *ts;
    int freed;
} store_kind;

static toto_account_store *make_store(store_kind *k) {
    toto_account_store *s = NULL;
    k->freed = 0;
    k->ts = NULL;
    if (!k->vtable) {
        CHECK_RC(toto_account_store_new_memory(&s), TOTO_RESULT_OK);
        return s;
    }
    k->ts = test_store_new(&k->freed);
    s = test_store_make(k->ts);
    if (!s) test_store_destroy(k->ts);
    return s;
}

static void drop_store(store_kind *k, toto_account_store *s) {
    toto_account_store_free(s);
    if (k->vtable) CHECK(k->freed == 1);
    k->ts = NULL;
}

static toto_account *open_account(const toto_account_store *s, const char *user) {
    toto_account *a = NULL;
    if (!CHECK_RC(toto_account_new(s, STR(user), &a), TOTO_RESULT_OK)) return NULL;
    return a;
}

/* Creates `user` with email, age and a flag, through the public API. */
static bool seed(const toto_account_store *s, const char *user) {
    toto_error err = {0};
    if (!CHECK_RC(toto_account_store_create(s, STR(user), &err), TOTO_RESULT_OK)) return false;
    toto_account *a = open_account(s, user);
    if (!a) return false;
    CHECK_RC(toto_account_set_text(a, STR("email"), STR("a@example.com")), TOTO_RESULT_OK);
    CHECK_RC(toto_account_set_i64(a, STR("age"), 30), TOTO_RESULT_OK);
    CHECK_RC(toto_account_set_bool(a, STR("flag"), false), TOTO_RESULT_OK);
    bool ok = CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_OK);
    toto_account_free(a);
    return ok;
}

static void test_create_and_remove(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s) return;
    toto_error err = {0};
    CHECK_RC(toto_account_store_create(s, STR("Alice"), &err), TOTO_RESULT_OK);
    if (k->vtable) CHECK(strcmp(k->ts->last_user, "alice") == 0); /* lowercased */
    CHECK_RC(toto_account_store_create(s, STR("alice"), &err), TOTO_RESULT_USER_ID_EXISTS);
    CHECK_ERR(err, TOTO_RESULT_USER_ID_EXISTS);
    CHECK(strstr(err.message, "User ID already in use.") != NULL);
    CHECK_RC(toto_account_store_create(s, STR("ALICE"), &err), TOTO_RESULT_USER_ID_EXISTS);
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_account_store_create(s, STR(""), &err), TOTO_RESULT_INVALID_USER_ID);
    CHECK_ERR(err, TOTO_RESULT_INVALID_USER_ID);
    CHECK_RC(toto_account_store_create(s, NULL, 0, NULL), TOTO_RESULT_INVALID_USER_ID);
    CHECK_RC(toto_account_store_create(s, STR("bob"), NULL), TOTO_RESULT_OK);

    CHECK_RC(toto_account_store_remove(s, STR("ALICE"), &err), TOTO_RESULT_OK);
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_account_store_remove(s, STR("alice"), &err), TOTO_RESULT_INVALID_CREDENTIALS);
    CHECK_ERR(err, TOTO_RESULT_INVALID_CREDENTIALS);
    CHECK_RC(toto_account_store_remove(s, STR(""), &err), TOTO_RESULT_INVALID_USER_ID);
    CHECK_RC(toto_account_store_remove(s, STR("nobody"), NULL), TOTO_RESULT_INVALID_CREDENTIALS);
    /* A removed account can be created again, and is empty. */
    CHECK_RC(toto_account_store_create(s, STR("alice"), &err), TOTO_RESULT_OK);
    toto_account *a = open_account(s, "alice");
    if (a) {
        int64_t age = 0;
        CHECK_RC(toto_account_get_i64(a, STR("age"), &age, &err), TOTO_RESULT_NOT_FOUND);
        toto_account_free(a);
    }
    if (k->vtable) {
        CHECK(k->ts->creates == 5 && k->ts->removes == 3);
        CHECK(test_store_count(k->ts) == 2);
    }
    drop_store(k, s);
}

static void test_account_handle(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s) return;
    toto_account *a = open_account(s, "B\xc3\x96" "B"); /* "BÖB" */
    if (a) {
        const char *p = NULL;
        size_t l = 0;
        CHECK_RC(toto_account_user_id(a, &p, &l), TOTO_RESULT_OK);
        CHECK_STR(p, l, "b\xc3\xb6" "b");
        toto_account_free(a);
    }
    if (k->vtable) CHECK(k->ts->loads == 0); /* nothing loaded up front */
    toto_account *none = (toto_account *)&k;
    CHECK_RC(toto_account_new(s, STR(""), &none), TOTO_RESULT_INVALID_USER_ID);
    CHECK_RC(toto_account_new(s, NULL, 0, &none), TOTO_RESULT_INVALID_USER_ID);
    CHECK(none == (toto_account *)&k);
    toto_account_free(NULL);
    drop_store(k, s);
}

static void test_typed_properties_round_trip(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s) return;
    toto_error err = {0};
    CHECK_RC(toto_account_store_create(s, STR("carol"), &err), TOTO_RESULT_OK);
    toto_account *a = open_account(s, "carol");
    if (!a) {
        drop_store(k, s);
        return;
    }
    static const uint8_t raw[] = {0x00, 0xff};
    static const uint8_t cbor[] = {0x82, 0x01, 0xa1, 0x61, 'k', 0xf4}; /* [1, {"k": false}] */
    CHECK_RC(toto_account_set_null(a, STR("null")), TOTO_RESULT_OK);
    CHECK_RC(toto_account_set_bool(a, STR("false"), false), TOTO_RESULT_OK);
    CHECK_RC(toto_account_set_i64(a, STR("zero"), 0), TOTO_RESULT_OK);
    CHECK_RC(toto_account_set_i64(a, STR("min"), INT64_MIN), TOTO_RESULT_OK);
    CHECK_RC(toto_account_set_f64(a, STR("half"), 0.5), TOTO_RESULT_OK);
    CHECK_RC(toto_account_set_text(a, STR("empty"), STR("")), TOTO_RESULT_OK);
    CHECK_RC(toto_account_set_text(a, STR("name"), STR("Car\xc3\xb6l")), TOTO_RESULT_OK);
    CHECK_RC(toto_account_set_bytes(a, STR("raw"), raw, sizeof raw), TOTO_RESULT_OK);
    CHECK_RC(toto_account_set_cbor(a, STR("cbor"), cbor, sizeof cbor, &err), TOTO_RESULT_OK);
    CHECK_RC(toto_account_set_json(a, STR("json"), STR("{\"a\":[1,null]}"), &err),
             TOTO_RESULT_OK);
    /* Values read back before saving, from the handle. */
    int64_t i = 5;
    CHECK_RC(toto_account_get_i64(a, STR("zero"), &i, &err), TOTO_RESULT_OK);
    CHECK(i == 0);
    size_t modified = 0;
    CHECK_RC(toto_account_modified_count(a, &modified), TOTO_RESULT_OK);
    CHECK(modified == 10);
    CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_OK);
    toto_account_free(a);

    /* A fresh handle reads them from the store. */
    a = open_account(s, "carol");
    if (a) {
        toto_value_type t = 99;
        bool b = true;
        double f = 0;
        const char *p = NULL;
        const uint8_t *bp = NULL;
        size_t l = 0;
        toto_bytes out = {0};
        CHECK_RC(toto_account_get_type(a, STR("null"), &t, &err), TOTO_RESULT_OK);
        CHECK(t == TOTO_VALUE_TYPE_NULL);
        CHECK_RC(toto_account_get_bool(a, STR("false"), &b, &err), TOTO_RESULT_OK);
        CHECK(b == false);
        CHECK_RC(toto_account_get_i64(a, STR("zero"), &i, &err), TOTO_RESULT_OK);
        CHECK(i == 0);
        CHECK_RC(toto_account_get_i64(a, STR("min"), &i, &err), TOTO_RESULT_OK);
        CHECK(i == INT64_MIN);
        CHECK_RC(toto_account_get_f64(a, STR("half"), &f, &err), TOTO_RESULT_OK);
        CHECK(f == 0.5);
        CHECK_RC(toto_account_get_text(a, STR("empty"), &p, &l, &err), TOTO_RESULT_OK);
        CHECK(l == 0);
        CHECK_RC(toto_account_get_text(a, STR("name"), &p, &l, &err), TOTO_RESULT_OK);
        CHECK_STR(p, l, "Car\xc3\xb6l");
        CHECK_RC(toto_account_get_bytes(a, STR("raw"), &bp, &l, &err), TOTO_RESULT_OK);
        CHECK_MEM(bp, l, raw, sizeof raw);
        CHECK_RC(toto_account_get_cbor(a, STR("cbor"), &out, &err), TOTO_RESULT_OK);
        CHECK_MEM(out.data, out.len, cbor, sizeof cbor);
        toto_bytes_free(&out);
        CHECK_RC(toto_account_get_json(a, STR("cbor"), &out, &err), TOTO_RESULT_OK);
        CHECK_MEM(out.data, out.len, "[1,{\"k\":false}]", 15);
        toto_bytes_free(&out);
        CHECK_RC(toto_account_get_type(a, STR("json"), &t, &err), TOTO_RESULT_OK);
        CHECK(t == TOTO_VALUE_TYPE_MAP);
        CHECK_RC(toto_account_get_json(a, STR("json"), &out, &err), TOTO_RESULT_OK);
        CHECK_MEM(out.data, out.len, "{\"a\":[1,null]}", 14);
        toto_bytes_free(&out);
        /* Type mismatches and missing properties; outputs untouched. */
        i = 77;
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_account_get_i64(a, STR("name"), &i, &err), TOTO_RESULT_TYPE_MISMATCH);
        CHECK_ERR(err, TOTO_RESULT_TYPE_MISMATCH);
        CHECK(i == 77);
        CHECK_RC(toto_account_get_f64(a, STR("zero"), &f, &err), TOTO_RESULT_TYPE_MISMATCH);
        CHECK_RC(toto_account_get_bool(a, STR("null"), &b, &err), TOTO_RESULT_TYPE_MISMATCH);
        CHECK_RC(toto_account_get_text(a, STR("raw"), &p, &l, &err), TOTO_RESULT_TYPE_MISMATCH);
        CHECK_RC(toto_account_get_bytes(a, STR("name"), &bp, &l, &err),
                 TOTO_RESULT_TYPE_MISMATCH);
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_account_get_i64(a, STR("nope"), &i, &err), TOTO_RESULT_NOT_FOUND);
        CHECK_ERR(err, TOTO_RESULT_NOT_FOUND);
        CHECK_RC(toto_account_get_type(a, STR("nope"), &t, &err), TOTO_RESULT_NOT_FOUND);
        CHECK_RC(toto_account_get_cbor(a, STR("nope"), &out, &err), TOTO_RESULT_NOT_FOUND);
        CHECK_RC(toto_account_get_json(a, STR("nope"), &out, &err), TOTO_RESULT_NOT_FOUND);
        CHECK(i == 77 && out.data == NULL);
        toto_account_free(a);
    }
    if (k->vtable) {
        /* The store holds each value as one CBOR item. */
        uint8_t buf[32];
        size_t len = 0;
        CHECK(test_store_get(k->ts, "carol", "zero", buf, sizeof buf, &len));
        CHECK_MEM(buf, len, "\x00", 1);
        CHECK(test_store_get(k->ts, "carol", "name", buf, sizeof buf, &len));
        CHECK_MEM(buf, len, "\x66" "Car\xc3\xb6l", 7);
    }
    drop_store(k, s);
}

static void test_invalid_values_are_refused(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s) return;
    toto_account *a = open_account(s, "dave");
    if (a) {
        toto_error err = {0};
        CHECK_RC(toto_account_set_text(a, STR("t"), STR("\xff")), TOTO_RESULT_INVALID_UTF8);
        CHECK_RC(toto_account_set_cbor(a, STR("c"), (const uint8_t *)"\x82\x01", 2, &err),
                 TOTO_RESULT_INVALID_CBOR);
        CHECK_ERR(err, TOTO_RESULT_INVALID_CBOR);
        memset(&err, 0, sizeof err);
        CHECK_RC(toto_account_set_json(a, STR("j"), STR("{nope"), &err), TOTO_RESULT_INVALID_JSON);
        CHECK_ERR(err, TOTO_RESULT_INVALID_JSON);
        uint8_t *big = calloc(TOTO_MAX_RECORD_LEN + 1, 1);
        CHECK_RC(toto_account_set_bytes(a, STR("b"), big, TOTO_MAX_RECORD_LEN + 1),
                 TOTO_RESULT_TOO_LARGE);
        free(big);
        size_t modified = 9;
        CHECK_RC(toto_account_modified_count(a, &modified), TOTO_RESULT_OK);
        CHECK(modified == 0); /* nothing was set */
        toto_account_free(a);
    }
    drop_store(k, s);
}

static void test_lazy_loading(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s || !seed(s, "erin")) {
        if (s) drop_store(k, s);
        return;
    }
    toto_account *a = open_account(s, "ERIN");
    if (a) {
        unsigned base = k->vtable ? k->ts->loads : 0;
        toto_error err = {0};
        const char *p = NULL;
        size_t l = 0;
        CHECK_RC(toto_account_get_text(a, STR("email"), &p, &l, &err), TOTO_RESULT_OK);
        CHECK_STR(p, l, "a@example.com");
        if (k->vtable) {
            CHECK(k->ts->loads == base + 1);
            CHECK(!k->ts->last_load_all && strcmp(k->ts->last_load_names, "email") == 0);
            CHECK(strcmp(k->ts->last_user, "erin") == 0);
        }
        CHECK_RC(toto_account_get_text(a, STR("email"), &p, &l, &err), TOTO_RESULT_OK);
        int64_t i = 0;
        CHECK_RC(toto_account_get_i64(a, STR("nope"), &i, &err), TOTO_RESULT_NOT_FOUND);
        CHECK_RC(toto_account_get_i64(a, STR("nope"), &i, &err), TOTO_RESULT_NOT_FOUND);
        if (k->vtable) CHECK(k->ts->loads == base + 2); /* absence is remembered too */
        bool b = true;
        CHECK_RC(toto_account_get_bool(a, STR("flag"), &b, &err), TOTO_RESULT_OK);
        CHECK(!b);
        if (k->vtable) CHECK(k->ts->loads == base + 3);
        toto_account_free(a);
    }
    drop_store(k, s);
}

static void test_load_with_names(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s || !seed(s, "fred")) {
        if (s) drop_store(k, s);
        return;
    }
    toto_account *a = open_account(s, "fred");
    if (a) {
        toto_error err = {0};
        unsigned base = k->vtable ? k->ts->loads : 0;
        CHECK_RC(toto_account_set_i64(a, STR("age"), 31), TOTO_RESULT_OK);
        toto_str names[] = {{STR("nope")}, {STR("email")}, {STR("age")}, {STR("email")}};
        CHECK_RC(toto_account_load(a, names, 4, &err), TOTO_RESULT_OK);
        if (k->vtable) {
            CHECK(k->ts->loads == base + 1); /* one store call */
            /* Only names neither loaded nor modified, each once. */
            CHECK(k->ts->last_load_count == 2);
            CHECK(strcmp(k->ts->last_load_names, "email,nope") == 0 ||
                  strcmp(k->ts->last_load_names, "nope,email") == 0);
        }
        const char *p = NULL;
        size_t l = 0;
        int64_t i = 0;
        CHECK_RC(toto_account_get_text(a, STR("email"), &p, &l, &err), TOTO_RESULT_OK);
        CHECK_STR(p, l, "a@example.com");
        CHECK_RC(toto_account_get_i64(a, STR("age"), &i, &err), TOTO_RESULT_OK);
        CHECK(i == 31); /* the modified value wins */
        CHECK_RC(toto_account_get_i64(a, STR("nope"), &i, &err), TOTO_RESULT_NOT_FOUND);
        /* Nothing left to load: no store call. */
        CHECK_RC(toto_account_load(a, names, 4, &err), TOTO_RESULT_OK);
        CHECK_RC(toto_account_load(a, NULL, 0, &err), TOTO_RESULT_OK);
        if (k->vtable) CHECK(k->ts->loads == base + 1);
        toto_account_free(a);
    }
    drop_store(k, s);
}

static void test_load_all(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s || !seed(s, "gina")) {
        if (s) drop_store(k, s);
        return;
    }
    toto_account *a = open_account(s, "gina");
    if (a) {
        toto_error err = {0};
        CHECK_RC(toto_account_set_i64(a, STR("age"), 41), TOTO_RESULT_OK);
        unsigned base = k->vtable ? k->ts->loads : 0;
        CHECK_RC(toto_account_load_all(a, &err), TOTO_RESULT_OK);
        if (k->vtable) {
            CHECK(k->ts->loads == base + 1);
            CHECK(k->ts->last_load_all); /* names == NULL means all */
        }
        int64_t i = 0;
        bool b = true, modified = false;
        const char *p = NULL;
        size_t l = 0;
        CHECK_RC(toto_account_get_i64(a, STR("age"), &i, &err), TOTO_RESULT_OK);
        CHECK(i == 41); /* modified values keep their new value */
        CHECK_RC(toto_account_get_bool(a, STR("flag"), &b, &err), TOTO_RESULT_OK);
        CHECK(!b);
        CHECK_RC(toto_account_get_text(a, STR("email"), &p, &l, &err), TOTO_RESULT_OK);
        CHECK_STR(p, l, "a@example.com");
        if (k->vtable) CHECK(k->ts->loads == base + 1); /* everything came in one call */
        CHECK_RC(toto_account_is_modified(a, STR("age"), &modified), TOTO_RESULT_OK);
        CHECK(modified);
        CHECK_RC(toto_account_is_modified(a, STR("email"), &modified), TOTO_RESULT_OK);
        CHECK(!modified);
        toto_account_free(a);
    }
    drop_store(k, s);
}

/* A borrowed text view stays valid "until the property is set again or the account is
 * freed": reloading every property must not replace the value behind it. */
static void test_text_view_survives_load_all(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s || !seed(s, "hugo")) {
        if (s) drop_store(k, s);
        return;
    }
    toto_account *a = open_account(s, "hugo");
    if (a) {
        toto_error err = {0};
        const char *before = NULL, *after = NULL;
        size_t l1 = 0, l2 = 0;
        CHECK_RC(toto_account_get_text(a, STR("email"), &before, &l1, &err), TOTO_RESULT_OK);
        CHECK_RC(toto_account_load_all(a, &err), TOTO_RESULT_OK);
        CHECK_RC(toto_account_get_text(a, STR("email"), &after, &l2, &err), TOTO_RESULT_OK);
        /* Pointers are compared, never dereferenced: if they differ, the value the
         * first view pointed into was replaced (and freed) by load_all. */
        if (!CHECK(before == after)) {
            printf("#     toto_account_load_all replaced a property that a live "
                   "toto_account_get_text view points into\n");
        }
        toto_account_free(a);
    }
    drop_store(k, s);
}

static void test_modified_tracking_and_save_only_modified(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s || !seed(s, "ivan")) {
        if (s) drop_store(k, s);
        return;
    }
    toto_account *a = open_account(s, "ivan");
    if (a) {
        toto_error err = {0};
        bool m = true;
        size_t count = 9;
        const char *p = NULL;
        size_t l = 0;
        CHECK_RC(toto_account_modified_count(a, &count), TOTO_RESULT_OK);
        CHECK(count == 0);
        CHECK_RC(toto_account_get_text(a, STR("email"), &p, &l, &err), TOTO_RESULT_OK);
        CHECK_RC(toto_account_set_text(a, STR("city"), STR("Oslo")), TOTO_RESULT_OK);
        CHECK_RC(toto_account_set_i64(a, STR("age"), 31), TOTO_RESULT_OK);
        CHECK_RC(toto_account_set_i64(a, STR("age"), 32), TOTO_RESULT_OK); /* counted once */
        CHECK_RC(toto_account_modified_count(a, &count), TOTO_RESULT_OK);
        CHECK(count == 2);
        CHECK_RC(toto_account_is_modified(a, STR("age"), &m), TOTO_RESULT_OK);
        CHECK(m);
        CHECK_RC(toto_account_is_modified(a, STR("email"), &m), TOTO_RESULT_OK);
        CHECK(!m);
        CHECK_RC(toto_account_is_modified(a, STR("never"), &m), TOTO_RESULT_OK);
        CHECK(!m);
        unsigned saves = k->vtable ? k->ts->saves : 0;
        CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_OK);
        if (k->vtable) {
            CHECK(k->ts->saves == saves + 1);
            CHECK(strcmp(k->ts->last_save_names, "age,city") == 0 ||
                  strcmp(k->ts->last_save_names, "city,age") == 0);
        }
        CHECK_RC(toto_account_modified_count(a, &count), TOTO_RESULT_OK);
        CHECK(count == 0);
        CHECK_RC(toto_account_is_modified(a, STR("age"), &m), TOTO_RESULT_OK);
        CHECK(!m);
        CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_OK); /* nothing to write */
        if (k->vtable) CHECK(k->ts->saves == saves + 1);
        toto_account_free(a);
    }
    a = open_account(s, "ivan");
    if (a) {
        toto_error err = {0};
        int64_t i = 0;
        const char *p = NULL;
        size_t l = 0;
        bool b = true;
        CHECK_RC(toto_account_get_i64(a, STR("age"), &i, &err), TOTO_RESULT_OK);
        CHECK(i == 32);
        CHECK_RC(toto_account_get_text(a, STR("city"), &p, &l, &err), TOTO_RESULT_OK);
        CHECK_STR(p, l, "Oslo");
        CHECK_RC(toto_account_get_bool(a, STR("flag"), &b, &err), TOTO_RESULT_OK);
        CHECK(!b); /* untouched properties are intact */
        toto_account_free(a);
    }
    drop_store(k, s);
}

static void test_save_failure_keeps_changes(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s || !seed(s, "jane")) {
        if (s) drop_store(k, s);
        return;
    }
    toto_account *a = open_account(s, "jane");
    if (a) {
        toto_error err = {0};
        size_t count = 0;
        bool m = false;
        CHECK_RC(toto_account_set_text(a, STR("email"), STR("new@example.com")), TOTO_RESULT_OK);
        /* Make the save fail: the account is gone (memory), or the store fails. */
        CHECK_RC(toto_account_store_remove(s, STR("jane"), &err), TOTO_RESULT_OK);
        CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_INVALID_CREDENTIALS);
        CHECK_ERR(err, TOTO_RESULT_INVALID_CREDENTIALS);
        CHECK_RC(toto_account_modified_count(a, &count), TOTO_RESULT_OK);
        CHECK(count == 1);
        CHECK_RC(toto_account_store_create(s, STR("jane"), &err), TOTO_RESULT_OK);
        if (k->vtable) {
            k->ts->fault_message = "disk full";
            test_store_fault(k->ts, FAULT_FAIL, OP_SAVE);
            memset(&err, 0, sizeof err);
            CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_BACKEND_FAILED);
            CHECK_ERR(err, TOTO_RESULT_BACKEND_FAILED);
            CHECK(strstr(err.message, "disk full") != NULL);
            CHECK_RC(toto_account_modified_count(a, &count), TOTO_RESULT_OK);
            CHECK(count == 1);
            CHECK_RC(toto_account_is_modified(a, STR("email"), &m), TOTO_RESULT_OK);
            CHECK(m);
            test_store_fault(k->ts, FAULT_NONE, 0);
        }
        /* The retry writes the change. */
        CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_OK);
        CHECK_RC(toto_account_modified_count(a, &count), TOTO_RESULT_OK);
        CHECK(count == 0);
        toto_account_free(a);
    }
    a = open_account(s, "jane");
    if (a) {
        toto_error err = {0};
        const char *p = NULL;
        size_t l = 0;
        CHECK_RC(toto_account_get_text(a, STR("email"), &p, &l, &err), TOTO_RESULT_OK);
        CHECK_STR(p, l, "new@example.com");
        toto_account_free(a);
    }
    drop_store(k, s);
}

static void test_missing_account(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s) return;
    toto_account *a = open_account(s, "ghost"); /* existence is not checked yet */
    if (a) {
        toto_error err = {0};
        int64_t i = 5;
        CHECK_RC(toto_account_get_i64(a, STR("x"), &i, &err), TOTO_RESULT_INVALID_CREDENTIALS);
        CHECK_ERR(err, TOTO_RESULT_INVALID_CREDENTIALS);
        CHECK(i == 5);
        toto_str names[] = {{STR("x")}};
        CHECK_RC(toto_account_load(a, names, 1, &err), TOTO_RESULT_INVALID_CREDENTIALS);
        CHECK_RC(toto_account_load_all(a, &err), TOTO_RESULT_INVALID_CREDENTIALS);
        CHECK_RC(toto_account_set_i64(a, STR("x"), 1), TOTO_RESULT_OK);
        CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_INVALID_CREDENTIALS);
        CHECK_RC(toto_account_get_i64(a, STR("x"), &i, &err), TOTO_RESULT_OK); /* set locally */
        CHECK(i == 1);
        toto_account_free(a);
    }
    drop_store(k, s);
}

static void test_store_outlives_its_handle(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s || !seed(s, "kate")) {
        if (s) drop_store(k, s);
        return;
    }
    toto_account *a = open_account(s, "kate");
    toto_account *b = open_account(s, "kate");
    toto_account_store_free(s);
    if (k->vtable) CHECK(k->freed == 0); /* the accounts still use it */
    if (a) {
        toto_error err = {0};
        int64_t i = 0;
        CHECK_RC(toto_account_get_i64(a, STR("age"), &i, &err), TOTO_RESULT_OK);
        CHECK(i == 30);
        CHECK_RC(toto_account_set_i64(a, STR("age"), 33), TOTO_RESULT_OK);
        CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_OK);
        toto_account_free(a);
    }
    if (k->vtable) CHECK(k->freed == 0);
    if (b) {
        toto_error err = {0};
        int64_t i = 0;
        CHECK_RC(toto_account_get_i64(b, STR("age"), &i, &err), TOTO_RESULT_OK);
        CHECK(i == 33);
        toto_account_free(b);
    }
    if (k->vtable) CHECK(k->freed == 1); /* exactly once, after the last user */
    k->ts = NULL;
}

static void test_name_limits(void *arg) {
    store_kind *k = arg;
    toto_account_store *s = make_store(k);
    if (!s || !seed(s, "liam")) {
        if (s) drop_store(k, s);
        return;
    }
    toto_account *a = open_account(s, "liam");
    if (a) {
        toto_error err = {0};
        char *max = repeat_char('n', TOTO_MAX_NAME_LEN);
        char *over = repeat_char('n', TOTO_MAX_NAME_LEN + 1);
        bool m = false;
        int64_t i = 0;
        CHECK_RC(toto_account_set_i64(a, STR(max), 1), TOTO_RESULT_OK);
        CHECK_RC(toto_account_set_i64(a, STR(over), 1), TOTO_RESULT_TOO_LARGE);
        CHECK_RC(toto_account_get_i64(a, STR(over), &i, &err), TOTO_RESULT_TOO_LARGE);
        CHECK_RC(toto_account_is_modified(a, STR(over), &m), TOTO_RESULT_TOO_LARGE);
        CHECK_RC(toto_account_set_i64(a, STR("\xff"), 1), TOTO_RESULT_INVALID_UTF8);
        CHECK_RC(toto_account_get_i64(a, STR("\xff"), &i, &err), TOTO_RESULT_INVALID_UTF8);
        CHECK_RC(toto_account_save(a, &err), TOTO_RESULT_OK);
        CHECK_RC(toto_account_get_i64(a, STR(max), &i, &err), TOTO_RESULT_OK);
        CHECK(i == 1);
        /* At most TOTO_MAX_LOAD_NAMES names per load. */
        toto_str *names = calloc(TOTO_MAX_LOAD_NAMES + 1, sizeof *names);
        for (size_t n = 0; n <= TOTO_MAX_LOAD_NAMES; n++) {
            names[n].ptr = "email";
            names[n].len = 5;
        }
        CHECK_RC(toto_account_load(a, names, TOTO_MAX_LOAD_NAMES + 1, &err),
                 TOTO_RESULT_TOO_LARGE);
        CHECK_RC(toto_account_load(a, names, TOTO_MAX_LOAD_NAMES, &err), TOTO_RESULT_OK);
        names[7].ptr = over;
        names[7].len = strlen(over);
        CHECK_RC(toto_account_load(a, names, 8, &err), TOTO_RESULT_TOO_LARGE);
        names[7].ptr = "\xff";
        names[7].len = 1;
        CHECK_RC(toto_account_load(a, names, 8, &err), TOTO_RESULT_INVALID_UTF8);
        free(names);
        free(max);
        free(over);
        toto_account_free(a);
    }
    drop_store(k, s);
}

/* ---- vtable-only ---- */

static void test_vtable_validation(void) {
    int freed = 0;
    test_store *ts = test_store_new(&freed);
    toto_account_store_vtable good = test_store_vtable(ts);
    toto_account_store *untouched = (toto_account_store *)&freed;
    toto_account_store_vtable cases[5];
    for (int i = 0; i < 5; i++) cases[i] = good;
    cases[0].version = 0;
    cases[1].version = TOTO_ACCOUNT_STORE_VTABLE_VERSION + 1;
    cases[2].load = NULL;
    cases[3].save = NULL;
    cases[4].create = NULL;
    for (int i = 0; i < 5; i++) {
        toto_account_store *s = untouched;
        if (!CHECK_RC(toto_account_store_new_vtable(&cases[i], &s), TOTO_RESULT_INVALID_ARGUMENT)) {
            printf("#     (case %d)\n", i);
            if (s != untouched) toto_account_store_free(s);
        }
        CHECK(s == untouched);
    }
    CHECK_RC(toto_account_store_new_vtable(&good, NULL), TOTO_RESULT_NULL_ARGUMENT);
    toto_account_store *s = untouched;
    CHECK_RC(toto_account_store_new_vtable(NULL, &s), TOTO_RESULT_NULL_ARGUMENT);
    CHECK(freed == 0);

    toto_account_store_vtable minimal = good;
    minimal.remove = NULL;
    minimal.free_user_data = NULL;
    s = NULL;
    if (CHECK_RC(toto_account_store_new_vtable(&minimal, &s), TOTO_RESULT_OK)) {
        toto_error err = {0};
        CHECK_RC(toto_account_store_create(s, STR("mia"), &err), TOTO_RESULT_OK);
        CHECK_RC(toto_account_store_remove(s, STR("mia"), &err), TOTO_RESULT_UNSUPPORTED);
        CHECK_ERR(err, TOTO_RESULT_UNSUPPORTED);
        toto_account_store_free(s);
    }
    CHECK(freed == 0);
    test_store_destroy(ts);
}

int main(void) {
    store_kind memory = {"memory", false, NULL, 0};
    store_kind vtable = {"vtable", true, NULL, 0};
    store_kind *kinds[] = {&memory, &vtable};
    for (int i = 0; i < 2; i++) {
        RUN_WITH(test_create_and_remove, kinds[i], kinds[i]->name);
        RUN_WITH(test_account_handle, kinds[i], kinds[i]->name);
        RUN_WITH(test_typed_properties_round_trip, kinds[i], kinds[i]->name);
        RUN_WITH(test_invalid_values_are_refused, kinds[i], kinds[i]->name);
        RUN_WITH(test_lazy_loading, kinds[i], kinds[i]->name);
        RUN_WITH(test_load_with_names, kinds[i], kinds[i]->name);
        RUN_WITH(test_load_all, kinds[i], kinds[i]->name);
        RUN_WITH(test_text_view_survives_load_all, kinds[i], kinds[i]->name);
        RUN_WITH(test_modified_tracking_and_save_only_modified, kinds[i], kinds[i]->name);
        RUN_WITH(test_save_failure_keeps_changes, kinds[i], kinds[i]->name);
        RUN_WITH(test_missing_account, kinds[i], kinds[i]->name);
        RUN_WITH(test_store_outlives_its_handle, kinds[i], kinds[i]->name);
        RUN_WITH(test_name_limits, kinds[i], kinds[i]->name);
    }
    RUN(test_vtable_validation);
    return finish();
}
