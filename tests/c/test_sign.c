/*
 * test_sign.c: HMAC signing and verification against Toto's wire vectors
 * (/work/shared/vectors/toto-wire.json, copied here as literals): toto_hmac /
 * toto_verify, session hmac / verify, request and response signatures, tampering,
 * missing key, buffer capacity, size limits, and toto_generate_id's format.
 */
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *key;
    const char *method;
    const char *uri;
    const char *body_hex; /* NULL: body is `repeat_x` bytes of 'x' */
    size_t repeat_x;
    const char *mac;
} request_vector;

typedef struct {
    const char *key;
    const char *session_id;
    const char *body_hex;
    size_t repeat_x;
    const char *mac;
} response_vector;

#define BODY_LOGIN                                                                         \
    "7b226d6574686f64223a226163636f756e742e6c6f67696e222c22706172616d6574657273223a7b2275" \
    "7365725f6964223a226140622e63222c2270617373776f7264223a2278227d7d"
#define BODY_UNICODE "7b226d223a22636166c3a920e29883227d"
#define BODY_BINARY                                                                        \
    "5f1670a9821bc72985d7645e7dbb07780b4eb4d9fb9d979464a52b2b803afb03c5338aebdc8c3b678358" \
    "f3d8935a75e844a88c9bf5ba0162c8dbd2f4e2f0bd83cf2184c78f346df30e7bde5d918d33f081697cd0" \
    "5b6a5800898a9fc99c54759907cd3aa22d8c952edc17cc8dccd9d1ee4108d7f1ac1215de047303c1c147" \
    "3f441ccc9f2f584a112a284187f32ba845a5b64b74b3527f791d064f62576bcb30421b40e6ba82fa35f7" \
    "9b6ed1f9053904652509b8f52972b481ad6d8bd538faf9a1ccb184733986a60765ac93cd52a8a16d0fbc" \
    "4c20f736e00c4e12db134feaf04cbe286a904021028fe0d90997d137f6e691752bd3dedef9c7b49f8209" \
    "603358193492ace56e97317e1af0aa634b817f04539cdf66e648042833db53cffc90c822566d3644ac18" \
    "d661ee8c58ea"

static const request_vector REQUESTS[] = {
    {"4daviHzE_Ig8ELkKFSIrKg", "PUT", "/account/login", "", 0, "DaedXxjsflA71b/Adt0R8pxXZWg="},
    {"IpSNxRpSCmgSYd39ySXUIA", "GET", "/", BODY_LOGIN, 0, "GOEWZ+7e2CNYJxMyDkoCPxqTFHI="},
    {"deVGG8kL00sDnasDF2kd0w", "PUT", "/", BODY_UNICODE, 0, "SfE56r2DAJuGUIYJinopDBeGuzc="},
    {"b-n2YM74iujRS4xAtnpQGQ", "GET", "/", BODY_BINARY, 0, "/1CalaUP04YV9Bjf92QL4ZCUX7U="},
    {"EOlR-Jn4dBxAN8iex_rkig", "POST", "/account/login", NULL, 4096,
     "sevSZp6oegnQZEJ/IOkRTrfjrDU="},
};

static const response_vector RESPONSES[] = {
    {"4daviHzE_Ig8ELkKFSIrKg", "6Yk2RMJVmYHXQV5WVx1KPA", "", 0, "N5X/1ARo0Y9yOi6Dvc+45wKZo7k="},
    {"IpSNxRpSCmgSYd39ySXUIA", "Vx2dlsjtYBOSjDmQFPNEXQ", BODY_LOGIN, 0,
     "wWMBE/W1+syugYQQzDhkd2QrWuc="},
    {"deVGG8kL00sDnasDF2kd0w", "4soKMD3J_JZrKR1zKq49KA", BODY_UNICODE, 0,
     "JJgwhEBM8DebZD6ebkzfdtYyWLI="},
    {"b-n2YM74iujRS4xAtnpQGQ", "NaZRCgYCyfvsS7mYUXNkUA", BODY_BINARY, 0,
     "KW+Q6AJc6GGvJqm5hFWrsbIJBmw="},
    {"EOlR-Jn4dBxAN8iex_rkig", "3rB4qVtCLoo1TjI_XBTRRw", NULL, 4096,
     "bpjNS3+YIdt7/QxpJN/rJkvvHls="},
};

