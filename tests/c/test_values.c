/*
 * test_values.c: the typed state map of a session: every typed get/set, falsy values,
 * missing key vs stored null, type mismatches, key_at order, len, contains, delete,
 * clear, CBOR and JSON in and out (nested arrays/maps), invalid CBOR/JSON with
 * toto_error filled in, and toto_value_* (a CBOR item to and from tagged JSON).
 */
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include <pthread.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static toto_value_type type_of(const toto_session *s, const char *key) {
    toto_value_type t = 99;
    CHECK_RC(toto_session_get_type(s, STR(key), &t), TOTO_RESULT_OK);
    return t;
}

/* get_cbor of `key` equals `want`. */
static void check_cbor(const toto_session *s, const char *key, const void *want, size_t len) {
    toto_bytes out = {0};
    toto_error err = {0};
    if (CHECK_RC(toto_session_get_cbor(s, STR(key), &out, &err), TOTO_RESULT_OK)) {
        CHECK_MEM(out.data, out.len, want, len);
        toto_bytes_free(&out);
    }
}

/* get_json of `key` equals `want`. */
static void check_json(const toto_session *s, const char *key, const char *want) {
    toto_bytes out = {0};
    toto_error err = {0};
    if (CHECK_RC(toto_session_get_json(s, STR(key), &out, &err), TOTO_RESULT_OK)) {
        CHECK_MEM(out.data, out.len, want, strlen(want));
        toto_bytes_free(&out);
    } else {
        printf("#     (key %s: %s)\n", key, err.message);
    }
}

static void test_null_vs_missing(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    bool present = true;
    CHECK_RC(toto_session_contains(s, STR("n"), &present), TOTO_RESULT_OK);
    CHECK(!present);
    CHECK_RC(toto_session_set_null(s, STR("n")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_contains(s, STR("n"), &present), TOTO_RESULT_OK);
    CHECK(present);
    CHECK(type_of(s, "n") == TOTO_VALUE_TYPE_NULL);
    check_cbor(s, "n", "\xf6", 1);
    check_json(s, "n", "null");

    /* A missing key is NOT_FOUND for every getter; outputs stay untouched. */
    toto_value_type t = 42;
    bool b = true;
    int64_t i = 42;
    double f = 42.0;
    const char *p = "sentinel";
    const uint8_t *bp = (const uint8_t *)"sentinel";
    size_t l = 42;
    toto_bytes out = {(uint8_t *)&l, 7};
    toto_error err = {0};
    CHECK_RC(toto_session_get_type(s, STR("missing"), &t), TOTO_RESULT_NOT_FOUND);
    CHECK_RC(toto_session_get_bool(s, STR("missing"), &b), TOTO_RESULT_NOT_FOUND);
    CHECK_RC(toto_session_get_i64(s, STR("missing"), &i), TOTO_RESULT_NOT_FOUND);
    CHECK_RC(toto_session_get_f64(s, STR("missing"), &f), TOTO_RESULT_NOT_FOUND);
    CHECK_RC(toto_session_get_text(s, STR("missing"), &p, &l), TOTO_RESULT_NOT_FOUND);
    CHECK_RC(toto_session_get_bytes(s, STR("missing"), &bp, &l), TOTO_RESULT_NOT_FOUND);
    CHECK_RC(toto_session_get_cbor(s, STR("missing"), &out, &err), TOTO_RESULT_NOT_FOUND);
    CHECK_ERR(err, TOTO_RESULT_NOT_FOUND);
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_session_get_json(s, STR("missing"), &out, &err), TOTO_RESULT_NOT_FOUND);
    CHECK_ERR(err, TOTO_RESULT_NOT_FOUND);
    CHECK(t == 42 && b == true && i == 42 && f == 42.0 && l == 42);
    CHECK(strcmp(p, "sentinel") == 0 && bp == (const uint8_t *)"sentinel");
    CHECK(out.data == (uint8_t *)&l && out.len == 7);

    /* A stored null is found, but it is not a bool/int/... */
    CHECK_RC(toto_session_get_bool(s, STR("n"), &b), TOTO_RESULT_TYPE_MISMATCH);
    CHECK_RC(toto_session_get_i64(s, STR("n"), &i), TOTO_RESULT_TYPE_MISMATCH);
    CHECK_RC(toto_session_get_text(s, STR("n"), &p, &l), TOTO_RESULT_TYPE_MISMATCH);
    CHECK(b == true && i == 42 && l == 42);
    toto_session_free(s);
}

static void test_bool(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    bool b = true;
    CHECK_RC(toto_session_set_bool(s, STR("f"), false), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_bool(s, STR("t"), true), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_bool(s, STR("f"), &b), TOTO_RESULT_OK);
    CHECK(b == false);
    CHECK_RC(toto_session_get_bool(s, STR("t"), &b), TOTO_RESULT_OK);
    CHECK(b == true);
    CHECK(type_of(s, "f") == TOTO_VALUE_TYPE_BOOL);
    check_cbor(s, "f", "\xf4", 1);
    check_cbor(s, "t", "\xf5", 1);
    check_json(s, "f", "false");
    int64_t i = 7;
    CHECK_RC(toto_session_get_i64(s, STR("f"), &i), TOTO_RESULT_TYPE_MISMATCH);
    CHECK(i == 7);
    toto_session_free(s);
}

static void test_i64(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    const int64_t values[] = {0, 1, -1, 23, 24, 1000, INT64_MAX, INT64_MIN};
    for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
        int64_t got = 12345;
        CHECK_RC(toto_session_set_i64(s, STR("n"), values[k]), TOTO_RESULT_OK);
        CHECK_RC(toto_session_get_i64(s, STR("n"), &got), TOTO_RESULT_OK);
        CHECK(got == values[k]);
        CHECK(type_of(s, "n") == TOTO_VALUE_TYPE_INTEGER);
    }
    CHECK_RC(toto_session_set_i64(s, STR("zero"), 0), TOTO_RESULT_OK);
    check_cbor(s, "zero", "\x00", 1);
    CHECK_RC(toto_session_set_i64(s, STR("k"), 1000), TOTO_RESULT_OK);
    check_cbor(s, "k", "\x19\x03\xe8", 3);
    check_json(s, "k", "1000");
    CHECK_RC(toto_session_set_i64(s, STR("neg"), -1), TOTO_RESULT_OK);
    check_cbor(s, "neg", "\x20", 1);
    /* Integers are not converted to floats. */
    double f = 5.0;
    CHECK_RC(toto_session_get_f64(s, STR("k"), &f), TOTO_RESULT_TYPE_MISMATCH);
    CHECK(f == 5.0);
    bool b = true;
    CHECK_RC(toto_session_get_bool(s, STR("zero"), &b), TOTO_RESULT_TYPE_MISMATCH);
    toto_session_free(s);
}

