/*
 * toto_session.hpp: a header-only C++17 wrapper over toto_session.h, the C API of
 * toto-session (the session and account layer of the Toto API framework).
 *
 * Conventions (the C header's, made C++):
 * - Handles (Session, Account, Cache, AccountStore, Manager) own their C handle and
 *   release it in their destructor. They move (noexcept) and never copy. A moved-from
 *   handle is empty: destroying it is safe, calling it throws toto::Error
 *   (TOTO_RESULT_NULL_ARGUMENT). capi() gives the C handle for mixing with the C API.
 * - Text goes in as std::string_view, bytes as toto::ByteView; results come out as
 *   std::string, toto::Bytes (std::vector<uint8_t>) or std::optional of those (empty
 *   for a key, property, record or session that does not exist).
 * - Every failure throws toto::Error, carrying the toto_result code, the library's fixed
 *   message for it, and the per-call detail (e.g. a backend's own message) where the C
 *   call reports one.
 * - Thread safety as in C: Cache, AccountStore and Manager may be shared by any number
 *   of threads; a Session or Account is used by one thread at a time (it may move
 *   between threads).
 * - Custom caches and account stores are C++ objects (CacheBackend,
 *   AccountStoreBackend) or sets of std::function callbacks. Their exceptions never
 *   reach the library: the trampolines catch everything and return an error code.
 *
 * Requires C++17 and the library (pkg-config toto_session).
 */

#ifndef TOTO_SESSION_HPP
#define TOTO_SESSION_HPP

#include "toto_session.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace toto {

/// Owned bytes returned by the library (records, CBOR values).
using Bytes = std::vector<uint8_t>;

/// A borrowed byte range passed into the library (not copied until the call copies it).
/// Converts implicitly from text (std::string, std::string_view, C strings) and from
/// Bytes, so bodies, records and CBOR can be passed either way.
class ByteView {
  public:
    /// An empty range.
    constexpr ByteView() noexcept = default;
    /// `size` bytes at `data` (which may be NULL when `size` is 0).
    constexpr ByteView(const uint8_t *data, size_t size) noexcept : data_(data), size_(size) {}
    /// The bytes of a text.
    ByteView(std::string_view text) noexcept
        : data_(reinterpret_cast<const uint8_t *>(text.data())), size_(text.size()) {}
    /// The bytes of a std::string.
    ByteView(const std::string &text) noexcept : ByteView(std::string_view(text)) {}
    /// The bytes of a NUL-terminated string (without the NUL); NULL is empty.
    ByteView(const char *text) noexcept : ByteView(text ? std::string_view(text) : std::string_view()) {}
    /// The bytes of a byte vector.
    ByteView(const Bytes &bytes) noexcept : data_(bytes.data()), size_(bytes.size()) {}

    /// First byte (may be NULL when empty).
    constexpr const uint8_t *data() const noexcept { return data_; }
    /// Number of bytes.
    constexpr size_t size() const noexcept { return size_; }
    /// Whether there are no bytes.
    constexpr bool empty() const noexcept { return size_ == 0; }
    /// Iteration.
    constexpr const uint8_t *begin() const noexcept { return data_; }
    /// Iteration.
    constexpr const uint8_t *end() const noexcept { return data_ + size_; }
    /// A copy as Bytes.
    Bytes to_bytes() const { return Bytes(begin(), end()); }
    /// The same bytes seen as text (no UTF-8 check).
    std::string_view as_string_view() const noexcept {
        return {reinterpret_cast<const char *>(data_), size_};
    }

  private:
    const uint8_t *data_ = nullptr;
    size_t size_ = 0;
};

/// The library's version, e.g. "0.1.0" (static; any thread).
inline std::string_view version() noexcept { return toto_version(); }

/// The version of the header this was compiled against; equal to version() when the
/// header and the library match.
inline constexpr std::string_view header_version = TOTO_SESSION_VERSION;

/// The library's fixed English message for a result code (any thread; never throws).
inline std::string_view result_message(toto_result code) noexcept {
    return toto_result_message(static_cast<uint32_t>(code));
}

/// A failed call: the toto_result code, the library's message for it, and the
/// per-call detail when the C function offers one (a toto_error argument) or the
/// thrower gave one. what() is "toto: <message> (<code>)[: <detail>]" (the detail
/// left out when it only repeats the message).
/// Thrown by every wrapper call; custom backends may throw it to return a given code.
class Error : public std::runtime_error {
  public:
    /// An error for `code` with an optional detail text.
    explicit Error(toto_result code, std::string detail = {})
        : std::runtime_error(describe(code, detail)), code_(code), detail_(std::move(detail)) {}

    /// The result code (never TOTO_RESULT_OK when thrown by the wrapper).
    toto_result code() const noexcept { return code_; }
    /// The code as a number (Toto's own numbers for 1004..1010).
    uint32_t value() const noexcept { return static_cast<uint32_t>(code_); }
    /// The library's fixed message for code() (toto_result_message).
    std::string_view message() const noexcept { return result_message(code_); }
    /// The call's own detail (a backend's message, what failed to parse); may be empty.
    const std::string &detail() const noexcept { return detail_; }

  private:
    static std::string describe(toto_result code, const std::string &detail) {
        std::string s = "toto: ";
        s += toto_result_message(static_cast<uint32_t>(code));
        s += " (";
        s += std::to_string(static_cast<uint32_t>(code));
        s += ")";
        if (!detail.empty() && detail != toto_result_message(static_cast<uint32_t>(code))) {
            s += ": ";
            s += detail;
        }
        return s;
    }

    toto_result code_;
    std::string detail_;
};

/// The type of a stored value (toto_value_type).
enum class ValueType : uint32_t {
    null = TOTO_VALUE_TYPE_NULL,          ///< a stored null (not a missing key)
    boolean = TOTO_VALUE_TYPE_BOOL,       ///< true / false
    integer = TOTO_VALUE_TYPE_INTEGER,    ///< an integer (CBOR range)
    floating = TOTO_VALUE_TYPE_FLOAT,     ///< a float
    text = TOTO_VALUE_TYPE_TEXT,          ///< UTF-8 text
    bytes = TOTO_VALUE_TYPE_BYTES,        ///< a byte string
    array = TOTO_VALUE_TYPE_ARRAY,        ///< an array (read it as JSON or CBOR)
    map = TOTO_VALUE_TYPE_MAP,            ///< a map (read it as JSON or CBOR)
};

/// A value read in one call (Session::get_scalar): its type and, for a scalar, the
/// value itself. Arrays, maps and integers outside int64 carry only their type: read
/// them with get_json or get_cbor.
struct Scalar {
    ValueType type = ValueType::null; ///< the value's type
    bool boolean = false;             ///< the value when type is boolean
    std::optional<int64_t> integer;   ///< the value when type is integer and it fits
    double number = 0;                ///< the value when type is floating
    std::string text;                 ///< the value when type is text
    Bytes bytes;                      ///< the value when type is bytes
};