#define NVEC(a) (sizeof(a) / sizeof((a)[0]))

static uint8_t *vector_body(const char *hex, size_t repeat_x, size_t *len) {
    if (hex) return hex_decode(hex, len);
    *len = repeat_x;
    return (uint8_t *)repeat_char('x', repeat_x);
}

/* METHOD + URI + BODY in one malloc'd buffer. */
static uint8_t *concat3(const char *a, const char *b, const uint8_t *c, size_t clen,
                        size_t *len) {
    size_t la = strlen(a), lb = strlen(b);
    uint8_t *m = malloc(la + lb + clen + 1);
    memcpy(m, a, la);
    memcpy(m + la, b, lb);
    if (clen) memcpy(m + la + lb, c, clen);
    *len = la + lb + clen;
    return m;
}

static toto_session *keyed_session(const char *id, const char *key) {
    toto_session *s = id ? new_session_with_id(id, "u", now_seconds() + 60) : new_session("u");
    if (s && key && !CHECK_RC(toto_session_set_key(s, STR(key)), TOTO_RESULT_OK)) {
        toto_session_free(s);
        return NULL;
    }
    return s;
}

static void test_toto_hmac_matches_request_vectors(void) {
    for (size_t v = 0; v < NVEC(REQUESTS); v++) {
        const request_vector *r = &REQUESTS[v];
        size_t blen = 0, mlen = 0;
        uint8_t *body = vector_body(r->body_hex, r->repeat_x, &blen);
        uint8_t *msg = concat3(r->method, r->uri, body, blen, &mlen);
        char mac[TOTO_MAC_BUFFER_LEN];
        if (CHECK_RC(toto_hmac(BYTES(r->key), msg, mlen, mac, sizeof mac), TOTO_RESULT_OK)) {
            if (!CHECK(strcmp(mac, r->mac) == 0)) printf("#     vector %zu: %s\n", v, mac);
        }
        CHECK_RC(toto_verify(BYTES(r->key), STR(r->mac), msg, mlen), TOTO_RESULT_OK);
        free(body);
        free(msg);
    }
}