static void test_integers_outside_i64(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    static const uint8_t u64max[] = {0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t negmax[] = {0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    toto_error err = {0};
    CHECK_RC(toto_session_set_cbor(s, STR("big"), u64max, sizeof u64max, &err), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_cbor(s, STR("neg"), negmax, sizeof negmax, &err), TOTO_RESULT_OK);
    CHECK(type_of(s, "big") == TOTO_VALUE_TYPE_INTEGER);
    CHECK(type_of(s, "neg") == TOTO_VALUE_TYPE_INTEGER);
    int64_t i = 3;
    CHECK_RC(toto_session_get_i64(s, STR("big"), &i), TOTO_RESULT_TYPE_MISMATCH);
    CHECK_RC(toto_session_get_i64(s, STR("neg"), &i), TOTO_RESULT_TYPE_MISMATCH);
    CHECK(i == 3);
    check_cbor(s, "big", u64max, sizeof u64max);
    check_cbor(s, "neg", negmax, sizeof negmax);
    check_json(s, "big", "18446744073709551615");
    CHECK_RC(toto_session_set_json(s, STR("j"), STR("18446744073709551615"), &err),
             TOTO_RESULT_OK);
    check_cbor(s, "j", u64max, sizeof u64max);
    toto_session_free(s);
}

static void test_f64(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    const double values[] = {0.0, 1.5, -2.25, 0.1, 1e308, -1e-300, 100000.0};
    for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
        double got = 7.0;
        CHECK_RC(toto_session_set_f64(s, STR("x"), values[k]), TOTO_RESULT_OK);
        CHECK_RC(toto_session_get_f64(s, STR("x"), &got), TOTO_RESULT_OK);
        CHECK(got == values[k]);
        CHECK(type_of(s, "x") == TOTO_VALUE_TYPE_FLOAT);
    }
    double got = 0;
    CHECK_RC(toto_session_set_f64(s, STR("negzero"), -0.0), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_f64(s, STR("negzero"), &got), TOTO_RESULT_OK);
    CHECK(got == 0.0 && signbit(got));
    CHECK_RC(toto_session_set_f64(s, STR("inf"), INFINITY), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_f64(s, STR("inf"), &got), TOTO_RESULT_OK);
    CHECK(isinf(got) && got > 0);
    CHECK_RC(toto_session_set_f64(s, STR("nan"), NAN), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_f64(s, STR("nan"), &got), TOTO_RESULT_OK);
    CHECK(isnan(got));
    CHECK_RC(toto_session_set_f64(s, STR("zero"), 0.0), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_f64(s, STR("zero"), &got), TOTO_RESULT_OK);
    CHECK(got == 0.0 && !signbit(got));
    CHECK_RC(toto_session_set_f64(s, STR("half"), 1.5), TOTO_RESULT_OK);
    check_cbor(s, "half", "\xf9\x3e\x00", 3); /* shortest exact form */
    check_json(s, "half", "1.5");
    check_json(s, "nan", "null");              /* non-finite floats become null */
    check_json(s, "inf", "null");
    int64_t i = 9;
    CHECK_RC(toto_session_get_i64(s, STR("half"), &i), TOTO_RESULT_TYPE_MISMATCH);
    CHECK(i == 9);
    /* Half and single precision CBOR floats read back as doubles. */
    static const uint8_t half_one[] = {0xf9, 0x3c, 0x00};
    static const uint8_t single[] = {0xfa, 0x3f, 0xc0, 0x00, 0x00};
    CHECK_RC(toto_session_set_cbor(s, STR("h"), half_one, 3, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_f64(s, STR("h"), &got), TOTO_RESULT_OK);
    CHECK(got == 1.0);
    CHECK_RC(toto_session_set_cbor(s, STR("s"), single, 5, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_f64(s, STR("s"), &got), TOTO_RESULT_OK);
    CHECK(got == 1.5);
    toto_session_free(s);
}

static void test_text(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    const char *p = NULL;
    size_t l = 99;
    CHECK_RC(toto_session_set_text(s, STR("empty"), STR("")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_text(s, STR("empty"), &p, &l), TOTO_RESULT_OK);
    CHECK(l == 0);
    CHECK(type_of(s, "empty") == TOTO_VALUE_TYPE_TEXT);
    check_cbor(s, "empty", "\x60", 1);
    check_json(s, "empty", "\"\"");
    CHECK_RC(toto_session_set_text(s, STR("null-ptr"), NULL, 0), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_text(s, STR("null-ptr"), &p, &l), TOTO_RESULT_OK);
    CHECK(l == 0);
    CHECK_RC(toto_session_set_text(s, STR("t"), STR("h\xc3\xa9llo \xe2\x98\x83")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_text(s, STR("t"), &p, &l), TOTO_RESULT_OK);
    CHECK_STR(p, l, "h\xc3\xa9llo \xe2\x98\x83");
    /* Text with an embedded NUL keeps its length. */
    CHECK_RC(toto_session_set_text(s, STR("nul"), "a\0b", 3), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_text(s, STR("nul"), &p, &l), TOTO_RESULT_OK);
    CHECK_MEM(p, l, "a\0b", 3);
    check_json(s, "nul", "\"a\\u0000b\"");
    /* Invalid UTF-8 is refused and changes nothing. */
    CHECK_RC(toto_session_set_text(s, STR("t"), STR("bad \xff")), TOTO_RESULT_INVALID_UTF8);
    CHECK_RC(toto_session_set_text(s, STR("t"), STR("\xc3")), TOTO_RESULT_INVALID_UTF8);
    CHECK_RC(toto_session_set_text(s, STR("t"), STR("\xed\xa0\x80")), TOTO_RESULT_INVALID_UTF8);
    CHECK_RC(toto_session_get_text(s, STR("t"), &p, &l), TOTO_RESULT_OK);
    CHECK_STR(p, l, "h\xc3\xa9llo \xe2\x98\x83");
    const uint8_t *bp = NULL;
    CHECK_RC(toto_session_get_bytes(s, STR("t"), &bp, &l), TOTO_RESULT_TYPE_MISMATCH);
    /* Size limit: exactly 1 MiB is fine, one more byte is not. */
    char *max = repeat_char('a', TOTO_MAX_RECORD_LEN);
    CHECK_RC(toto_session_set_text(s, STR("max"), max, TOTO_MAX_RECORD_LEN), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_text(s, STR("max"), &p, &l), TOTO_RESULT_OK);
    CHECK(l == TOTO_MAX_RECORD_LEN);
    free(max);
    char *over = repeat_char('a', TOTO_MAX_RECORD_LEN + 1);
    CHECK_RC(toto_session_set_text(s, STR("over"), over, TOTO_MAX_RECORD_LEN + 1),
             TOTO_RESULT_TOO_LARGE);
    bool present = true;
    CHECK_RC(toto_session_contains(s, STR("over"), &present), TOTO_RESULT_OK);
    CHECK(!present);
    free(over);
    toto_session_free(s);
}

static void test_bytes(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    static const uint8_t raw[] = {0x00, 0xff, 0x10, 0x00};
    const uint8_t *p = NULL;
    size_t l = 99;
    CHECK_RC(toto_session_set_bytes(s, STR("b"), raw, sizeof raw), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_bytes(s, STR("b"), &p, &l), TOTO_RESULT_OK);
    CHECK_MEM(p, l, raw, sizeof raw);
    CHECK(type_of(s, "b") == TOTO_VALUE_TYPE_BYTES);
    check_cbor(s, "b", "\x44\x00\xff\x10\x00", 5);
    check_json(s, "b", "\"AP8QAA==\""); /* bytes become standard base64 */
    CHECK_RC(toto_session_set_bytes(s, STR("empty"), NULL, 0), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_bytes(s, STR("empty"), &p, &l), TOTO_RESULT_OK);
    CHECK(l == 0);
    check_cbor(s, "empty", "\x40", 1);
    const char *tp = NULL;
    CHECK_RC(toto_session_get_text(s, STR("b"), &tp, &l), TOTO_RESULT_TYPE_MISMATCH);
    uint8_t *over = calloc(TOTO_MAX_RECORD_LEN + 1, 1);
    CHECK_RC(toto_session_set_bytes(s, STR("over"), over, TOTO_MAX_RECORD_LEN + 1),
             TOTO_RESULT_TOO_LARGE);
    CHECK_RC(toto_session_set_bytes(s, STR("max"), over, TOTO_MAX_RECORD_LEN), TOTO_RESULT_OK);
    free(over);
    toto_session_free(s);
}

static void test_falsy_values_read_back_as_themselves(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    CHECK_RC(toto_session_set_bool(s, STR("false"), false), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_i64(s, STR("zero"), 0), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_f64(s, STR("fzero"), 0.0), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_text(s, STR("empty"), STR("")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_bytes(s, STR("nobytes"), NULL, 0), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_json(s, STR("emptylist"), STR("[]"), NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_json(s, STR("emptymap"), STR("{}"), NULL), TOTO_RESULT_OK);
    const char *names[] = {"false", "zero", "fzero", "empty", "nobytes", "emptylist",
                           "emptymap"};
    const toto_value_type types[] = {TOTO_VALUE_TYPE_BOOL,  TOTO_VALUE_TYPE_INTEGER,
                                     TOTO_VALUE_TYPE_FLOAT, TOTO_VALUE_TYPE_TEXT,
                                     TOTO_VALUE_TYPE_BYTES, TOTO_VALUE_TYPE_ARRAY,
                                     TOTO_VALUE_TYPE_MAP};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        bool present = false;
        CHECK_RC(toto_session_contains(s, STR(names[k]), &present), TOTO_RESULT_OK);
        CHECK(present);
        CHECK(type_of(s, names[k]) == types[k]);
    }
    bool b = true;
    int64_t i = 1;
    double f = 1;
    CHECK_RC(toto_session_get_bool(s, STR("false"), &b), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_i64(s, STR("zero"), &i), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_f64(s, STR("fzero"), &f), TOTO_RESULT_OK);
    CHECK(!b && i == 0 && f == 0.0);
    check_json(s, "emptylist", "[]");
    check_json(s, "emptymap", "{}");
    /* And they survive a record round trip. */
    toto_bytes rec = {0};
    toto_session *t = NULL;
    if (CHECK_RC(toto_session_export(s, &rec, NULL), TOTO_RESULT_OK) &&
        CHECK_RC(toto_session_import(rec.data, rec.len, &t, NULL), TOTO_RESULT_OK)) {
        b = true;
        i = 1;
        CHECK_RC(toto_session_get_bool(t, STR("false"), &b), TOTO_RESULT_OK);
        CHECK_RC(toto_session_get_i64(t, STR("zero"), &i), TOTO_RESULT_OK);
        CHECK(!b && i == 0);
        const char *p = NULL;
        size_t l = 9;
        CHECK_RC(toto_session_get_text(t, STR("empty"), &p, &l), TOTO_RESULT_OK);
        CHECK(l == 0);
        toto_session_free(t);
    }
    toto_bytes_free(&rec);
    toto_session_free(s);
}

static void test_overwrite_changes_type(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    CHECK_RC(toto_session_set_i64(s, STR("k"), 5), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_text(s, STR("k"), STR("five")), TOTO_RESULT_OK);
    CHECK(type_of(s, "k") == TOTO_VALUE_TYPE_TEXT);
    size_t n = 0;
    CHECK_RC(toto_session_len(s, &n), TOTO_RESULT_OK);
    CHECK(n == 1);
    int64_t i = 0;
    CHECK_RC(toto_session_get_i64(s, STR("k"), &i), TOTO_RESULT_TYPE_MISMATCH);
    toto_session_free(s);
}

static void test_key_at_len_contains_delete_clear(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    /* Inserted out of order; iteration is in sorted byte order. */
    const char *keys[] = {"b", "\xc3\xa4", "a", "B", "", "ab", "a\x01"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        CHECK_RC(toto_session_set_i64(s, STR(keys[k]), (int64_t)k), TOTO_RESULT_OK);
    }
    const char *sorted[] = {"", "B", "a", "a\x01", "ab", "b", "\xc3\xa4"};
    size_t n = 0;
    CHECK_RC(toto_session_len(s, &n), TOTO_RESULT_OK);
    CHECK(n == 7);
    for (size_t k = 0; k < n && k < 7; k++) {
        const char *p = NULL;
        size_t l = 0;
        CHECK_RC(toto_session_key_at(s, k, &p, &l), TOTO_RESULT_OK);
        CHECK_STR(p, l, sorted[k]);
    }
    const char *p = "x";
    size_t l = 42;
    CHECK_RC(toto_session_key_at(s, 7, &p, &l), TOTO_RESULT_NOT_FOUND);
    CHECK_RC(toto_session_key_at(s, SIZE_MAX, &p, &l), TOTO_RESULT_NOT_FOUND);
    CHECK(l == 42);

    bool present = false;
    CHECK_RC(toto_session_contains(s, STR(""), &present), TOTO_RESULT_OK);
    CHECK(present);
    CHECK_RC(toto_session_contains(s, STR("A"), &present), TOTO_RESULT_OK);
    CHECK(!present); /* keys are case-sensitive */

    CHECK_RC(toto_session_delete(s, STR("a")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_delete(s, STR("a")), TOTO_RESULT_OK); /* missing: fine */
    CHECK_RC(toto_session_delete(s, STR("never")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_contains(s, STR("a"), &present), TOTO_RESULT_OK);
    CHECK(!present);
    CHECK_RC(toto_session_len(s, &n), TOTO_RESULT_OK);
    CHECK(n == 6);
    CHECK_RC(toto_session_key_at(s, 2, &p, &l), TOTO_RESULT_OK);
    CHECK_STR(p, l, "a\x01");

    CHECK_RC(toto_session_clear(s), TOTO_RESULT_OK);
    CHECK_RC(toto_session_len(s, &n), TOTO_RESULT_OK);
    CHECK(n == 0);
    CHECK_RC(toto_session_key_at(s, 0, &p, &l), TOTO_RESULT_NOT_FOUND);
    CHECK_RC(toto_session_clear(s), TOTO_RESULT_OK);
    toto_session_free(s);
}

static void test_key_names_limits(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    char *max = repeat_char('k', TOTO_MAX_NAME_LEN);
    char *over = repeat_char('k', TOTO_MAX_NAME_LEN + 1);
    CHECK_RC(toto_session_set_bool(s, STR(max), true), TOTO_RESULT_OK);
    bool b = false;
    CHECK_RC(toto_session_get_bool(s, STR(max), &b), TOTO_RESULT_OK);
    CHECK(b);
    CHECK_RC(toto_session_set_bool(s, STR(over), true), TOTO_RESULT_TOO_LARGE);
    CHECK_RC(toto_session_get_bool(s, STR(over), &b), TOTO_RESULT_TOO_LARGE);
    CHECK_RC(toto_session_set_bool(s, STR("\xff"), true), TOTO_RESULT_INVALID_UTF8);
    CHECK_RC(toto_session_get_bool(s, STR("\xff"), &b), TOTO_RESULT_INVALID_UTF8);
    size_t n = 0;
    CHECK_RC(toto_session_len(s, &n), TOTO_RESULT_OK);
    CHECK(n == 1);
    free(max);
    free(over);
    toto_session_free(s);
}

static void test_cbor_nested_in_and_out(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    /* [1, "x", {"k": true, "l": [null, -1]}, [[]], h'01', 1.5] */
    static const uint8_t nested[] = {0x86, 0x01, 0x61, 'x', 0xa2, 0x61, 'k', 0xf5, 0x61, 'l',
                                     0x82, 0xf6, 0x20, 0x81, 0x80, 0x41, 0x01, 0xf9, 0x3e, 0x00};
    toto_error err = {0};
    CHECK_RC(toto_session_set_cbor(s, STR("n"), nested, sizeof nested, &err), TOTO_RESULT_OK);
    CHECK(type_of(s, "n") == TOTO_VALUE_TYPE_ARRAY);
    check_cbor(s, "n", nested, sizeof nested);
    check_json(s, "n", "[1,\"x\",{\"k\":true,\"l\":[null,-1]},[[]],\"AQ==\",1.5]");
    /* Scalars given as CBOR read back through the typed getters. */
    static const uint8_t text[] = {0x63, 'a', 'b', 'c'};
    CHECK_RC(toto_session_set_cbor(s, STR("t"), text, sizeof text, &err), TOTO_RESULT_OK);
    const char *p = NULL;
    size_t l = 0;
    CHECK_RC(toto_session_get_text(s, STR("t"), &p, &l), TOTO_RESULT_OK);
    CHECK_STR(p, l, "abc");
    /* A map with a non-text key is a valid value, but has no JSON form. */
    static const uint8_t intkey[] = {0xa1, 0x01, 0x02};
    CHECK_RC(toto_session_set_cbor(s, STR("m"), intkey, sizeof intkey, &err), TOTO_RESULT_OK);
    CHECK(type_of(s, "m") == TOTO_VALUE_TYPE_MAP);
    check_cbor(s, "m", intkey, sizeof intkey);
    toto_bytes out = {0};
    CHECK_RC(toto_session_get_json(s, STR("m"), &out, &err), TOTO_RESULT_INVALID_JSON);
    CHECK_ERR(err, TOTO_RESULT_INVALID_JSON);
    CHECK(out.data == NULL);
    /* Keys out of order or repeated: written in key order, the last of a key kept. */
    static const uint8_t unordered[] = {0xa3, 0x61, 'b', 0x01, 0x61, 'a', 0x02, 0x61, 'b', 0x03};
    CHECK_RC(toto_session_set_cbor(s, STR("u"), unordered, sizeof unordered, &err),
             TOTO_RESULT_OK);
    check_json(s, "u", "{\"a\":2,\"b\":3}");
    /* A map with a non-text key nested after good entries: the whole read fails. */
    static const uint8_t late[] = {0xa1, 0x61, 'a', 0xa1, 0x01, 0x02};
    CHECK_RC(toto_session_set_cbor(s, STR("late"), late, sizeof late, &err), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_json(s, STR("late"), &out, &err), TOTO_RESULT_INVALID_JSON);
    CHECK(out.data == NULL);
    check_json(s, "t", "\"abc\"");
    /* Indefinite-length input is accepted and written back definite. */
    static const uint8_t indefinite[] = {0x9f, 0x01, 0x02, 0xff};
    CHECK_RC(toto_session_set_cbor(s, STR("i"), indefinite, sizeof indefinite, &err),
             TOTO_RESULT_OK);
    check_cbor(s, "i", "\x82\x01\x02", 3);
    toto_session_free(s);
}

static void test_cbor_depth_limit(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    uint8_t deep[TOTO_MAX_DEPTH + 2];
    /* TOTO_MAX_DEPTH nested arrays: accepted. */
    memset(deep, 0x81, TOTO_MAX_DEPTH - 1);
    deep[TOTO_MAX_DEPTH - 1] = 0x80;
    toto_error err = {0};
    CHECK_RC(toto_session_set_cbor(s, STR("ok"), deep, TOTO_MAX_DEPTH, &err), TOTO_RESULT_OK);
    check_cbor(s, "ok", deep, TOTO_MAX_DEPTH);
    /* One more level: refused. */
    memset(deep, 0x81, TOTO_MAX_DEPTH);
    deep[TOTO_MAX_DEPTH] = 0x80;
    CHECK_RC(toto_session_set_cbor(s, STR("deep"), deep, TOTO_MAX_DEPTH + 1, &err),
             TOTO_RESULT_INVALID_CBOR);
    CHECK_ERR(err, TOTO_RESULT_INVALID_CBOR);
    bool present = true;
    CHECK_RC(toto_session_contains(s, STR("deep"), &present), TOTO_RESULT_OK);
    CHECK(!present);
    toto_session_free(s);
}

/* Issue 19: on a 64 KiB thread stack, 127 nested arrays overflowed the stack (the
 * decoder allowed 128 levels). Deeper than TOTO_MAX_DEPTH is now refused before the
 * decoder runs, and the deepest accepted value decodes on such a stack. */
static void *deep_values_on_a_small_stack(void *arg) {
    int *failures = arg;
    toto_session *s = NULL;
    if (toto_session_new(STR("u"), now_seconds() + 60, &s) != TOTO_RESULT_OK) {
        (*failures)++;
        return NULL;
    }
    static uint8_t deep[100000];
    static char json[2 * 100000 + 1];
    const size_t levels[] = {TOTO_MAX_DEPTH, TOTO_MAX_DEPTH + 1, 127, 128, 100000};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        size_t n = levels[i];
        memset(deep, 0x81, n - 1);
        deep[n - 1] = 0x80;
        uint32_t want = n <= TOTO_MAX_DEPTH ? TOTO_RESULT_OK : TOTO_RESULT_INVALID_CBOR;
        if (toto_session_set_cbor(s, STR("v"), deep, n, NULL) != want) (*failures)++;
        memset(json, '[', n);
        memset(json + n, ']', n);
        want = n <= TOTO_MAX_DEPTH ? TOTO_RESULT_OK : TOTO_RESULT_INVALID_JSON;
        if (toto_session_set_json(s, STR("j"), json, 2 * n, NULL) != want) (*failures)++;
    }
    toto_session_free(s);
    return NULL;
}

static void test_deep_values_on_a_small_stack(void) {
    pthread_attr_t attr;
    pthread_t t;
    int failures = 0;
    CHECK(pthread_attr_init(&attr) == 0);
    CHECK(pthread_attr_setstacksize(&attr, 64 * 1024) == 0);
    if (CHECK(pthread_create(&t, &attr, deep_values_on_a_small_stack, &failures) == 0))
        CHECK(pthread_join(t, NULL) == 0);
    pthread_attr_destroy(&attr);
    CHECK(failures == 0);
}

static void test_cbor_invalid(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    struct {
        const char *what;
        const uint8_t *data;
        size_t len;
    } cases[] = {
        {"empty", (const uint8_t *)"", 0},
        {"lone break", (const uint8_t *)"\xff", 1},
        {"trailing bytes", (const uint8_t *)"\x01\x01", 2},
        {"truncated array", (const uint8_t *)"\x82\x01", 2},
        {"truncated text", (const uint8_t *)"\x63" "ab", 3},
        {"length beyond input", (const uint8_t *)"\x5a\xff\xff\xff\xff", 5},
        {"text not UTF-8", (const uint8_t *)"\x61\xff", 2},
        {"reserved info", (const uint8_t *)"\x1c", 1},
    };
    CHECK_RC(toto_session_set_i64(s, STR("k"), 7), TOTO_RESULT_OK);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        toto_error err = {0};
        if (!CHECK_RC(toto_session_set_cbor(s, STR("k"), cases[k].data, cases[k].len, &err),
                      TOTO_RESULT_INVALID_CBOR)) {
            printf("#     (case: %s)\n", cases[k].what);
        }
        CHECK_ERR(err, TOTO_RESULT_INVALID_CBOR);
    }
    /* NULL error pointer is allowed. */
    CHECK_RC(toto_session_set_cbor(s, STR("k"), (const uint8_t *)"\xff", 1, NULL),
             TOTO_RESULT_INVALID_CBOR);
    int64_t i = 0;
    CHECK_RC(toto_session_get_i64(s, STR("k"), &i), TOTO_RESULT_OK);
    CHECK(i == 7); /* failed sets kept the old value */
    uint8_t *big = calloc(TOTO_MAX_RECORD_LEN + 1, 1);
    toto_error err = {0};
    CHECK_RC(toto_session_set_cbor(s, STR("big"), big, TOTO_MAX_RECORD_LEN + 1, &err),
             TOTO_RESULT_TOO_LARGE);
    CHECK_ERR(err, TOTO_RESULT_TOO_LARGE);
    free(big);
    toto_session_free(s);
}

static void test_json_in_and_out(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    toto_error err = {0};
    const char *doc = "{\"a\":[1,2.5,\"x\",null,true,{\"n\":-3}],\"b\":{\"c\":[[],{}]}}";
    CHECK_RC(toto_session_set_json(s, STR("j"), STR(doc), &err), TOTO_RESULT_OK);
    CHECK(type_of(s, "j") == TOTO_VALUE_TYPE_MAP);
    check_json(s, "j", doc);
    /* Whitespace is accepted and the output is compact. */
    CHECK_RC(toto_session_set_json(s, STR("w"), STR(" [ 1 , { \"k\" : \"v\" } ] "), &err),
             TOTO_RESULT_OK);
    CHECK(type_of(s, "w") == TOTO_VALUE_TYPE_ARRAY);
    check_json(s, "w", "[1,{\"k\":\"v\"}]");
    check_cbor(s, "w", "\x82\x01\xa1\x61k\x61v", 7);
    /* Scalars: integers stay integers, other numbers become floats. */
    CHECK_RC(toto_session_set_json(s, STR("i"), STR("42"), &err), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_json(s, STR("f"), STR("0.5"), &err), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_json(s, STR("t"), STR("\"caf\\u00e9\""), &err), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_json(s, STR("n"), STR("null"), &err), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_json(s, STR("b"), STR("false"), &err), TOTO_RESULT_OK);
    int64_t i = 0;
    double f = 0;
    const char *p = NULL;
    size_t l = 0;
    bool b = true;
    CHECK_RC(toto_session_get_i64(s, STR("i"), &i), TOTO_RESULT_OK);
    CHECK(i == 42);
    CHECK_RC(toto_session_get_f64(s, STR("f"), &f), TOTO_RESULT_OK);
    CHECK(f == 0.5);
    CHECK_RC(toto_session_get_text(s, STR("t"), &p, &l), TOTO_RESULT_OK);
    CHECK_STR(p, l, "caf\xc3\xa9");
    CHECK(type_of(s, "n") == TOTO_VALUE_TYPE_NULL);
    CHECK_RC(toto_session_get_bool(s, STR("b"), &b), TOTO_RESULT_OK);
    CHECK(!b);
    /* A text far longer than any before it, then a short one: each read exact. */
    enum { LONG = 40000 };
    char *long_json = malloc(LONG + 3);
    if (long_json) {
        long_json[0] = '"';
        memset(long_json + 1, 'x', LONG);
        long_json[LONG + 1] = '"';
        long_json[LONG + 2] = 0;
        CHECK_RC(toto_session_set_json(s, STR("long"), long_json, LONG + 2, &err),
                 TOTO_RESULT_OK);
        check_json(s, "long", long_json);
        check_json(s, "i", "42");
        check_json(s, "long", long_json);
        free(long_json);
    }
    /* CBOR in, JSON out, JSON back in: same CBOR. */
    toto_bytes j = {0};
    if (CHECK_RC(toto_session_get_json(s, STR("j"), &j, &err), TOTO_RESULT_OK)) {
        CHECK_RC(toto_session_set_json(s, STR("j2"), (const char *)j.data, j.len, &err),
                 TOTO_RESULT_OK);
        toto_bytes c1 = {0}, c2 = {0};
        CHECK_RC(toto_session_get_cbor(s, STR("j"), &c1, &err), TOTO_RESULT_OK);
        CHECK_RC(toto_session_get_cbor(s, STR("j2"), &c2, &err), TOTO_RESULT_OK);
        CHECK_MEM(c2.data, c2.len, c1.data, c1.len);
        toto_bytes_free(&c1);
        toto_bytes_free(&c2);
        toto_bytes_free(&j);
    }
    toto_session_free(s);
}

/* get_json_into: the same text as get_json, written into the caller's buffer. */
static void test_json_into(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    toto_error err = {0};
    const char *doc = "{\"a\":[1,\"x\"],\"b\":true}"; /* 22 bytes */
    size_t n = strlen(doc);
    CHECK_RC(toto_session_set_json(s, STR("j"), STR(doc), &err), TOTO_RESULT_OK);
    uint8_t buf[64];
    size_t len = 0;
    /* Room to spare, and exactly enough. */
    memset(buf, '#', sizeof buf);
    if (CHECK_RC(toto_session_get_json_into(s, STR("j"), buf, sizeof buf, &len, &err),
                 TOTO_RESULT_OK)) {
        CHECK_MEM(buf, len, doc, n);
        CHECK(buf[n] == '#'); /* not NUL-terminated, nothing past the text */
    }
    len = 0;
    if (CHECK_RC(toto_session_get_json_into(s, STR("j"), buf, n, &len, &err), TOTO_RESULT_OK)) {
        CHECK_MEM(buf, len, doc, n);
    }
    /* One byte short: TOO_LARGE with the whole length, its first capacity bytes written. */
    memset(buf, '#', sizeof buf);
    len = 0;
    CHECK_RC(toto_session_get_json_into(s, STR("j"), buf, n - 1, &len, &err),
             TOTO_RESULT_TOO_LARGE);
    CHECK_ERR(err, TOTO_RESULT_TOO_LARGE);
    CHECK(len == n);
    CHECK(memcmp(buf, doc, n - 1) == 0); /* its first capacity bytes */
    CHECK(buf[n - 1] == '#');
    /* Capacity 0 (NULL buffer) measures. */
    len = 0;
    CHECK_RC(toto_session_get_json_into(s, STR("j"), NULL, 0, &len, &err), TOTO_RESULT_TOO_LARGE);
    CHECK(len == n);
    /* A key over the name limit: TOO_LARGE too, the length untouched. */
    char long_key[TOTO_MAX_NAME_LEN + 1];
    memset(long_key, 'k', sizeof long_key);
    len = 42;
    CHECK_RC(toto_session_get_json_into(s, long_key, sizeof long_key, buf, sizeof buf, &len, &err),
             TOTO_RESULT_TOO_LARGE);
    CHECK(len == 42);
    /* Missing key: NOT_FOUND, length untouched; no JSON form: INVALID_JSON. */
    len = 42;
    CHECK_RC(toto_session_get_json_into(s, STR("missing"), buf, sizeof buf, &len, &err),
             TOTO_RESULT_NOT_FOUND);
    CHECK(len == 42);
    static const uint8_t intkey[] = {0xa1, 0x01, 0x02};
    CHECK_RC(toto_session_set_cbor(s, STR("m"), intkey, sizeof intkey, &err), TOTO_RESULT_OK);
    CHECK_RC(toto_session_get_json_into(s, STR("m"), buf, sizeof buf, &len, &err),
             TOTO_RESULT_INVALID_JSON);
    CHECK_ERR(err, TOTO_RESULT_INVALID_JSON);
    /* A long text: measured, then read whole into a buffer of that length. */
    enum { LONG = 3000 };
    char *long_json = malloc(LONG + 3);
    uint8_t *long_buf = malloc(LONG + 2);
    if (long_json && long_buf) {
        long_json[0] = '"';
        memset(long_json + 1, 'y', LONG);
        long_json[LONG + 1] = '"';
        long_json[LONG + 2] = 0;
        CHECK_RC(toto_session_set_json(s, STR("long"), long_json, LONG + 2, &err), TOTO_RESULT_OK);
        CHECK_RC(toto_session_get_json_into(s, STR("long"), buf, sizeof buf, &len, &err),
                 TOTO_RESULT_TOO_LARGE);
        CHECK(len == LONG + 2);
        if (CHECK_RC(toto_session_get_json_into(s, STR("long"), long_buf, len, &len, &err),
                     TOTO_RESULT_OK)) {
            CHECK_MEM(long_buf, len, long_json, (size_t)LONG + 2);
        }
    }
    free(long_json);
    free(long_buf);
    toto_session_free(s);
}

static void test_json_invalid(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    const char *bad[] = {"", "{", "[1,", "{\"a\":}", "1 2", "'single'", "nul", "\xff",
                         "{\"a\":1,}", "NaN"};
    CHECK_RC(toto_session_set_i64(s, STR("k"), 7), TOTO_RESULT_OK);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        toto_error err = {0};
        if (!CHECK_RC(toto_session_set_json(s, STR("k"), STR(bad[k]), &err),
                      TOTO_RESULT_INVALID_JSON)) {
            printf("#     (case #%zu)\n", k);
        }
        CHECK_ERR(err, TOTO_RESULT_INVALID_JSON);
    }
    int64_t i = 0;
    CHECK_RC(toto_session_get_i64(s, STR("k"), &i), TOTO_RESULT_OK);
    CHECK(i == 7);
    /* Deeper than TOTO_MAX_DEPTH: refused. */
    char *open = repeat_char('[', TOTO_MAX_DEPTH + 1);
    char *close = repeat_char(']', TOTO_MAX_DEPTH + 1);
    size_t n = 2 * (TOTO_MAX_DEPTH + 1);
    char *deep = malloc(n + 1);
    memcpy(deep, open, TOTO_MAX_DEPTH + 1);
    memcpy(deep + TOTO_MAX_DEPTH + 1, close, TOTO_MAX_DEPTH + 1);
    deep[n] = '\0';
    toto_error err = {0};
    CHECK_RC(toto_session_set_json(s, STR("deep"), deep, n, &err), TOTO_RESULT_INVALID_JSON);
    CHECK_ERR(err, TOTO_RESULT_INVALID_JSON);
    /* Exactly TOTO_MAX_DEPTH: accepted. */
    CHECK_RC(toto_session_set_json(s, STR("ok"), deep + 1, n - 2, &err), TOTO_RESULT_OK);
    free(open);
    free(close);
    free(deep);
    /* Over 1 MiB of JSON text. */
    char *big = repeat_char(' ', TOTO_MAX_RECORD_LEN + 1);
    big[0] = '1';
    memset(&err, 0, sizeof err);
    CHECK_RC(toto_session_set_json(s, STR("big"), big, TOTO_MAX_RECORD_LEN + 1, &err),
             TOTO_RESULT_TOO_LARGE);
    CHECK_ERR(err, TOTO_RESULT_TOO_LARGE);
    free(big);
    toto_session_free(s);
}

/* toto_value_cbor_to_tagged_json / toto_value_tagged_json_to_cbor: lossless both ways,
 * for what plain JSON cannot carry too; bad input refused with details. */
static void test_tagged_json_conversions(void) {
    static const struct {
        const char *cbor;
        size_t cbor_len;
        const char *json;
    } cases[] = {
        {"\xf6", 1, "null"},
        {"\x38\x63", 2, "-100"},
        {"\x1b\xff\xff\xff\xff\xff\xff\xff\xff", 9, "{\"$int\":\"18446744073709551615\"}"},
        {"\x3b\xff\xff\xff\xff\xff\xff\xff\xff", 9, "{\"$int\":\"-18446744073709551616\"}"},
        {"\xf9\x3c\x00", 3, "1.0"},
        {"\xf9\x7e\x00", 3, "{\"$float\":\"NaN\"}"},
        {"\xf9\xfc\x00", 3, "{\"$float\":\"-Infinity\"}"},
        {"\x42\x00\xff", 3, "{\"$bytes\":\"AP8=\"}"},
        {"\x82\x61\x78\x41\x01", 5, "[\"x\",{\"$bytes\":\"AQ==\"}]"},
        /* {"b": 1, "a": 2}: members stay in the map's order */
        {"\xa2\x61\x62\x01\x61\x61\x02", 7, "{\"b\":1,\"a\":2}"},
        /* {1: "one"}: a non-text key */
        {"\xa1\x01\x63one", 6, "{\"$map\":[1,\"one\"]}"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        toto_bytes json = {0}, cbor = {0};
        toto_error err = {0};
        if (CHECK_RC(toto_value_cbor_to_tagged_json((const uint8_t *)cases[k].cbor,
                                                    cases[k].cbor_len, &json, &err),
                     TOTO_RESULT_OK)) {
            CHECK_STR(json.data, json.len, cases[k].json);
            toto_bytes_free(&json);
        } else {
            printf("#     (case #%zu: %s)\n", k, err.message);
        }
        if (CHECK_RC(toto_value_tagged_json_to_cbor(STR(cases[k].json), &cbor, &err),
                     TOTO_RESULT_OK)) {
            /* NaN and half floats: the library writes the shortest exact form. */
            CHECK_MEM(cbor.data, cbor.len, cases[k].cbor, cases[k].cbor_len);
            toto_bytes_free(&cbor);
        } else {
            printf("#     (case #%zu: %s)\n", k, err.message);
        }
    }
    /* What a session stores converts like any CBOR item. */
    toto_session *s = new_session("u");
    if (s) {
        toto_bytes cbor = {0}, json = {0};
        toto_error err = {0};
        CHECK_RC(toto_value_tagged_json_to_cbor(STR("{\"$map\":[{\"$bytes\":\"AQ==\"},true]}"),
                                                &cbor, &err),
                 TOTO_RESULT_OK);
        CHECK_RC(toto_session_set_cbor(s, STR("m"), cbor.data, cbor.len, &err), TOTO_RESULT_OK);
        toto_bytes_free(&cbor);
        CHECK(type_of(s, "m") == TOTO_VALUE_TYPE_MAP);
        CHECK_RC(toto_session_get_cbor(s, STR("m"), &cbor, &err), TOTO_RESULT_OK);
        CHECK_RC(toto_value_cbor_to_tagged_json(cbor.data, cbor.len, &json, &err), TOTO_RESULT_OK);
        CHECK_STR(json.data, json.len, "{\"$map\":[{\"$bytes\":\"AQ==\"},true]}");
        toto_bytes_free(&cbor);
        toto_bytes_free(&json);
        toto_session_free(s);
    }
    /* Bad input: codes, details, outputs untouched. */
    static const char *bad_json[] = {"", "{", "{\"$int\":\"18446744073709551616\"}",
                                     "{\"$bytes\":\"*\"}", "{\"$map\":[1]}", "{\"$x\":1}",
                                     "[1] 2"};
    for (size_t k = 0; k < sizeof bad_json / sizeof bad_json[0]; k++) {
        toto_bytes out = {(uint8_t *)0x1, 7};
        toto_error err = {0};
        if (!CHECK_RC(toto_value_tagged_json_to_cbor(STR(bad_json[k]), &out, &err),
                      TOTO_RESULT_INVALID_JSON)) {
            printf("#     (case #%zu)\n", k);
        }
        CHECK_ERR(err, TOTO_RESULT_INVALID_JSON);
        CHECK(out.data == (uint8_t *)0x1 && out.len == 7);
    }
    toto_bytes out = {0};
    toto_error err = {0};
    CHECK_RC(toto_value_cbor_to_tagged_json(BYTES("\x01\x02"), &out, &err),
             TOTO_RESULT_INVALID_CBOR);
    CHECK_ERR(err, TOTO_RESULT_INVALID_CBOR);
    CHECK_RC(toto_value_cbor_to_tagged_json(NULL, 0, &out, &err), TOTO_RESULT_INVALID_CBOR);
    CHECK_RC(toto_value_cbor_to_tagged_json(NULL, 1, &out, NULL), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_value_cbor_to_tagged_json(BYTES("\xf6"), NULL, NULL), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_value_tagged_json_to_cbor(STR("null"), NULL, NULL), TOTO_RESULT_NULL_ARGUMENT);
    CHECK(out.data == NULL);
    /* Over 1 MiB of JSON text. */
    char *big = repeat_char(' ', TOTO_MAX_RECORD_LEN + 1);
    big[0] = '1';
    CHECK_RC(toto_value_tagged_json_to_cbor(big, TOTO_MAX_RECORD_LEN + 1, &out, &err),
             TOTO_RESULT_TOO_LARGE);
    free(big);
}

/* toto_session_get_scalar: type and value in one call, for every kind of value. */
static void test_get_scalar(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    static const uint8_t big[] = {0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; /* 2^64-1 */
    static const uint8_t raw[] = {0, 1, 255};
    CHECK_RC(toto_session_set_null(s, STR("n")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_bool(s, STR("f"), false), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_bool(s, STR("t"), true), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_i64(s, STR("i"), -42), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_cbor(s, STR("big"), big, sizeof big, NULL), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_f64(s, STR("x"), 2.5), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_text(s, STR("s"), STR("h\xc3\xa9")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_bytes(s, STR("b"), raw, sizeof raw), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_json(s, STR("m"), STR("{\"a\":[1]}"), NULL), TOTO_RESULT_OK);
    toto_scalar v;
    memset(&v, 0x5a, sizeof v);
    CHECK_RC(toto_session_get_scalar(s, STR("missing"), &v), TOTO_RESULT_NOT_FOUND);
    CHECK(v.len == 0x5a5a5a5a5a5a5a5aull); /* untouched on failure */
    CHECK_RC(toto_session_get_scalar(s, STR("n"), NULL), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_session_get_scalar(s, STR("n"), &v), TOTO_RESULT_OK);
    CHECK(v.value_type == TOTO_VALUE_TYPE_NULL && v.data == NULL && v.len == 0);
    CHECK_RC(toto_session_get_scalar(s, STR("f"), &v), TOTO_RESULT_OK);
    CHECK(v.value_type == TOTO_VALUE_TYPE_BOOL && v.boolean == false);
    CHECK_RC(toto_session_get_scalar(s, STR("t"), &v), TOTO_RESULT_OK);
    CHECK(v.value_type == TOTO_VALUE_TYPE_BOOL && v.boolean == true);
    CHECK_RC(toto_session_get_scalar(s, STR("i"), &v), TOTO_RESULT_OK);
    CHECK(v.value_type == TOTO_VALUE_TYPE_INTEGER && v.integer_fits && v.integer == -42);
    CHECK_RC(toto_session_get_scalar(s, STR("big"), &v), TOTO_RESULT_OK);
    CHECK(v.value_type == TOTO_VALUE_TYPE_INTEGER && !v.integer_fits);
    CHECK_RC(toto_session_get_scalar(s, STR("x"), &v), TOTO_RESULT_OK);
    CHECK(v.value_type == TOTO_VALUE_TYPE_FLOAT && v.number == 2.5);
    CHECK_RC(toto_session_get_scalar(s, STR("s"), &v), TOTO_RESULT_OK);
    CHECK(v.value_type == TOTO_VALUE_TYPE_TEXT);
    CHECK_STR((const char *)v.data, v.len, "h\xc3\xa9");
    CHECK_RC(toto_session_get_scalar(s, STR("b"), &v), TOTO_RESULT_OK);
    CHECK(v.value_type == TOTO_VALUE_TYPE_BYTES);
    CHECK_MEM(v.data, v.len, raw, sizeof raw);
    CHECK_RC(toto_session_get_scalar(s, STR("m"), &v), TOTO_RESULT_OK);
    CHECK(v.value_type == TOTO_VALUE_TYPE_MAP && v.data == NULL);
    toto_session_free(s);
}

/* The _z entry points: NUL-terminated keys (and text), the same values and checks as
 * the calls with lengths; toto_session_get_scalar_z packs the head into its return. */
static void test_z_entry_points(void) {
    toto_session *s = new_session("u");
    if (!s) return;
    static const uint8_t raw[] = {0, 1, 255};
    CHECK_RC(toto_session_set_null_z(s, "n"), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_bool_z(s, "f", false), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_bool_z(s, "t", true), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_i64_z(s, "i", INT64_MIN), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_f64_z(s, "x", -2.5), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_text_z(s, "s", "h\xc3\xa9"), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_text_z(s, "e", ""), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_bytes_z(s, "b", raw, sizeof raw), TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_json(s, STR("m"), STR("{\"a\":1}"), NULL), TOTO_RESULT_OK);
    /* what the _z setters stored reads back through the calls with lengths */
    int64_t i = 0;
    CHECK_RC(toto_session_get_i64(s, STR("i"), &i), TOTO_RESULT_OK);
    CHECK(i == INT64_MIN);
    const char *p = NULL;
    size_t len = 0;
    CHECK_RC(toto_session_get_text(s, STR("s"), &p, &len), TOTO_RESULT_OK);
    CHECK_STR(p, len, "h\xc3\xa9");

    toto_scalar v;
    memset(&v, 0x5a, sizeof v);
    CHECK(toto_session_get_scalar_z(s, "missing", &v) == -(int64_t)TOTO_RESULT_NOT_FOUND);
    CHECK(v.len == 0x5a5a5a5a5a5a5a5aull); /* untouched on failure */
    CHECK(toto_session_get_scalar_z(s, "n", NULL) == -(int64_t)TOTO_RESULT_NULL_ARGUMENT);
    CHECK(toto_session_get_scalar_z(s, NULL, &v) == -(int64_t)TOTO_RESULT_NULL_ARGUMENT);
    CHECK(toto_session_get_scalar_z(NULL, "n", &v) == -(int64_t)TOTO_RESULT_NULL_ARGUMENT);
    CHECK(toto_session_get_scalar_z(s, "n", &v) == TOTO_VALUE_TYPE_NULL);
    CHECK(toto_session_get_scalar_z(s, "f", &v) == TOTO_VALUE_TYPE_BOOL);
    CHECK(toto_session_get_scalar_z(s, "t", &v) == (TOTO_VALUE_TYPE_BOOL | (1 << 8)));
    CHECK(v.boolean == true);
    CHECK(toto_session_get_scalar_z(s, "i", &v) == (TOTO_VALUE_TYPE_INTEGER | (1 << 9)));
    CHECK(v.integer_fits && v.integer == INT64_MIN);
    CHECK(toto_session_get_scalar_z(s, "x", &v) == TOTO_VALUE_TYPE_FLOAT);
    CHECK(v.number == -2.5);
    CHECK(toto_session_get_scalar_z(s, "s", &v) == (TOTO_VALUE_TYPE_TEXT | (3 << 16)));
    CHECK_STR((const char *)v.data, v.len, "h\xc3\xa9");
    CHECK(toto_session_get_scalar_z(s, "e", &v) == TOTO_VALUE_TYPE_TEXT);
    CHECK(toto_session_get_scalar_z(s, "b", &v) == (TOTO_VALUE_TYPE_BYTES | (3 << 16)));
    CHECK_MEM(v.data, v.len, raw, sizeof raw);
    CHECK(toto_session_get_scalar_z(s, "m", &v) == TOTO_VALUE_TYPE_MAP);

    /* the checks of the calls with lengths: NULL, invalid UTF-8, length limits */
    CHECK_RC(toto_session_set_i64_z(s, NULL, 1), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_session_set_i64_z(NULL, "k", 1), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_session_set_text_z(s, "k", NULL), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_RC(toto_session_set_text_z(s, "k", "\xff"), TOTO_RESULT_INVALID_UTF8);
    CHECK_RC(toto_session_set_i64_z(s, "\xff", 1), TOTO_RESULT_INVALID_UTF8);
    char key[TOTO_MAX_NAME_LEN + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0'; /* TOTO_MAX_NAME_LEN + 1 bytes */
    CHECK_RC(toto_session_set_i64_z(s, key, 1), TOTO_RESULT_TOO_LARGE);
    CHECK(toto_session_get_scalar_z(s, key, &v) == -(int64_t)TOTO_RESULT_TOO_LARGE);
    key[TOTO_MAX_NAME_LEN] = '\0'; /* exactly the limit */
    CHECK_RC(toto_session_set_i64_z(s, key, 5), TOTO_RESULT_OK);
    CHECK(toto_session_get_scalar_z(s, key, &v) == (TOTO_VALUE_TYPE_INTEGER | (1 << 9)));
    CHECK(v.integer == 5);
    toto_session_free(s);
}

int main(void) {
    RUN(test_get_scalar);
    RUN(test_z_entry_points);
    RUN(test_null_vs_missing);
    RUN(test_bool);
    RUN(test_i64);
    RUN(test_integers_outside_i64);
    RUN(test_f64);
    RUN(test_text);
    RUN(test_bytes);
    RUN(test_falsy_values_read_back_as_themselves);
    RUN(test_overwrite_changes_type);
    RUN(test_key_at_len_contains_delete_clear);
    RUN(test_key_names_limits);
    RUN(test_cbor_nested_in_and_out);
    RUN(test_cbor_depth_limit);
    RUN(test_deep_values_on_a_small_stack);
    RUN(test_cbor_invalid);
    RUN(test_json_in_and_out);
    RUN(test_json_into);
    RUN(test_json_invalid);
    RUN(test_tagged_json_conversions);
    return finish();
}