namespace detail {

inline void check(toto_result rc) {
    if (rc != TOTO_RESULT_OK) throw Error(rc);
}

inline void check(toto_result rc, const toto_error &err) {
    if (rc != TOTO_RESULT_OK) {
        const void *nul = std::memchr(err.message, '\0', sizeof err.message);
        size_t n = nul ? static_cast<size_t>(static_cast<const char *>(nul) - err.message) : sizeof err.message;
        throw Error(rc, std::string(err.message, n));
    }
}

/// True when rc is TOTO_RESULT_OK, false when it is `absent`; throws otherwise.
inline bool found(toto_result rc, toto_result absent = TOTO_RESULT_NOT_FOUND) {
    if (rc == absent) return false;
    check(rc);
    return true;
}

inline bool found(toto_result rc, const toto_error &err,
                  toto_result absent = TOTO_RESULT_NOT_FOUND) {
    if (rc == absent) return false;
    check(rc, err);
    return true;
}

/// A library-owned buffer, freed on scope exit.
struct OwnedBytes {
    toto_bytes raw{nullptr, 0};
    OwnedBytes() noexcept = default;
    OwnedBytes(const OwnedBytes &) = delete;
    OwnedBytes &operator=(const OwnedBytes &) = delete;
    ~OwnedBytes() { toto_bytes_free(&raw); }
    Bytes bytes() const { return Bytes(raw.data, raw.data + raw.len); }
    std::string text() const { return std::string(reinterpret_cast<const char *>(raw.data), raw.len); }
};

/// The shared part of every owning handle: a C pointer released by `Free`.
template <typename T, void (*Free)(T *)>
class Handle {
  public:
    Handle() noexcept = default;
    explicit Handle(T *raw) noexcept : raw_(raw) {}
    Handle(const Handle &) = delete;
    Handle &operator=(const Handle &) = delete;
    Handle(Handle &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    Handle &operator=(Handle &&other) noexcept {
        if (this != &other) {
            Free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    ~Handle() { Free(raw_); }

    /// The C handle (still owned by this object); NULL when empty.
    T *capi() const noexcept { return raw_; }
    /// Gives up ownership: the caller frees the returned C handle.
    T *release() noexcept { return std::exchange(raw_, nullptr); }
    /// Whether this holds a handle (false after a move).
    explicit operator bool() const noexcept { return raw_ != nullptr; }

  protected:
    T *raw_ = nullptr;
};

inline void set_callback_error(toto_callback_ctx *ctx, const char *message) noexcept {
    toto_callback_set_error(ctx, message, std::strlen(message));
}

/// Runs a backend callback body; nothing unwinds into the library. toto::Error gives
/// its code (TOTO_RESULT_OK becomes BACKEND_FAILED), anything else BACKEND_FAILED; the
/// exception's text becomes the callback's error message.
template <typename F>
uint32_t guard(toto_callback_ctx *ctx, F &&body) noexcept {
    try {
        return static_cast<uint32_t>(body());
    } catch (const Error &e) {
        set_callback_error(ctx, e.detail().empty() ? e.what() : e.detail().c_str());
        return e.code() == TOTO_RESULT_OK ? static_cast<uint32_t>(TOTO_RESULT_BACKEND_FAILED)
                                          : static_cast<uint32_t>(e.code());
    } catch (const std::exception &e) {
        set_callback_error(ctx, e.what());
        return TOTO_RESULT_BACKEND_FAILED;
    } catch (...) {
        set_callback_error(ctx, "unknown C++ exception in a toto backend callback");
        return TOTO_RESULT_BACKEND_FAILED;
    }
}

} // namespace detail

/// A session: id, user id, expiry, optional HMAC key and typed state.
/// Thread safety: one thread at a time (destruction included); may be moved between
/// threads. Views the C API lends are copied, so results stay valid after any change.
class Session : public detail::Handle<toto_session, toto_session_free> {
  public:
    /// An empty handle (every call throws until one is moved in).
    Session() noexcept = default;
    /// Takes ownership of a C session handle.
    explicit Session(toto_session *raw) noexcept : Handle(raw) {}

    /// A new session with a fresh random id for `user_id` (lowercased; empty =
    /// anonymous) expiring at `expires` (Unix seconds). It starts dirty.
    /// Throws: TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE,
    /// TOTO_RESULT_INVALID_ARGUMENT (NaN expiry).
    static Session create(std::string_view user_id, double expires) {
        toto_session *s = nullptr;
        detail::check(toto_session_new(user_id.data(), user_id.size(), expires, &s));
        return Session(s);
    }

    /// A new session with a given id (1..128 printable ASCII bytes, no spaces).
    /// Throws: TOTO_RESULT_INVALID_SESSION_ID, TOTO_RESULT_INVALID_UTF8,
    /// TOTO_RESULT_TOO_LARGE.
    static Session with_id(std::string_view id, std::string_view user_id, double expires) {
        toto_session *s = nullptr;
        detail::check(toto_session_new_with_id(id.data(), id.size(), user_id.data(),
                                               user_id.size(), expires, &s));
        return Session(s);
    }

    /// Decodes a record made by export_record (or stored by any cache) into a new,
    /// clean session. Any thread.
    /// Throws: TOTO_RESULT_INVALID_CBOR, TOTO_RESULT_UNSUPPORTED_VERSION,
    /// TOTO_RESULT_TOO_LARGE (with detail).
    static Session import_record(ByteView record) {
        toto_session *s = nullptr;
        toto_error err{};
        detail::check(toto_session_import(record.data(), record.size(), &s, &err), err);
        return Session(s);
    }

    /// Encodes the whole session as the versioned CBOR record every cache stores.
    /// Throws: TOTO_RESULT_TOO_LARGE (over 1 MiB).
    Bytes export_record() const {
        detail::OwnedBytes out;
        toto_error err{};
        detail::check(toto_session_export(raw_, &out.raw, &err), err);
        return out.bytes();
    }

    /// The session id (a copy: a rename does not change it).
    std::string id() const {
        const char *p = nullptr;
        size_t n = 0;
        detail::check(toto_session_id(raw_, &p, &n));
        return std::string(p, n);
    }

    /// Replaces the session id (rotation by hand); marks the session dirty.
    /// Throws: TOTO_RESULT_INVALID_SESSION_ID.
    void set_id(std::string_view id) { detail::check(toto_session_set_id(raw_, id.data(), id.size())); }

    /// The user id (lowercased; empty for an anonymous session).
    std::string user_id() const {
        const char *p = nullptr;
        size_t n = 0;
        detail::check(toto_session_user_id(raw_, &p, &n));
        return std::string(p, n);
    }

    /// Whether the session is anonymous (empty user id).
    bool anonymous() const { return user_id().empty(); }

    /// The expiry (Unix seconds).
    double expires() const {
        double e = 0;
        detail::check(toto_session_expires(raw_, &e));
        return e;
    }

    /// Sets the expiry (Unix seconds); dirty when it changes.
    /// Throws: TOTO_RESULT_INVALID_ARGUMENT (NaN).
    void set_expires(double expires) { detail::check(toto_session_set_expires(raw_, expires)); }

    /// The per-session HMAC key, or nullopt when the session has none. A secret.
    std::optional<std::string> key() const {
        const char *p = nullptr;
        size_t n = 0;
        if (!detail::found(toto_session_key(raw_, &p, &n))) return std::nullopt;
        return std::string(p, n);
    }

    /// Sets the HMAC key (1..256 bytes of UTF-8); an empty key clears it. Dirty.
    /// Throws: TOTO_RESULT_TOO_LARGE, TOTO_RESULT_INVALID_UTF8.
    void set_key(std::string_view key) { detail::check(toto_session_set_key(raw_, key.data(), key.size())); }

    /// Removes the HMAC key. Dirty.
    void clear_key() { detail::check(toto_session_set_key(raw_, nullptr, 0)); }

    /// Sets a fresh random key (as Toto does at login) and returns it.
    std::string generate_key() {
        const char *p = nullptr;
        size_t n = 0;
        detail::check(toto_session_generate_key(raw_, &p, &n));
        return std::string(p, n);
    }

    /// Whether the session changed since it was created, imported, loaded or marked clean.
    bool dirty() const {
        bool d = false;
        detail::check(toto_session_is_dirty(raw_, &d));
        return d;
    }

    /// Marks the session as saved.
    void mark_clean() { detail::check(toto_session_mark_clean(raw_)); }

    // ---- signing ---------------------------------------------------------------

    /// Toto's session.hmac(message): base64(HMAC-SHA1(key, message)).
    /// Throws: TOTO_RESULT_INVALID_HMAC (no key), TOTO_RESULT_TOO_LARGE.
    std::string hmac(ByteView message) const {
        char out[TOTO_MAC_BUFFER_LEN];
        detail::check(toto_session_hmac(raw_, message.data(), message.size(), out, sizeof out));
        return out;
    }

    /// Toto's session.verify(mac, message), constant time; returns normally on a match.
    /// Throws: TOTO_RESULT_INVALID_HMAC (1008: no key, empty mac or message, mismatch).
    void verify(std::string_view mac, ByteView message) const {
        detail::check(toto_session_verify(raw_, mac.data(), mac.size(), message.data(), message.size()));
    }

    /// The request x-toto-hmac: base64(HMAC-SHA1(key, METHOD + URI + BODY)).
    /// Throws: TOTO_RESULT_INVALID_HMAC (no key), TOTO_RESULT_TOO_LARGE.
    std::string sign_request(std::string_view method, std::string_view uri, ByteView body = {}) const {
        char out[TOTO_MAC_BUFFER_LEN];
        detail::check(toto_session_sign_request(raw_, method.data(), method.size(), uri.data(),
                                                uri.size(), body.data(), body.size(), out, sizeof out));
        return out;
    }

    /// Checks a request's x-toto-hmac (URI = raw path with query string), constant
    /// time; returns normally when it matches.
    /// Throws: TOTO_RESULT_INVALID_HMAC (1008: no key, empty mac, mismatch),
    /// TOTO_RESULT_TOO_LARGE.
    void verify_request(std::string_view mac, std::string_view method, std::string_view uri,
                        ByteView body = {}) const {
        detail::check(toto_session_verify_request(raw_, mac.data(), mac.size(), method.data(),
                                                  method.size(), uri.data(), uri.size(),
                                                  body.data(), body.size()));
    }

    /// The response x-toto-hmac: base64(HMAC-SHA1(key, SESSION_ID + BODY)).
    /// Throws: as sign_request.
    std::string sign_response(ByteView body) const {
        char out[TOTO_MAC_BUFFER_LEN];
        detail::check(toto_session_sign_response(raw_, body.data(), body.size(), out, sizeof out));
        return out;
    }

    /// Checks a response's x-toto-hmac (what a Toto client does); returns normally on a
    /// match. Throws: as verify.
    void verify_response(std::string_view mac, ByteView body) const {
        detail::check(toto_session_verify_response(raw_, mac.data(), mac.size(), body.data(), body.size()));
    }

    // ---- state -----------------------------------------------------------------

    /// Number of state entries.
    size_t size() const {
        size_t n = 0;
        detail::check(toto_session_len(raw_, &n));
        return n;
    }

    /// Whether the state is empty.
    bool empty() const { return size() == 0; }

    /// The state keys in sorted (byte) order.
    std::vector<std::string> keys() const {
        std::vector<std::string> out;
        size_t n = size();
        out.reserve(n);
        for (size_t i = 0; i < n; i++) {
            const char *p = nullptr;
            size_t len = 0;
            detail::check(toto_session_key_at(raw_, i, &p, &len));
            out.emplace_back(p, len);
        }
        return out;
    }

    /// Whether `key` is present (a stored null counts).
    bool contains(std::string_view key) const {
        bool b = false;
        detail::check(toto_session_contains(raw_, key.data(), key.size(), &b));
        return b;
    }

    /// Removes `key`; a missing key is not an error.
    void remove(std::string_view key) { detail::check(toto_session_delete(raw_, key.data(), key.size())); }

    /// Removes every state entry.
    void clear() { detail::check(toto_session_clear(raw_)); }

    /// The type of the value under `key`, or nullopt when absent.
    std::optional<ValueType> type(std::string_view key) const {
        toto_value_type t{};
        if (!detail::found(toto_session_get_type(raw_, key.data(), key.size(), &t))) return std::nullopt;
        return static_cast<ValueType>(t);
    }

    /// Any value's type and, for a scalar, the value (copied), in one call; nullopt
    /// when absent.
    std::optional<Scalar> get_scalar(std::string_view key) const {
        toto_scalar c{};
        if (!detail::found(toto_session_get_scalar(raw_, key.data(), key.size(), &c))) return std::nullopt;
        Scalar out;
        out.type = static_cast<ValueType>(c.value_type);
        out.boolean = c.boolean;
        if (c.integer_fits) out.integer = c.integer;
        out.number = c.number;
        if (c.value_type == TOTO_VALUE_TYPE_TEXT) out.text.assign(reinterpret_cast<const char *>(c.data), c.len);
        if (c.value_type == TOTO_VALUE_TYPE_BYTES) out.bytes.assign(c.data, c.data + c.len);
        return out;
    }

    /// A bool, or nullopt when absent. Throws TOTO_RESULT_TYPE_MISMATCH for another type.
    std::optional<bool> get_bool(std::string_view key) const {
        bool v = false;
        if (!detail::found(toto_session_get_bool(raw_, key.data(), key.size(), &v))) return std::nullopt;
        return v;
    }

    /// An integer that fits in int64, or nullopt when absent.
    /// Throws TOTO_RESULT_TYPE_MISMATCH for another type or a bigger integer.
    std::optional<int64_t> get_i64(std::string_view key) const {
        int64_t v = 0;
        if (!detail::found(toto_session_get_i64(raw_, key.data(), key.size(), &v))) return std::nullopt;
        return v;
    }

    /// A float, or nullopt when absent (integers are not converted: TYPE_MISMATCH).
    std::optional<double> get_f64(std::string_view key) const {
        double v = 0;
        if (!detail::found(toto_session_get_f64(raw_, key.data(), key.size(), &v))) return std::nullopt;
        return v;
    }

    /// A text value (copied), or nullopt when absent. Throws TYPE_MISMATCH otherwise.
    std::optional<std::string> get_text(std::string_view key) const {
        const char *p = nullptr;
        size_t n = 0;
        if (!detail::found(toto_session_get_text(raw_, key.data(), key.size(), &p, &n))) return std::nullopt;
        return std::string(p, n);
    }

    /// A byte-string value (copied), or nullopt when absent. Throws TYPE_MISMATCH otherwise.
    std::optional<Bytes> get_bytes(std::string_view key) const {
        const uint8_t *p = nullptr;
        size_t n = 0;
        if (!detail::found(toto_session_get_bytes(raw_, key.data(), key.size(), &p, &n))) return std::nullopt;
        return Bytes(p, p + n);
    }

    /// Any value as one CBOR item, or nullopt when absent.
    std::optional<Bytes> get_cbor(std::string_view key) const {
        detail::OwnedBytes out;
        toto_error err{};
        if (!detail::found(toto_session_get_cbor(raw_, key.data(), key.size(), &out.raw, &err), err))
            return std::nullopt;
        return out.bytes();
    }

    /// Any value as compact JSON text, or nullopt when absent (bytes become base64
    /// text, non-finite floats null). Throws TOTO_RESULT_INVALID_JSON for a map with a
    /// non-text key.
    /// A text of up to 256 bytes is written by the library straight into a buffer on
    /// the stack (toto_session_get_json_into); a longer one comes in a library buffer.
    std::optional<std::string> get_json(std::string_view key) const {
        char buf[256];
        std::size_t len = 0;
        toto_error err{};
        toto_result rc = toto_session_get_json_into(raw_, key.data(), key.size(),
                                                    reinterpret_cast<uint8_t *>(buf), sizeof buf,
                                                    &len, &err);
        if (rc == TOTO_RESULT_OK) return std::string(buf, len);
        if (rc != TOTO_RESULT_TOO_LARGE || len <= sizeof buf) {
            // absent (nullopt), or a failure, which throws (a key over the limit is
            // TOO_LARGE too, with len untouched)
            detail::found(rc, err);
            return std::nullopt;
        }
        detail::OwnedBytes out;
        if (!detail::found(toto_session_get_json(raw_, key.data(), key.size(), &out.raw, &err), err))
            return std::nullopt;
        return out.text();
    }

    /// Stores null (present, unlike a removed key).
    void set_null(std::string_view key) { detail::check(toto_session_set_null(raw_, key.data(), key.size())); }

    /// Stores a bool.
    void set_bool(std::string_view key, bool value) {
        detail::check(toto_session_set_bool(raw_, key.data(), key.size(), value));
    }

    /// Stores an integer.
    void set_i64(std::string_view key, int64_t value) {
        detail::check(toto_session_set_i64(raw_, key.data(), key.size(), value));
    }

    /// Stores a float.
    void set_f64(std::string_view key, double value) {
        detail::check(toto_session_set_f64(raw_, key.data(), key.size(), value));
    }

    /// Stores UTF-8 text. Throws TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE (1 MiB).
    void set_text(std::string_view key, std::string_view value) {
        detail::check(toto_session_set_text(raw_, key.data(), key.size(), value.data(), value.size()));
    }

    /// Stores a byte string. Throws TOTO_RESULT_TOO_LARGE (over 1 MiB).
    void set_bytes(std::string_view key, ByteView value) {
        detail::check(toto_session_set_bytes(raw_, key.data(), key.size(), value.data(), value.size()));
    }

    /// Stores any value given as one CBOR item.
    /// Throws TOTO_RESULT_INVALID_CBOR, TOTO_RESULT_TOO_LARGE (with detail).
    void set_cbor(std::string_view key, ByteView cbor) {
        toto_error err{};
        detail::check(toto_session_set_cbor(raw_, key.data(), key.size(), cbor.data(), cbor.size(), &err), err);
    }

    /// Stores any value given as JSON text (objects become maps).
    /// Throws TOTO_RESULT_INVALID_JSON, TOTO_RESULT_TOO_LARGE (with detail).
    void set_json(std::string_view key, std::string_view json) {
        toto_error err{};
        detail::check(toto_session_set_json(raw_, key.data(), key.size(), json.data(), json.size(), &err), err);
    }
};

class AccountStore;

/// One user's account: properties loaded lazily or in bulk, modified keys tracked,
/// save() writes only those. Thread safety: one thread at a time (destruction
/// included); may be moved between threads.
class Account : public detail::Handle<toto_account, toto_account_free> {
  public:
    /// An empty handle.
    Account() noexcept = default;
    /// Takes ownership of a C account handle.
    explicit Account(toto_account *raw) noexcept : Handle(raw) {}

    /// An account handle for `user_id` (lowercased) on `store`; nothing is loaded and
    /// existence is not checked until a property is read. The account keeps its own
    /// reference to the store. Throws: TOTO_RESULT_INVALID_USER_ID (empty),
    /// TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE.
    static Account open(const AccountStore &store, std::string_view user_id);

    /// The (lowercased) user id.
    std::string user_id() const {
        const char *p = nullptr;
        size_t n = 0;
        detail::check(toto_account_user_id(raw_, &p, &n));
        return std::string(p, n);
    }

    /// Loads the named properties in one store call (those not loaded or modified yet).
    /// Throws: TOTO_RESULT_INVALID_CREDENTIALS (1005: no such account),
    /// TOTO_RESULT_BACKEND_FAILED / _UNAVAILABLE, TOTO_RESULT_TOO_LARGE (with detail).
    void load(const std::vector<std::string_view> &names) {
        std::vector<toto_str> strs;
        strs.reserve(names.size());
        for (auto n : names) strs.push_back(toto_str{n.data(), n.size()});
        toto_error err{};
        detail::check(toto_account_load(raw_, strs.data(), strs.size(), &err), err);
    }

    /// Loads every property in one store call (loaded or modified ones keep their values).
    /// Throws: as load.
    void load_all() {
        toto_error err{};
        detail::check(toto_account_load_all(raw_, &err), err);
    }

    /// Writes the modified properties, and only those, in one store call; on failure
    /// every change is kept for a retry. Throws: TOTO_RESULT_BACKEND_FAILED,
    /// TOTO_RESULT_INVALID_CREDENTIALS, TOTO_RESULT_BACKEND_MISBEHAVED (with detail).
    void save() {
        toto_error err{};
        detail::check(toto_account_save(raw_, &err), err);
    }

    /// Whether `key` was set since the last successful save.
    bool is_modified(std::string_view key) const {
        bool b = false;
        detail::check(toto_account_is_modified(raw_, key.data(), key.size(), &b));
        return b;
    }

    /// Number of properties set since the last successful save.
    size_t modified_count() const {
        size_t n = 0;
        detail::check(toto_account_modified_count(raw_, &n));
        return n;
    }

    /// The type of property `key` (loading it if needed), or nullopt when absent.
    /// The getters below throw TOTO_RESULT_INVALID_CREDENTIALS (1005) when the account
    /// does not exist, TOTO_RESULT_TYPE_MISMATCH for another type, backend errors with
    /// detail.
    std::optional<ValueType> type(std::string_view key) {
        toto_value_type t{};
        toto_error err{};
        if (!detail::found(toto_account_get_type(raw_, key.data(), key.size(), &t, &err), err))
            return std::nullopt;
        return static_cast<ValueType>(t);
    }

    /// A bool property, or nullopt when absent.
    std::optional<bool> get_bool(std::string_view key) {
        bool v = false;
        toto_error err{};
        if (!detail::found(toto_account_get_bool(raw_, key.data(), key.size(), &v, &err), err))
            return std::nullopt;
        return v;
    }

    /// An integer property that fits in int64, or nullopt when absent.
    std::optional<int64_t> get_i64(std::string_view key) {
        int64_t v = 0;
        toto_error err{};
        if (!detail::found(toto_account_get_i64(raw_, key.data(), key.size(), &v, &err), err))
            return std::nullopt;
        return v;
    }

    /// A float property, or nullopt when absent.
    std::optional<double> get_f64(std::string_view key) {
        double v = 0;
        toto_error err{};
        if (!detail::found(toto_account_get_f64(raw_, key.data(), key.size(), &v, &err), err))
            return std::nullopt;
        return v;
    }

    /// A text property (copied), or nullopt when absent.
    std::optional<std::string> get_text(std::string_view key) {
        const char *p = nullptr;
        size_t n = 0;
        toto_error err{};
        if (!detail::found(toto_account_get_text(raw_, key.data(), key.size(), &p, &n, &err), err))
            return std::nullopt;
        return std::string(p, n);
    }

    /// A byte-string property (copied), or nullopt when absent.
    std::optional<Bytes> get_bytes(std::string_view key) {
        const uint8_t *p = nullptr;
        size_t n = 0;
        toto_error err{};
        if (!detail::found(toto_account_get_bytes(raw_, key.data(), key.size(), &p, &n, &err), err))
            return std::nullopt;
        return Bytes(p, p + n);
    }

    /// Any property as one CBOR item, or nullopt when absent.
    std::optional<Bytes> get_cbor(std::string_view key) {
        detail::OwnedBytes out;
        toto_error err{};
        if (!detail::found(toto_account_get_cbor(raw_, key.data(), key.size(), &out.raw, &err), err))
            return std::nullopt;
        return out.bytes();
    }

    /// Any property as JSON text, or nullopt when absent.
    std::optional<std::string> get_json(std::string_view key) {
        detail::OwnedBytes out;
        toto_error err{};
        if (!detail::found(toto_account_get_json(raw_, key.data(), key.size(), &out.raw, &err), err))
            return std::nullopt;
        return out.text();
    }

    /// Sets a property to null.
    void set_null(std::string_view key) { detail::check(toto_account_set_null(raw_, key.data(), key.size())); }
    /// Sets a bool property.
    void set_bool(std::string_view key, bool value) {
        detail::check(toto_account_set_bool(raw_, key.data(), key.size(), value));
    }
    /// Sets an integer property.
    void set_i64(std::string_view key, int64_t value) {
        detail::check(toto_account_set_i64(raw_, key.data(), key.size(), value));
    }
    /// Sets a float property.
    void set_f64(std::string_view key, double value) {
        detail::check(toto_account_set_f64(raw_, key.data(), key.size(), value));
    }
    /// Sets a UTF-8 text property (TOTO_RESULT_INVALID_UTF8 otherwise).
    void set_text(std::string_view key, std::string_view value) {
        detail::check(toto_account_set_text(raw_, key.data(), key.size(), value.data(), value.size()));
    }
    /// Sets a byte-string property.
    void set_bytes(std::string_view key, ByteView value) {
        detail::check(toto_account_set_bytes(raw_, key.data(), key.size(), value.data(), value.size()));
    }
    /// Sets a property from one CBOR item (TOTO_RESULT_INVALID_CBOR otherwise).
    void set_cbor(std::string_view key, ByteView cbor) {
        toto_error err{};
        detail::check(toto_account_set_cbor(raw_, key.data(), key.size(), cbor.data(), cbor.size(), &err), err);
    }
    /// Sets a property from JSON text (TOTO_RESULT_INVALID_JSON otherwise).
    void set_json(std::string_view key, std::string_view json) {
        toto_error err{};
        detail::check(toto_account_set_json(raw_, key.data(), key.size(), json.data(), json.size(), &err), err);
    }
};

// ---- custom backends -----------------------------------------------------------

/// What a custom cache's load_renew hands back: the record and the expiry the cache
/// now holds for it.
struct RenewedRecord {
    Bytes record;   ///< the stored record blob
    double expires; ///< the entry's expiry after the renewal (Unix seconds)
};

/// A session cache implemented in C++ (see toto_cache_vtable). Records are opaque
/// blobs. Methods are called from whichever threads use the cache, possibly at the
/// same time: the object must be thread-safe. Arguments are valid only during the
/// call. To fail, throw: a toto::Error returns its code (TOTO_RESULT_ID_COLLISION,
/// TOTO_RESULT_BACKEND_UNAVAILABLE and TOTO_RESULT_UNSUPPORTED pass through; other
/// codes reach the caller as TOTO_RESULT_BACKEND_FAILED), any other exception
/// TOTO_RESULT_BACKEND_FAILED; its text becomes the caller's error detail.
class CacheBackend {
  public:
    virtual ~CacheBackend() = default;

    /// Stores `record` under `id` until `expires` (Unix seconds; never return it after
    /// that) for `user_id` (empty = anonymous). With `create_new`, a live `id` must be
    /// left alone: throw Error(TOTO_RESULT_ID_COLLISION). Returns the new id when the
    /// cache stored the session under another one, nullopt otherwise.
    virtual std::optional<std::string> store(std::string_view id, std::string_view user_id,
                                             double expires, ByteView record, bool create_new) = 0;

    /// The record stored under `id`, or nullopt when missing or expired.
    virtual std::optional<Bytes> load(std::string_view id) = 0;

    /// Removes `id`; a missing id is not an error.
    virtual void remove(std::string_view id) = 0;

    /// Removes every session of `user_id` and returns how many. Optional: the default
    /// throws Error(TOTO_RESULT_UNSUPPORTED).
    virtual uint64_t remove_user(std::string_view /*user_id*/) { throw Error(TOTO_RESULT_UNSUPPORTED); }

    /// Whether load_renew is implemented (asked once, when the cache is made); when
    /// false the library uses load and writes renewed sessions back with store.
    virtual bool has_load_renew() const { return false; }

    /// Loads `id` and renews it in one operation: when a target is > 0 and the entry
    /// expires before the target for its kind (`renew_user_to` for a non-empty user id,
    /// `renew_anonymous_to` otherwise), its expiry becomes the target. nullopt when
    /// missing or expired (an expired entry is never renewed).
    virtual std::optional<RenewedRecord> load_renew(std::string_view /*id*/, double /*renew_user_to*/,
                                                    double /*renew_anonymous_to*/) {
        throw Error(TOTO_RESULT_UNSUPPORTED);
    }
};

/// A session cache from std::function callbacks (each with CacheBackend's meaning and
/// rules, thread safety included). store, load and remove are required; remove_user
/// and load_renew may be left empty.
struct CacheFunctions {
    std::function<std::optional<std::string>(std::string_view id, std::string_view user_id,
                                             double expires, ByteView record, bool create_new)>
        store;                                                   ///< required
    std::function<std::optional<Bytes>(std::string_view id)> load; ///< required
    std::function<void(std::string_view id)> remove;             ///< required
    std::function<uint64_t(std::string_view user_id)> remove_user; ///< optional
    std::function<std::optional<RenewedRecord>(std::string_view id, double renew_user_to,
                                                double renew_anonymous_to)>
        load_renew; ///< optional
};

/// An account property handed back by AccountStoreBackend::load: a name and its value
/// as one CBOR item (as it was given to save or create).
struct Property {
    std::string name; ///< property name (UTF-8)
    Bytes value;      ///< one CBOR item
};

/// An account property handed to AccountStoreBackend::save / create; valid only
/// during the call.
struct PropertyView {
    std::string_view name; ///< property name (UTF-8)
    ByteView value;        ///< one CBOR item: store it as an opaque blob
};

/// An account store implemented in C++ (see toto_account_store_vtable). Called from
/// any number of threads at once: the object must be thread-safe. Arguments are valid
/// only during the call. Failures are thrown, as for CacheBackend.
class AccountStoreBackend {
  public:
    virtual ~AccountStoreBackend() = default;

    /// The account's properties named in `names` (all of them when `names` is
    /// nullopt), leaving out absent ones; nullopt when the account does not exist.
    virtual std::optional<std::vector<Property>> load(std::string_view user_id,
                                                      const std::optional<std::vector<std::string_view>> &names) = 0;

    /// Writes exactly these properties of an existing account (insert or replace each),
    /// all or nothing; false when the account does not exist.
    virtual bool save(std::string_view user_id, const std::vector<PropertyView> &properties) = 0;

    /// Creates the account with these properties; false when it exists already.
    virtual bool create(std::string_view user_id, const std::vector<PropertyView> &properties) = 0;

    /// Deletes the account; false when it does not exist. Optional: the default throws
    /// Error(TOTO_RESULT_UNSUPPORTED).
    virtual bool remove(std::string_view /*user_id*/) { throw Error(TOTO_RESULT_UNSUPPORTED); }
};

/// An account store from std::function callbacks (AccountStoreBackend's meaning and
/// rules). load, save and create are required; remove may be left empty.
struct AccountStoreFunctions {
    std::function<std::optional<std::vector<Property>>(std::string_view user_id,
                                                       const std::optional<std::vector<std::string_view>> &names)>
        load; ///< required
    std::function<bool(std::string_view user_id, const std::vector<PropertyView> &properties)> save;   ///< required
    std::function<bool(std::string_view user_id, const std::vector<PropertyView> &properties)> create; ///< required
    std::function<bool(std::string_view user_id)> remove; ///< optional
};

namespace detail {

class FunctionCache final : public CacheBackend {
  public:
    explicit FunctionCache(CacheFunctions f) : f_(std::move(f)) {}
    std::optional<std::string> store(std::string_view id, std::string_view user_id, double expires,
                                     ByteView record, bool create_new) override {
        return f_.store(id, user_id, expires, record, create_new);
    }
    std::optional<Bytes> load(std::string_view id) override { return f_.load(id); }
    void remove(std::string_view id) override { f_.remove(id); }
    uint64_t remove_user(std::string_view user_id) override {
        if (!f_.remove_user) throw Error(TOTO_RESULT_UNSUPPORTED);
        return f_.remove_user(user_id);
    }
    bool has_load_renew() const override { return static_cast<bool>(f_.load_renew); }
    std::optional<RenewedRecord> load_renew(std::string_view id, double u, double a) override {
        return f_.load_renew(id, u, a);
    }

  private:
    CacheFunctions f_;
};

class FunctionStore final : public AccountStoreBackend {
  public:
    explicit FunctionStore(AccountStoreFunctions f) : f_(std::move(f)) {}
    std::optional<std::vector<Property>> load(std::string_view user_id,
                                              const std::optional<std::vector<std::string_view>> &names) override {
        return f_.load(user_id, names);
    }
    bool save(std::string_view user_id, const std::vector<PropertyView> &p) override { return f_.save(user_id, p); }
    bool create(std::string_view user_id, const std::vector<PropertyView> &p) override {
        return f_.create(user_id, p);
    }
    bool remove(std::string_view user_id) override {
        if (!f_.remove) throw Error(TOTO_RESULT_UNSUPPORTED);
        return f_.remove(user_id);
    }

  private:
    AccountStoreFunctions f_;
};

// The C trampolines: user_data is a heap std::shared_ptr to the backend.
struct CacheTrampolines {
    static CacheBackend &self(void *user_data) noexcept {
        return **static_cast<std::shared_ptr<CacheBackend> *>(user_data);
    }
    static uint32_t store(void *ud, const char *id, size_t id_len, const char *user_id, size_t user_id_len,
                          double expires, const uint8_t *record, size_t record_len, uint32_t flags,
                          toto_callback_ctx *ctx) noexcept {
        return guard(ctx, [&] {
            auto new_id = self(ud).store(std::string_view(id, id_len), std::string_view(user_id, user_id_len),
                                         expires, ByteView(record, record_len),
                                         (flags & TOTO_STORE_CREATE_NEW) != 0);
            if (!new_id) return TOTO_RESULT_OK;
            return toto_callback_set_result(ctx, reinterpret_cast<const uint8_t *>(new_id->data()),
                                            new_id->size());
        });
    }
    static uint32_t load(void *ud, const char *id, size_t id_len, toto_callback_ctx *ctx) noexcept {
        return guard(ctx, [&] {
            auto rec = self(ud).load(std::string_view(id, id_len));
            if (!rec) return TOTO_RESULT_NOT_FOUND;
            return toto_callback_set_result(ctx, rec->data(), rec->size());
        });
    }
    static uint32_t remove(void *ud, const char *id, size_t id_len, toto_callback_ctx *ctx) noexcept {
        return guard(ctx, [&] {
            self(ud).remove(std::string_view(id, id_len));
            return TOTO_RESULT_OK;
        });
    }
    static uint32_t remove_user(void *ud, const char *user_id, size_t user_id_len, uint64_t *removed,
                                toto_callback_ctx *ctx) noexcept {
        return guard(ctx, [&] {
            *removed = self(ud).remove_user(std::string_view(user_id, user_id_len));
            return TOTO_RESULT_OK;
        });
    }
    static uint32_t load_renew(void *ud, const char *id, size_t id_len, double renew_user_to,
                               double renew_anonymous_to, toto_callback_ctx *ctx) noexcept {
        return guard(ctx, [&] {
            auto r = self(ud).load_renew(std::string_view(id, id_len), renew_user_to, renew_anonymous_to);
            if (!r) return TOTO_RESULT_NOT_FOUND;
            toto_result rc = toto_callback_set_result(ctx, r->record.data(), r->record.size());
            if (rc != TOTO_RESULT_OK) return rc;
            return toto_callback_set_expires(ctx, r->expires);
        });
    }
    static void free_user_data(void *ud) noexcept { delete static_cast<std::shared_ptr<CacheBackend> *>(ud); }
};

struct StoreTrampolines {
    static AccountStoreBackend &self(void *user_data) noexcept {
        return **static_cast<std::shared_ptr<AccountStoreBackend> *>(user_data);
    }
    static std::vector<PropertyView> views(const toto_property *props, size_t count) {
        std::vector<PropertyView> out;
        out.reserve(count);
        for (size_t i = 0; i < count; i++)
            out.push_back(PropertyView{std::string_view(props[i].name, props[i].name_len),
                                       ByteView(props[i].value, props[i].value_len)});
        return out;
    }
    static uint32_t load(void *ud, const char *user_id, size_t user_id_len, const toto_str *names,
                         size_t names_count, toto_callback_ctx *ctx) noexcept {
        return guard(ctx, [&] {
            std::optional<std::vector<std::string_view>> wanted;
            if (names != nullptr) {
                wanted.emplace();
                wanted->reserve(names_count);
                for (size_t i = 0; i < names_count; i++) wanted->emplace_back(names[i].ptr, names[i].len);
            }
            auto props = self(ud).load(std::string_view(user_id, user_id_len), wanted);
            if (!props) return TOTO_RESULT_NOT_FOUND;
            for (const auto &p : *props) {
                toto_result rc =
                    toto_callback_add_property(ctx, p.name.data(), p.name.size(), p.value.data(), p.value.size());
                if (rc != TOTO_RESULT_OK) return rc;
            }
            return TOTO_RESULT_OK;
        });
    }
    static uint32_t save(void *ud, const char *user_id, size_t user_id_len, const toto_property *props,
                         size_t count, toto_callback_ctx *ctx) noexcept {
        return guard(ctx, [&] {
            return self(ud).save(std::string_view(user_id, user_id_len), views(props, count))
                       ? TOTO_RESULT_OK
                       : TOTO_RESULT_NOT_FOUND;
        });
    }
    static uint32_t create(void *ud, const char *user_id, size_t user_id_len, const toto_property *props,
                           size_t count, toto_callback_ctx *ctx) noexcept {
        return guard(ctx, [&] {
            return self(ud).create(std::string_view(user_id, user_id_len), views(props, count))
                       ? TOTO_RESULT_OK
                       : TOTO_RESULT_USER_ID_EXISTS;
        });
    }
    static uint32_t remove(void *ud, const char *user_id, size_t user_id_len, toto_callback_ctx *ctx) noexcept {
        return guard(ctx, [&] {
            return self(ud).remove(std::string_view(user_id, user_id_len)) ? TOTO_RESULT_OK
                                                                            : TOTO_RESULT_NOT_FOUND;
        });
    }
    static void free_user_data(void *ud) noexcept { delete static_cast<std::shared_ptr<AccountStoreBackend> *>(ud); }
};

} // namespace detail

/// Redis cache settings (defaults from toto_redis_options_default).
struct RedisOptions {
    std::string key_prefix;      ///< prefix of every key; empty: the default "toto:"
    uint32_t connect_timeout_ms; ///< time allowed to connect (default 2000; > 0)
    uint32_t io_timeout_ms;      ///< time allowed for one reply (default 2000; > 0)
    uint32_t pool_size;          ///< idle connections kept for reuse (default 8)
    bool hash_ids;               ///< key sessions by SHA-256 of their id (default true)

    /// The library's defaults.
    RedisOptions() noexcept {
        toto_redis_options c{};
        toto_redis_options_default(&c);
        connect_timeout_ms = c.connect_timeout_ms;
        io_timeout_ms = c.io_timeout_ms;
        pool_size = c.pool_size;
        hash_ids = c.hash_ids;
    }
};

/// A session cache: memory, Redis or custom. Thread safety: every member may be called
/// from any number of threads at once; destroy or move the handle only while no other
/// thread uses it. A manager keeps its own reference, so the Cache may be destroyed
/// before the manager.
class Cache : public detail::Handle<toto_cache, toto_cache_free> {
  public:
    /// An empty handle.
    Cache() noexcept = default;
    /// Takes ownership of a C cache handle.
    explicit Cache(toto_cache *raw) noexcept : Handle(raw) {}

    /// The built-in in-memory cache (sessions kept decoded; expiry on the wall clock).
    static Cache memory() {
        toto_cache *c = nullptr;
        detail::check(toto_cache_new_memory(&c));
        return Cache(c);
    }

    /// The built-in in-memory cache in its compact form (records kept encoded).
    static Cache memory_compact() {
        toto_cache *c = nullptr;
        detail::check(toto_cache_new_memory_compact(&c));
        return Cache(c);
    }

    /// The in-memory cache on a host clock (tests, simulations). `clock` and
    /// `clock_data` are borrowed: they must stay valid, and be thread-safe, while the
    /// cache lives (in any manager too).
    static Cache memory_with_clock(double (*clock)(void *clock_data), void *clock_data) {
        toto_cache *c = nullptr;
        detail::check(toto_cache_new_memory_with_clock(clock, clock_data, &c));
        return Cache(c);
    }

    /// A cache in Redis at `url` (redis://[:password@]host:port[/db]). Nothing is
    /// connected yet: a Redis that is down shows as TOTO_RESULT_BACKEND_UNAVAILABLE on
    /// the first operation. Throws: TOTO_RESULT_INVALID_ARGUMENT (malformed URL, zero
    /// timeout), TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE (with detail).
    static Cache redis(std::string_view url, const RedisOptions &options = RedisOptions()) {
        toto_redis_options c{};
        detail::check(toto_redis_options_default(&c));
        c.key_prefix = options.key_prefix.empty() ? nullptr : options.key_prefix.data();
        c.key_prefix_len = options.key_prefix.size();
        c.connect_timeout_ms = options.connect_timeout_ms;
        c.io_timeout_ms = options.io_timeout_ms;
        c.pool_size = options.pool_size;
        c.hash_ids = options.hash_ids;
        toto_cache *out = nullptr;
        toto_error err{};
        detail::check(toto_cache_new_redis(url.data(), url.size(), &c, &out, &err), err);
        return Cache(out);
    }

    /// A cache over a C++ backend. The cache shares ownership of `backend` and
    /// releases its share when the last reference to the cache (managers included)
    /// goes. Throws: TOTO_RESULT_NULL_ARGUMENT (null backend).
    static Cache custom(std::shared_ptr<CacheBackend> backend) {
        if (!backend) throw Error(TOTO_RESULT_NULL_ARGUMENT, "null CacheBackend");
        bool renew = backend->has_load_renew();
        auto *ud = new std::shared_ptr<CacheBackend>(std::move(backend));
        toto_cache_vtable vt{};
        vt.version = TOTO_CACHE_VTABLE_VERSION;
        vt.user_data = ud;
        vt.store = detail::CacheTrampolines::store;
        vt.load = detail::CacheTrampolines::load;
        vt.remove = detail::CacheTrampolines::remove;
        vt.remove_user = detail::CacheTrampolines::remove_user;
        vt.free_user_data = detail::CacheTrampolines::free_user_data;
        vt.load_renew = renew ? detail::CacheTrampolines::load_renew : nullptr;
        toto_cache *c = nullptr;
        toto_result rc = toto_cache_new_vtable(&vt, &c);
        if (rc != TOTO_RESULT_OK) {
            delete ud; // not taken on failure
            throw Error(rc);
        }
        return Cache(c);
    }

    /// A cache over std::function callbacks. Throws: TOTO_RESULT_INVALID_ARGUMENT when
    /// store, load or remove is empty.
    static Cache custom(CacheFunctions functions) {
        if (!functions.store || !functions.load || !functions.remove)
            throw Error(TOTO_RESULT_INVALID_ARGUMENT, "CacheFunctions needs store, load and remove");
        return custom(std::make_shared<detail::FunctionCache>(std::move(functions)));
    }

    /// Stores a raw record under `id` until `expires` for `user_id`; with `create_new`
    /// only if `id` is not live (else TOTO_RESULT_ID_COLLISION). Returns the new id when
    /// the cache renamed the entry. Any thread.
    std::optional<std::string> store(std::string_view id, std::string_view user_id, double expires,
                                     ByteView record, bool create_new = false) const {
        detail::OwnedBytes new_id;
        toto_error err{};
        detail::check(toto_cache_store(raw_, id.data(), id.size(), user_id.data(), user_id.size(), expires,
                                       record.data(), record.size(), create_new ? TOTO_STORE_CREATE_NEW : 0,
                                       &new_id.raw, &err),
                      err);
        if (new_id.raw.data == nullptr) return std::nullopt;
        return new_id.text();
    }

    /// The raw record under `id`, or nullopt when missing or expired. Any thread.
    std::optional<Bytes> load(std::string_view id) const {
        detail::OwnedBytes out;
        toto_error err{};
        if (!detail::found(toto_cache_load(raw_, id.data(), id.size(), &out.raw, &err), err)) return std::nullopt;
        return out.bytes();
    }

    /// Removes `id` (a missing id is success). Any thread.
    void remove(std::string_view id) const {
        toto_error err{};
        detail::check(toto_cache_remove(raw_, id.data(), id.size(), &err), err);
    }

    /// Removes every session of `user_id`; returns how many. Any thread.
    /// Throws: TOTO_RESULT_UNSUPPORTED (a custom cache without remove_user).
    uint64_t remove_user(std::string_view user_id) const {
        uint64_t n = 0;
        toto_error err{};
        detail::check(toto_cache_remove_user(raw_, user_id.data(), user_id.size(), &n, &err), err);
        return n;
    }

    /// Stores `session` until its expiry (a rename is taken by the session); on success
    /// the session is clean, on failure it keeps its changes.
    void store_session(Session &session) const {
        toto_error err{};
        detail::check(toto_cache_store_session(raw_, session.capi(), &err), err);
    }

    /// The session stored under `id` in a new, clean handle, or nullopt when missing.
    /// No renewal and no expiry check against a clock (that is Manager's retrieve).
    std::optional<Session> load_session(std::string_view id) const {
        toto_session *s = nullptr;
        toto_error err{};
        if (!detail::found(toto_cache_load_session(raw_, id.data(), id.size(), &s, &err), err))
            return std::nullopt;
        return Session(s);
    }
};

/// An account store: memory or custom. Thread safety: every member may be called from
/// any number of threads at once; destroy or move the handle only while no other thread
/// uses it. Accounts and managers keep their own references to it.
class AccountStore : public detail::Handle<toto_account_store, toto_account_store_free> {
  public:
    /// An empty handle.
    AccountStore() noexcept = default;
    /// Takes ownership of a C account store handle.
    explicit AccountStore(toto_account_store *raw) noexcept : Handle(raw) {}

    /// The built-in in-memory account store.
    static AccountStore memory() {
        toto_account_store *s = nullptr;
        detail::check(toto_account_store_new_memory(&s));
        return AccountStore(s);
    }

    /// A store over a C++ backend (shared ownership, released with the last reference
    /// to the store). Throws: TOTO_RESULT_NULL_ARGUMENT (null backend).
    static AccountStore custom(std::shared_ptr<AccountStoreBackend> backend) {
        if (!backend) throw Error(TOTO_RESULT_NULL_ARGUMENT, "null AccountStoreBackend");
        auto *ud = new std::shared_ptr<AccountStoreBackend>(std::move(backend));
        toto_account_store_vtable vt{};
        vt.version = TOTO_ACCOUNT_STORE_VTABLE_VERSION;
        vt.user_data = ud;
        vt.load = detail::StoreTrampolines::load;
        vt.save = detail::StoreTrampolines::save;
        vt.create = detail::StoreTrampolines::create;
        vt.remove = detail::StoreTrampolines::remove;
        vt.free_user_data = detail::StoreTrampolines::free_user_data;
        toto_account_store *s = nullptr;
        toto_result rc = toto_account_store_new_vtable(&vt, &s);
        if (rc != TOTO_RESULT_OK) {
            delete ud;
            throw Error(rc);
        }
        return AccountStore(s);
    }

    /// A store over std::function callbacks. Throws: TOTO_RESULT_INVALID_ARGUMENT when
    /// load, save or create is empty.
    static AccountStore custom(AccountStoreFunctions functions) {
        if (!functions.load || !functions.save || !functions.create)
            throw Error(TOTO_RESULT_INVALID_ARGUMENT, "AccountStoreFunctions needs load, save and create");
        return custom(std::make_shared<detail::FunctionStore>(std::move(functions)));
    }

    /// Creates an empty account for `user_id` (lowercased). Any thread.
    /// Throws: TOTO_RESULT_INVALID_USER_ID, TOTO_RESULT_USER_ID_EXISTS,
    /// TOTO_RESULT_BACKEND_FAILED (with detail).
    void create(std::string_view user_id) const {
        toto_error err{};
        detail::check(toto_account_store_create(raw_, user_id.data(), user_id.size(), &err), err);
    }

    /// Deletes the account of `user_id`. Any thread.
    /// Throws: TOTO_RESULT_INVALID_CREDENTIALS (no such account),
    /// TOTO_RESULT_UNSUPPORTED (custom store without remove), TOTO_RESULT_BACKEND_FAILED.
    void remove(std::string_view user_id) const {
        toto_error err{};
        detail::check(toto_account_store_remove(raw_, user_id.data(), user_id.size(), &err), err);
    }

    /// An account handle for `user_id` on this store (Account::open).
    Account account(std::string_view user_id) const { return Account::open(*this, user_id); }
};

inline Account Account::open(const AccountStore &store, std::string_view user_id) {
    toto_account *a = nullptr;
    detail::check(toto_account_new(store.capi(), user_id.data(), user_id.size(), &a));
    return Account(a);
}

/// Manager settings: the C toto_manager_options, filled with the library's defaults
/// (Toto's TTLs, OWASP's Argon2id costs, wall clock); change fields as needed.
/// The optional `clock` and `clock_data` are borrowed for the manager's lifetime.
struct ManagerOptions : toto_manager_options {
    /// The defaults (toto_manager_options_default).
    ManagerOptions() noexcept : toto_manager_options{} { toto_manager_options_default(this); }
};

/// The session lifecycle and accounts (Toto's DBConnection) over a cache and an account
/// store. Thread safety: every member may be called from any number of threads at
/// once (a Session passed in is used by one thread at a time); destroy or move the
/// manager only while no other thread uses it. Sessions and accounts it made stay valid
/// after it is destroyed.
class Manager : public detail::Handle<toto_manager, toto_manager_free> {
  public:
    /// An empty handle.
    Manager() noexcept = default;
    /// Takes ownership of a C manager handle.
    explicit Manager(toto_manager *raw) noexcept : Handle(raw) {}

    /// A manager over `cache` and `store` (it keeps its own references: both may be
    /// destroyed first). Throws: TOTO_RESULT_INVALID_ARGUMENT (a TTL <= 0 or NaN,
    /// Argon2 costs out of range; with detail), TOTO_RESULT_NULL_ARGUMENT (an empty handle).
    Manager(const Cache &cache, const AccountStore &store, const ManagerOptions &options = ManagerOptions()) {
        toto_error err{};
        detail::check(toto_manager_new(cache.capi(), store.capi(), &options, &raw_, &err), err);
    }

    /// Creates and stores a session for `user_id` (empty = anonymous, with the
    /// anonymous TTL); with `with_key` it gets a fresh HMAC key.
    /// Throws: TOTO_RESULT_ID_COLLISION, TOTO_RESULT_BACKEND_FAILED, ... (with detail).
    Session create_session(std::string_view user_id = {}, bool with_key = false) const {
        toto_session *s = nullptr;
        toto_error err{};
        detail::check(toto_manager_create_session(raw_, user_id.data(), user_id.size(), with_key, &s, &err), err);
        return Session(s);
    }

    /// Toto's retrieve_session: the live session `id`, renewed by Toto's rule.
    /// Throws: TOTO_RESULT_INVALID_SESSION_ID (1007: unknown, expired, malformed),
    /// TOTO_RESULT_INVALID_CBOR, TOTO_RESULT_BACKEND_FAILED (with detail).
    Session retrieve_session(std::string_view id) const {
        toto_session *s = nullptr;
        toto_error err{};
        detail::check(toto_manager_retrieve_session(raw_, id.data(), id.size(), &s, &err), err);
        return Session(s);
    }

    /// retrieve_session, with nullopt instead of TOTO_RESULT_INVALID_SESSION_ID.
    std::optional<Session> find_session(std::string_view id) const {
        toto_session *s = nullptr;
        toto_error err{};
        if (!detail::found(toto_manager_retrieve_session(raw_, id.data(), id.size(), &s, &err), err,
                           TOTO_RESULT_INVALID_SESSION_ID))
            return std::nullopt;
        return Session(s);
    }

    /// Writes the session if it is dirty; on failure it keeps its changes.
    void save_session(Session &session) const {
        toto_error err{};
        detail::check(toto_manager_save_session(raw_, session.capi(), &err), err);
    }

    /// Replaces the session's contents with what the cache holds now.
    /// Throws: TOTO_RESULT_INVALID_SESSION_ID (gone or expired; session unchanged).
    void refresh_session(Session &session) const {
        toto_error err{};
        detail::check(toto_manager_refresh_session(raw_, session.capi(), &err), err);
    }

    /// Moves the session to a fresh id (session-fixation protection).
    void rotate_session(Session &session) const {
        toto_error err{};
        detail::check(toto_manager_rotate_session(raw_, session.capi(), &err), err);
    }

    /// Removes session `id` (logout); a missing id is success.
    void remove_session(std::string_view id) const {
        toto_error err{};
        detail::check(toto_manager_remove_session(raw_, id.data(), id.size(), &err), err);
    }

    /// Logout: removes the session's id from the cache.
    void logout(const Session &session) const { remove_session(session.id()); }

    /// Removes every session of `user_id`; returns how many.
    /// Throws: TOTO_RESULT_UNSUPPORTED (a custom cache without remove_user).
    uint64_t clear_sessions(std::string_view user_id) const {
        uint64_t n = 0;
        toto_error err{};
        detail::check(toto_manager_clear_sessions(raw_, user_id.data(), user_id.size(), &n, &err), err);
        return n;
    }

    /// Toto's create_account: the account with an Argon2id hash of `password` and,
    /// when given, the properties of the JSON object `values_json` ("password" is
    /// reserved). Throws: TOTO_RESULT_INVALID_USER_ID (1010), TOTO_RESULT_USER_ID_EXISTS
    /// (1006), TOTO_RESULT_INVALID_JSON, TOTO_RESULT_INVALID_ARGUMENT (with detail).
    void create_account(std::string_view user_id, std::string_view password,
                        std::optional<std::string_view> values_json = std::nullopt) const {
        toto_error err{};
        const char *json = values_json ? (values_json->data() ? values_json->data() : "") : nullptr;
        size_t json_len = values_json ? values_json->size() : 0;
        detail::check(toto_manager_create_account(raw_, user_id.data(), user_id.size(), password.data(),
                                                  password.size(), json, json_len, &err),
                      err);
    }

    /// Toto's login: checks the password and creates a session with a fresh HMAC key.
    /// Throws: TOTO_RESULT_INVALID_CREDENTIALS (1005: unknown user or wrong password).
    Session login(std::string_view user_id, std::string_view password) const {
        toto_session *s = nullptr;
        toto_error err{};
        detail::check(toto_manager_login(raw_, user_id.data(), user_id.size(), password.data(), password.size(),
                                         &s, &err),
                      err);
        return Session(s);
    }

    /// Toto's change_password: on success every session of the user is removed; a
    /// `current` session of the user is stored again under a fresh id.
    /// Throws: TOTO_RESULT_INVALID_CREDENTIALS (1005), TOTO_RESULT_INVALID_USER_ID (1010).
    void change_password(std::string_view user_id, std::string_view old_password, std::string_view new_password,
                         Session *current = nullptr) const {
        toto_error err{};
        detail::check(toto_manager_change_password(raw_, user_id.data(), user_id.size(), old_password.data(),
                                                   old_password.size(), new_password.data(),
                                                   new_password.size(), current ? current->capi() : nullptr,
                                                   &err),
                      err);
    }

    /// Toto's generate_password: sets and returns a random 10-character password and
    /// removes every session of the user. Throws: TOTO_RESULT_INVALID_CREDENTIALS.
    std::string generate_password(std::string_view user_id) const {
        char out[TOTO_GENERATED_PASSWORD_BUFFER_LEN];
        toto_error err{};
        detail::check(
            toto_manager_generate_password(raw_, user_id.data(), user_id.size(), out, sizeof out, &err), err);
        return out;
    }

    /// An account handle for `user_id` on the manager's store (nothing loaded yet).
    /// Throws: TOTO_RESULT_INVALID_USER_ID (1010, empty).
    Account account(std::string_view user_id) const {
        toto_account *a = nullptr;
        detail::check(toto_manager_account(raw_, user_id.data(), user_id.size(), &a));
        return Account(a);
    }

    /// The account bound to a session (Toto's get_account).
    /// Throws: TOTO_RESULT_NOT_AUTHORIZED (1004: anonymous session).
    Account session_account(const Session &session) const {
        toto_account *a = nullptr;
        detail::check(toto_manager_session_account(raw_, session.capi(), &a));
        return Account(a);
    }

    /// Checks a Toto request in one call: retrieves (and renews) session `session_id`,
    /// then verifies `mac` over METHOD + URI + BODY; returns the session.
    /// Throws: TOTO_RESULT_INVALID_SESSION_ID (1007), TOTO_RESULT_INVALID_HMAC (1008;
    /// the session was renewed all the same), backend errors (with detail).
    Session verify_request(std::string_view session_id, std::string_view mac, std::string_view method,
                           std::string_view uri, ByteView body = {}) const {
        toto_session *s = nullptr;
        toto_error err{};
        detail::check(toto_manager_verify_request(raw_, session_id.data(), session_id.size(), mac.data(),
                                                  mac.size(), method.data(), method.size(), uri.data(),
                                                  uri.size(), body.data(), body.size(), &s, &err),
                      err);
        return Session(s);
    }

    /// The end of a request in one call: saves `session` if it changed (as
    /// save_session), then returns the response x-toto-hmac for `body`, or "" when the
    /// session has no key (the answer goes unsigned).
    /// Throws: save_session's errors (nothing signed then), TOTO_RESULT_TOO_LARGE.
    std::string finish_response(Session &session, ByteView body) const {
        char out[TOTO_MAC_BUFFER_LEN];
        toto_error err{};
        detail::check(toto_manager_finish_response(raw_, session.capi(), body.data(), body.size(), out,
                                                   sizeof out, &err),
                      err);
        return out;
    }
};

// ---- free functions --------------------------------------------------------------

/// Toto's hmac(message) with an explicit key: base64(HMAC-SHA1(key, message)), 28
/// characters. Any thread. Throws: TOTO_RESULT_INVALID_HMAC (empty key),
/// TOTO_RESULT_TOO_LARGE (key over 256 bytes, message over 64 MiB).
inline std::string hmac(ByteView key, ByteView message) {
    char out[TOTO_MAC_BUFFER_LEN];
    detail::check(toto_hmac(key.data(), key.size(), message.data(), message.size(), out, sizeof out));
    return out;
}

/// Toto's verify(mac, message) with an explicit key, constant time; returns normally
/// on a match. Any thread. Throws: TOTO_RESULT_INVALID_HMAC (1008: empty key, mac or
/// message, or mismatch), TOTO_RESULT_TOO_LARGE.
inline void verify(ByteView key, std::string_view mac, ByteView message) {
    detail::check(toto_verify(key.data(), key.size(), mac.data(), mac.size(), message.data(), message.size()));
}

/// The request x-toto-hmac a Toto client sends, for `session` (its key). Any thread
/// for different sessions. Same as session.sign_request(...).
inline std::string sign_request(const Session &session, std::string_view method, std::string_view uri,
                                ByteView body = {}) {
    return session.sign_request(method, uri, body);
}

/// Checks a request's x-toto-hmac against `session`. Same as session.verify_request(...).
inline void verify_request(const Session &session, std::string_view mac, std::string_view method,
                           std::string_view uri, ByteView body = {}) {
    session.verify_request(mac, method, uri, body);
}

/// The response x-toto-hmac for `body`. Same as session.sign_response(body).
inline std::string sign_response(const Session &session, ByteView body) { return session.sign_response(body); }

/// Checks a response's x-toto-hmac. Same as session.verify_response(mac, body).
inline void verify_response(const Session &session, std::string_view mac, ByteView body) {
    session.verify_response(mac, body);
}

/// A fresh random id (Toto's format: 22 url-safe characters). Any thread.
inline std::string generate_id() {
    char out[TOTO_ID_BUFFER_LEN];
    detail::check(toto_generate_id(out, sizeof out));
    return out;
}

} // namespace toto

#endif // TOTO_SESSION_HPP