static void test_session_request_vectors_and_tampering(void) {
    for (size_t v = 0; v < NVEC(REQUESTS); v++) {
        const request_vector *r = &REQUESTS[v];
        toto_session *s = keyed_session(NULL, r->key);
        if (!s) return;
        size_t blen = 0;
        uint8_t *body = vector_body(r->body_hex, r->repeat_x, &blen);
        char mac[TOTO_MAC_BUFFER_LEN];
        memset(mac, 'Z', sizeof mac);
        if (CHECK_RC(toto_session_sign_request(s, STR(r->method), STR(r->uri), body, blen, mac,
                                               sizeof mac),
                     TOTO_RESULT_OK)) {
            CHECK(mac[28] == '\0');
            if (!CHECK(strcmp(mac, r->mac) == 0)) printf("#     vector %zu: %s\n", v, mac);
        }
        CHECK_RC(toto_session_verify_request(s, STR(r->mac), STR(r->method), STR(r->uri), body,
                                             blen),
                 TOTO_RESULT_OK);

        /* Tampered method, uri, body or mac: Toto's 1008. */
        char method[16];
        snprintf(method, sizeof method, "%s", r->method);
        method[0] = (char)(method[0] + 32); /* lowercase first letter */
        CHECK_RC(toto_session_verify_request(s, STR(r->mac), STR(method), STR(r->uri), body,
                                             blen),
                 TOTO_RESULT_INVALID_HMAC);
        char uri[64];
        snprintf(uri, sizeof uri, "%s?x=1", r->uri);
        CHECK_RC(toto_session_verify_request(s, STR(r->mac), STR(r->method), STR(uri), body,
                                             blen),
                 TOTO_RESULT_INVALID_HMAC);
        if (blen > 0) {
            body[blen / 2] ^= 0x01;
            CHECK_RC(toto_session_verify_request(s, STR(r->mac), STR(r->method), STR(r->uri),
                                                 body, blen),
                     TOTO_RESULT_INVALID_HMAC);
            body[blen / 2] ^= 0x01;
            CHECK_RC(toto_session_verify_request(s, STR(r->mac), STR(r->method), STR(r->uri),
                                                 body, blen - 1),
                     TOTO_RESULT_INVALID_HMAC);
        } else {
            CHECK_RC(toto_session_verify_request(s, STR(r->mac), STR(r->method), STR(r->uri),
                                                 BYTES(" ")),
                     TOTO_RESULT_INVALID_HMAC);
        }
        /* Moving bytes between the parts changes nothing: the message is the
         * concatenation (as Toto computes it). */
        char joined[128];
        snprintf(joined, sizeof joined, "%s%s", r->method, r->uri);
        CHECK_RC(toto_session_verify_request(s, STR(r->mac), joined, 1, joined + 1,
                                             strlen(joined) - 1, body, blen),
                 TOTO_RESULT_OK);
        char bad[TOTO_MAC_BUFFER_LEN + 1];
        snprintf(bad, sizeof bad, "%s", r->mac);
        bad[5] = bad[5] == 'A' ? 'B' : 'A';
        CHECK_RC(toto_session_verify_request(s, STR(bad), STR(r->method), STR(r->uri), body,
                                             blen),
                 TOTO_RESULT_INVALID_HMAC);
        CHECK_RC(toto_session_verify_request(s, r->mac, 27, STR(r->method), STR(r->uri), body,
                                             blen),
                 TOTO_RESULT_INVALID_HMAC);
        CHECK_RC(toto_session_verify_request(s, r->mac, 29, STR(r->method), STR(r->uri), body,
                                             blen),
                 TOTO_RESULT_INVALID_HMAC); /* the NUL is not part of the mac */
        CHECK_RC(toto_session_verify_request(s, "", 0, STR(r->method), STR(r->uri), body, blen),
                 TOTO_RESULT_INVALID_HMAC);
        /* A different key refuses it. */
        CHECK_RC(toto_session_set_key(s, STR("another-key")), TOTO_RESULT_OK);
        CHECK_RC(toto_session_verify_request(s, STR(r->mac), STR(r->method), STR(r->uri), body,
                                             blen),
                 TOTO_RESULT_INVALID_HMAC);
        free(body);
        toto_session_free(s);
    }
}

static void test_session_response_vectors_and_tampering(void) {
    for (size_t v = 0; v < NVEC(RESPONSES); v++) {
        const response_vector *r = &RESPONSES[v];
        toto_session *s = keyed_session(r->session_id, r->key);
        if (!s) return;
        size_t blen = 0;
        uint8_t *body = vector_body(r->body_hex, r->repeat_x, &blen);
        char mac[TOTO_MAC_BUFFER_LEN];
        if (CHECK_RC(toto_session_sign_response(s, body, blen, mac, sizeof mac), TOTO_RESULT_OK)) {
            if (!CHECK(strcmp(mac, r->mac) == 0)) printf("#     vector %zu: %s\n", v, mac);
        }
        CHECK_RC(toto_session_verify_response(s, STR(r->mac), body, blen), TOTO_RESULT_OK);
        /* The same as toto_hmac over SESSION_ID + BODY. */
        size_t mlen = 0;
        uint8_t *msg = concat3(r->session_id, "", body, blen, &mlen);
        char direct[TOTO_MAC_BUFFER_LEN];
        CHECK_RC(toto_hmac(BYTES(r->key), msg, mlen, direct, sizeof direct), TOTO_RESULT_OK);
        CHECK(strcmp(direct, r->mac) == 0);
        free(msg);
        if (blen > 0) {
            body[0] ^= 0x80;
            CHECK_RC(toto_session_verify_response(s, STR(r->mac), body, blen),
                     TOTO_RESULT_INVALID_HMAC);
            body[0] ^= 0x80;
        } else {
            CHECK_RC(toto_session_verify_response(s, STR(r->mac), BYTES("x")),
                     TOTO_RESULT_INVALID_HMAC);
        }
        char bad[TOTO_MAC_BUFFER_LEN];
        snprintf(bad, sizeof bad, "%s", r->mac);
        bad[0] = bad[0] == 'a' ? 'b' : 'a';
        CHECK_RC(toto_session_verify_response(s, STR(bad), body, blen), TOTO_RESULT_INVALID_HMAC);
        /* The response mac follows the session's current id. */
        CHECK_RC(toto_session_set_id(s, STR("rotated-session-id")), TOTO_RESULT_OK);
        CHECK_RC(toto_session_verify_response(s, STR(r->mac), body, blen),
                 TOTO_RESULT_INVALID_HMAC);
        char rotated[TOTO_MAC_BUFFER_LEN];
        CHECK_RC(toto_session_sign_response(s, body, blen, rotated, sizeof rotated),
                 TOTO_RESULT_OK);
        CHECK(strcmp(rotated, r->mac) != 0);
        CHECK_RC(toto_session_verify_response(s, STR(rotated), body, blen), TOTO_RESULT_OK);
        free(body);
        toto_session_free(s);
    }
}

static void test_session_hmac_and_verify(void) {
    toto_session *s = keyed_session(NULL, "k3y");
    if (!s) return;
    char a[TOTO_MAC_BUFFER_LEN], b[TOTO_MAC_BUFFER_LEN];
    CHECK_RC(toto_session_hmac(s, BYTES("message"), a, sizeof a), TOTO_RESULT_OK);
    CHECK_RC(toto_hmac(BYTES("k3y"), BYTES("message"), b, sizeof b), TOTO_RESULT_OK);
    CHECK(strlen(a) == 28 && strcmp(a, b) == 0);
    CHECK_RC(toto_session_verify(s, STR(a), BYTES("message")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_verify(s, STR(a), BYTES("messagE")), TOTO_RESULT_INVALID_HMAC);
    /* Like Toto: an empty mac or an empty message never verifies. */
    CHECK_RC(toto_session_verify(s, "", 0, BYTES("message")), TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_session_hmac(s, NULL, 0, b, sizeof b), TOTO_RESULT_OK);
    CHECK_RC(toto_session_verify(s, STR(b), NULL, 0), TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_session_verify_request(s, STR(b), "", 0, "", 0, NULL, 0),
             TOTO_RESULT_INVALID_HMAC);
    /* The signature follows key changes. */
    CHECK_RC(toto_session_set_key(s, STR("other")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_verify(s, STR(a), BYTES("message")), TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_session_hmac(s, BYTES("message"), b, sizeof b), TOTO_RESULT_OK);
    CHECK(strcmp(a, b) != 0);
    /* A generated key (Toto's login) signs as its ASCII bytes. */
    const char *k = NULL;
    size_t kl = 0;
    CHECK_RC(toto_session_generate_key(s, &k, &kl), TOTO_RESULT_OK);
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)kl, k);
    CHECK_RC(toto_session_hmac(s, BYTES("m"), a, sizeof a), TOTO_RESULT_OK);
    CHECK_RC(toto_hmac(BYTES(key), BYTES("m"), b, sizeof b), TOTO_RESULT_OK);
    CHECK(strcmp(a, b) == 0);
    toto_session_free(s);
}

static void test_method_and_uri_are_bytes(void) {
    toto_session *s = keyed_session(NULL, "k3y");
    if (!s) return;
    char a[TOTO_MAC_BUFFER_LEN], b[TOTO_MAC_BUFFER_LEN];
    /* A raw (non-UTF-8) path byte is signed as it is. */
    CHECK_RC(toto_session_sign_request(s, STR("GET"), STR("/caf\xe9"), NULL, 0, a, sizeof a),
             TOTO_RESULT_OK);
    CHECK_RC(toto_hmac(BYTES("k3y"), BYTES("GET/caf\xe9"), b, sizeof b), TOTO_RESULT_OK);
    CHECK(strcmp(a, b) == 0);
    CHECK_RC(toto_session_verify_request(s, STR(a), STR("GET"), STR("/caf\xe9"), NULL, 0),
             TOTO_RESULT_OK);
    toto_session_free(s);
}

static void test_no_key_is_invalid_hmac(void) {
    toto_session *s = keyed_session(NULL, NULL);
    if (!s) return;
    const char *mac = "DaedXxjsflA71b/Adt0R8pxXZWg=";
    char out[TOTO_MAC_BUFFER_LEN];
    memset(out, 'Z', sizeof out);
    CHECK_RC(toto_session_hmac(s, BYTES("m"), out, sizeof out), TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_session_verify(s, STR(mac), BYTES("m")), TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_session_sign_request(s, STR("PUT"), STR("/account/login"), NULL, 0, out,
                                       sizeof out),
             TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_session_verify_request(s, STR(mac), STR("PUT"), STR("/account/login"), NULL, 0),
             TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_session_sign_response(s, BYTES("{}"), out, sizeof out),
             TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_session_verify_response(s, STR(mac), BYTES("{}")), TOTO_RESULT_INVALID_HMAC);
    CHECK(out[0] == 'Z'); /* nothing written */
    /* A key that was cleared again behaves the same. */
    CHECK_RC(toto_session_set_key(s, STR("4daviHzE_Ig8ELkKFSIrKg")), TOTO_RESULT_OK);
    CHECK_RC(toto_session_verify_request(s, STR(mac), STR("PUT"), STR("/account/login"), NULL, 0),
             TOTO_RESULT_OK);
    CHECK_RC(toto_session_set_key(s, NULL, 0), TOTO_RESULT_OK);
    CHECK_RC(toto_session_verify_request(s, STR(mac), STR("PUT"), STR("/account/login"), NULL, 0),
             TOTO_RESULT_INVALID_HMAC);
    /* toto_hmac / toto_verify with an empty key. */
    CHECK_RC(toto_hmac(NULL, 0, BYTES("m"), out, sizeof out), TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_hmac(BYTES(""), BYTES("m"), out, sizeof out), TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_verify(NULL, 0, STR(mac), BYTES("m")), TOTO_RESULT_INVALID_HMAC);
    toto_session_free(s);
}

static void test_toto_verify_refusals(void) {
    const request_vector *r = &REQUESTS[2];
    size_t blen = 0, mlen = 0;
    uint8_t *body = vector_body(r->body_hex, 0, &blen);
    uint8_t *msg = concat3(r->method, r->uri, body, blen, &mlen);
    CHECK_RC(toto_verify(BYTES(r->key), STR(r->mac), msg, mlen), TOTO_RESULT_OK);
    CHECK_RC(toto_verify(BYTES(r->key), "", 0, msg, mlen), TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_verify(BYTES(r->key), STR(r->mac), NULL, 0), TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_verify(BYTES(r->key), STR(r->mac), msg, mlen - 1), TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_verify(BYTES("deVGG8kL00sDnasDF2kd0W"), STR(r->mac), msg, mlen),
             TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_verify(BYTES(r->key), r->mac, 27, msg, mlen), TOTO_RESULT_INVALID_HMAC);
    CHECK_RC(toto_verify(BYTES(r->key), STR("sfE56r2DAJuGUIYJinopDBeGuzc="), msg, mlen),
             TOTO_RESULT_INVALID_HMAC);
    /* URL-safe base64 of the same bytes is not the same mac. */
    CHECK_RC(toto_verify(BYTES(r->key), STR("SfE56r2DAJuGUIYJinopDBeGuzc"), msg, mlen),
             TOTO_RESULT_INVALID_HMAC);
    free(body);
    free(msg);
}

static void test_capacity_and_key_limits(void) {
    char out[64];
    memset(out, 'Z', sizeof out);
    CHECK_RC(toto_hmac(BYTES("k"), BYTES("m"), out, TOTO_MAC_BUFFER_LEN - 1),
             TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_RC(toto_hmac(BYTES("k"), BYTES("m"), out, 0), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK(out[0] == 'Z');
    CHECK_RC(toto_hmac(BYTES("k"), BYTES("m"), out, TOTO_MAC_BUFFER_LEN), TOTO_RESULT_OK);
    CHECK(strlen(out) == 28 && out[29] == 'Z');
    CHECK_RC(toto_hmac(BYTES("k"), BYTES("m"), out, sizeof out), TOTO_RESULT_OK);
    CHECK(strlen(out) == 28);

    char *max = repeat_char('k', TOTO_MAX_KEY_LEN);
    char *over = repeat_char('k', TOTO_MAX_KEY_LEN + 1);
    CHECK_RC(toto_hmac(BYTES(max), BYTES("m"), out, sizeof out), TOTO_RESULT_OK);
    CHECK_RC(toto_verify(BYTES(max), STR(out), BYTES("m")), TOTO_RESULT_OK);
    CHECK_RC(toto_hmac(BYTES(over), BYTES("m"), out, sizeof out), TOTO_RESULT_TOO_LARGE);
    CHECK_RC(toto_verify(BYTES(over), STR(out), BYTES("m")), TOTO_RESULT_TOO_LARGE);
    free(max);
    free(over);

    toto_session *s = keyed_session("4soKMD3J_JZrKR1zKq49KA", "k");
    if (!s) return;
    memset(out, 'Z', sizeof out);
    CHECK_RC(toto_session_hmac(s, BYTES("m"), out, 28), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_RC(toto_session_sign_request(s, STR("GET"), STR("/"), NULL, 0, out, 28),
             TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_RC(toto_session_sign_response(s, NULL, 0, out, 28), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_RC(toto_session_sign_response(s, NULL, 0, out, 1), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK(out[0] == 'Z');
    CHECK_RC(toto_session_hmac(s, BYTES("m"), out, TOTO_MAC_BUFFER_LEN), TOTO_RESULT_OK);
    CHECK_RC(toto_session_sign_request(s, STR("GET"), STR("/"), NULL, 0, out, TOTO_MAC_BUFFER_LEN),
             TOTO_RESULT_OK);
    CHECK_RC(toto_session_sign_response(s, NULL, 0, out, TOTO_MAC_BUFFER_LEN), TOTO_RESULT_OK);
    CHECK(strlen(out) == 28);
    toto_session_free(s);
}

static void test_message_size_limit(void) {
    uint8_t *big = calloc(TOTO_MAX_MESSAGE_LEN + 1, 1);
    if (!CHECK(big != NULL)) return;
    char out[TOTO_MAC_BUFFER_LEN];
    const char *mac = "DaedXxjsflA71b/Adt0R8pxXZWg=";
    CHECK_RC(toto_hmac(BYTES("k"), big, TOTO_MAX_MESSAGE_LEN + 1, out, sizeof out),
             TOTO_RESULT_TOO_LARGE);
    CHECK_RC(toto_verify(BYTES("k"), STR(mac), big, TOTO_MAX_MESSAGE_LEN + 1),
             TOTO_RESULT_TOO_LARGE);
    toto_session *s = keyed_session(NULL, "k");
    if (s) {
        CHECK_RC(toto_session_hmac(s, big, TOTO_MAX_MESSAGE_LEN + 1, out, sizeof out),
                 TOTO_RESULT_TOO_LARGE);
        CHECK_RC(toto_session_verify(s, STR(mac), big, TOTO_MAX_MESSAGE_LEN + 1),
                 TOTO_RESULT_TOO_LARGE);
        /* The limit is on METHOD + URI + BODY together, and SESSION_ID + BODY. */
        CHECK_RC(toto_session_sign_request(s, STR("GET"), STR("/"), big, TOTO_MAX_MESSAGE_LEN,
                                           out, sizeof out),
                 TOTO_RESULT_TOO_LARGE);
        CHECK_RC(toto_session_verify_request(s, STR(mac), STR("GET"), STR("/"), big,
                                             TOTO_MAX_MESSAGE_LEN),
                 TOTO_RESULT_TOO_LARGE);
        CHECK_RC(toto_session_sign_response(s, big, TOTO_MAX_MESSAGE_LEN, out, sizeof out),
                 TOTO_RESULT_TOO_LARGE);
        CHECK_RC(toto_session_verify_response(s, STR(mac), big, TOTO_MAX_MESSAGE_LEN),
                 TOTO_RESULT_TOO_LARGE);
        toto_session_free(s);
    }
    free(big);
}

static int b64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

static void test_generate_id_format(void) {
    enum { N = 64 };
    char ids[N][TOTO_ID_BUFFER_LEN];
    for (int i = 0; i < N; i++) {
        memset(ids[i], 'Z', TOTO_ID_BUFFER_LEN);
        if (!CHECK_RC(toto_generate_id(ids[i], TOTO_ID_BUFFER_LEN), TOTO_RESULT_OK)) return;
        CHECK(ids[i][22] == '\0' && strlen(ids[i]) == 22);
        bool alphabet = true;
        for (int k = 0; k < 22; k++) alphabet = alphabet && b64url_value(ids[i][k]) >= 0;
        CHECK(alphabet);
        /* 16 UUIDv4 bytes: version nibble 4 (byte 6), variant 10xx (byte 8). */
        CHECK((b64url_value(ids[i][8]) >> 2) == 4);
        CHECK((b64url_value(ids[i][10]) & 3) == 2);
        /* 16 bytes = 128 bits: the last character carries 2 bits (low 4 zero). */
        CHECK((b64url_value(ids[i][21]) & 0x0f) == 0);
        for (int j = 0; j < i; j++) CHECK(strcmp(ids[i], ids[j]) != 0);
    }
    char small[TOTO_ID_BUFFER_LEN];
    memset(small, 'Z', sizeof small);
    CHECK_RC(toto_generate_id(small, TOTO_ID_BUFFER_LEN - 1), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_RC(toto_generate_id(small, 0), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK(small[0] == 'Z');
    char roomy[100];
    CHECK_RC(toto_generate_id(roomy, sizeof roomy), TOTO_RESULT_OK);
    CHECK(strlen(roomy) == 22);
    /* Generated ids are valid session ids, and so are Toto's. */
    toto_session *s = new_session_with_id(roomy, "", 1.0);
    toto_session_free(s);
    const char *toto_ids[] = {"IpHYzcMQQR5-wnN4pmHJNQ", "GHwH5NVjbpvDxACyckS4zQ",
                              "_rncSx6-VeW4-baA7_dsgQ", "CHo-vsxnaqosXYzhs8asvA"};
    for (size_t i = 0; i < 4; i++) {
        s = new_session_with_id(toto_ids[i], "", 1.0);
        toto_session_free(s);
    }
}

int main(void) {
    RUN(test_toto_hmac_matches_request_vectors);
    RUN(test_session_request_vectors_and_tampering);
    RUN(test_session_response_vectors_and_tampering);
    RUN(test_session_hmac_and_verify);
    RUN(test_method_and_uri_are_bytes);
    RUN(test_no_key_is_invalid_hmac);
    RUN(test_toto_verify_refusals);
    RUN(test_capacity_and_key_limits);
    RUN(test_message_size_limit);
    RUN(test_generate_id_format);
    return finish();
}
