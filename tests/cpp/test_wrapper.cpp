/*
 * test_wrapper.cpp: the C++ wrapper (include/toto_session.hpp) over every type it
 * offers: handles (move-only, moved-from safe to destroy), Error, sessions and their
 * values, signing, accounts, the built-in caches and store, custom C++ backends (as
 * classes and as std::function callbacks, one of them throwing), managers over all of
 * them, and Redis (TOTO_REDIS_URL, set by scripts/with-redis.sh as make test-cpp runs
 * this: without it the Redis test fails, it is never skipped).
 *
 * Prints "ok - name" / "not ok - name" per test and a final
 * "test_wrapper: N passed, M failed"; exits non-zero on any failure.
 */
#include "toto_session.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace {

// ---- harness ------------------------------------------------------------------------

int g_passed = 0;
int g_failed = 0;
bool g_current_failed = false;

bool check_impl(bool ok, const char *expr, const char *file, int line) {
    if (!ok) {
        std::printf("#   check failed: %s (%s:%d)\n", expr, file, line);
        g_current_failed = true;
    }
    return ok;
}

#define CHECK(cond) check_impl(static_cast<bool>(cond), #cond, __FILE__, __LINE__)

// Evaluates `expr`, which must throw toto::Error with code `want`; evaluates to the
// caught error's detail (empty when it did not throw as expected).
#define CHECK_THROWS(expr, want) check_throws([&] { (void)(expr); }, (want), #expr, __FILE__, __LINE__)

template <typename F>
std::string check_throws(F &&f, toto_result want, const char *expr, const char *file, int line) {
    try {
        f();
    } catch (const toto::Error &e) {
        if (e.code() != want) {
            std::printf("#   %s threw code %u (%s), want %u (%s:%d)\n", expr, e.value(), e.what(),
                        static_cast<unsigned>(want), file, line);
            g_current_failed = true;
        }
        return e.detail();
    } catch (const std::exception &e) {
        std::printf("#   %s threw a non-toto exception: %s (%s:%d)\n", expr, e.what(), file, line);
        g_current_failed = true;
        return {};
    }
    std::printf("#   %s did not throw (want code %u) (%s:%d)\n", expr, static_cast<unsigned>(want), file, line);
    g_current_failed = true;
    return {};
}

void run(const char *name, void (*fn)()) {
    g_current_failed = false;
    try {
        fn();
    } catch (const std::exception &e) {
        std::printf("#   unexpected exception: %s\n", e.what());
        g_current_failed = true;
    }
    std::printf("%s - %s\n", g_current_failed ? "not ok" : "ok", name);
    (g_current_failed ? g_failed : g_passed)++;
}

#define RUN(fn) run(#fn, fn)

double now() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Cheap password hashing: the tests run under valgrind.
toto::ManagerOptions cheap_options() {
    toto::ManagerOptions opt;
    opt.password_memory_kib = 64;
    opt.password_iterations = 1;
    opt.password_parallelism = 1;
    return opt;
}

// ---- custom backends ------------------------------------------------------------------

// A session cache as a CacheBackend over an unordered_map (with load_renew).
class MapCache : public toto::CacheBackend {
  public:
    struct Entry {
        std::string user;
        double expires;
        toto::Bytes record;
    };

    std::optional<std::string> store(std::string_view id, std::string_view user_id, double expires,
                                     toto::ByteView record, bool create_new) override {
        std::lock_guard<std::mutex> lock(mu_);
        stores++;
        auto it = entries_.find(std::string(id));
        if (create_new && it != entries_.end() && it->second.expires > now())
            throw toto::Error(TOTO_RESULT_ID_COLLISION, "id taken");
        entries_[std::string(id)] = Entry{std::string(user_id), expires, record.to_bytes()};
        return std::nullopt;
    }

    std::optional<toto::Bytes> load(std::string_view id) override {
        std::lock_guard<std::mutex> lock(mu_);
        loads++;
        auto it = entries_.find(std::string(id));
        if (it == entries_.end() || it->second.expires <= now()) return std::nullopt;
        return it->second.record;
    }

    void remove(std::string_view id) override {
        std::lock_guard<std::mutex> lock(mu_);
        entries_.erase(std::string(id));
    }

    uint64_t remove_user(std::string_view user_id) override {
        std::lock_guard<std::mutex> lock(mu_);
        uint64_t n = 0;
        for (auto it = entries_.begin(); it != entries_.end();) {
            if (it->second.user == user_id) {
                it = entries_.erase(it);
                n++;
            } else {
                ++it;
            }
        }
        return n;
    }

    bool has_load_renew() const override { return true; }

    std::optional<toto::RenewedRecord> load_renew(std::string_view id, double renew_user_to,
                                                  double renew_anonymous_to) override {
        std::lock_guard<std::mutex> lock(mu_);
        load_renews++;
        auto it = entries_.find(std::string(id));
        if (it == entries_.end() || it->second.expires <= now()) return std::nullopt;
        double target = it->second.user.empty() ? renew_anonymous_to : renew_user_to;
        if (target > 0 && it->second.expires < target) it->second.expires = target;
        return toto::RenewedRecord{it->second.record, it->second.expires};
    }

    size_t size() {
        std::lock_guard<std::mutex> lock(mu_);
        return entries_.size();
    }

    unsigned stores = 0, loads = 0, load_renews = 0;

  private:
    std::mutex mu_;
    std::unordered_map<std::string, Entry> entries_;
};

// An account store as an AccountStoreBackend over an unordered_map.
class MapStore : public toto::AccountStoreBackend {
  public:
    using Props = std::map<std::string, toto::Bytes>;

    std::optional<std::vector<toto::Property>> load(std::string_view user_id,
                                                    const std::optional<std::vector<std::string_view>> &names) override {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = accounts_.find(std::string(user_id));
        if (it == accounts_.end()) return std::nullopt;
        std::vector<toto::Property> out;
        if (!names) {
            for (const auto &p : it->second) out.push_back(toto::Property{p.first, p.second});
        } else {
            for (auto n : *names) {
                auto p = it->second.find(std::string(n));
                if (p != it->second.end()) out.push_back(toto::Property{p->first, p->second});
            }
        }
        return out;
    }

    bool save(std::string_view user_id, const std::vector<toto::PropertyView> &properties) override {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = accounts_.find(std::string(user_id));
        if (it == accounts_.end()) return false;
        for (const auto &p : properties) it->second[std::string(p.name)] = p.value.to_bytes();
        return true;
    }

    bool create(std::string_view user_id, const std::vector<toto::PropertyView> &properties) override {
        std::lock_guard<std::mutex> lock(mu_);
        if (accounts_.count(std::string(user_id))) return false;
        Props props;
        for (const auto &p : properties) props[std::string(p.name)] = p.value.to_bytes();
        accounts_.emplace(std::string(user_id), std::move(props));
        return true;
    }

    bool remove(std::string_view user_id) override {
        std::lock_guard<std::mutex> lock(mu_);
        return accounts_.erase(std::string(user_id)) > 0;
    }

    bool has(const std::string &user, const std::string &name) {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = accounts_.find(user);
        return it != accounts_.end() && it->second.count(name) > 0;
    }

  private:
    std::mutex mu_;
    std::unordered_map<std::string, Props> accounts_;
};

// A cache from std::function callbacks over a shared map (no load_renew), renaming
// sessions whose id starts with "rename-", and an account store the same way.
struct FunctionWorld {
    std::mutex mu;
    std::unordered_map<std::string, MapCache::Entry> sessions;
    std::unordered_map<std::string, MapStore::Props> accounts;

    toto::CacheFunctions cache_functions() {
        toto::CacheFunctions f;
        f.store = [this](std::string_view id, std::string_view user, double expires, toto::ByteView record,
                         bool create_new) -> std::optional<std::string> {
            std::lock_guard<std::mutex> lock(mu);
            std::string key(id);
            std::optional<std::string> renamed;
            if (key.rfind("rename-", 0) == 0) {
                key = "renamed-" + key.substr(7);
                renamed = key;
            }
            if (create_new && sessions.count(key)) throw toto::Error(TOTO_RESULT_ID_COLLISION);
            sessions[key] = MapCache::Entry{std::string(user), expires, record.to_bytes()};
            return renamed;
        };
        f.load = [this](std::string_view id) -> std::optional<toto::Bytes> {
            std::lock_guard<std::mutex> lock(mu);
            auto it = sessions.find(std::string(id));
            if (it == sessions.end() || it->second.expires <= now()) return std::nullopt;
            return it->second.record;
        };
        f.remove = [this](std::string_view id) {
            std::lock_guard<std::mutex> lock(mu);
            sessions.erase(std::string(id));
        };
        f.remove_user = [this](std::string_view user) {
            std::lock_guard<std::mutex> lock(mu);
            uint64_t n = 0;
            for (auto it = sessions.begin(); it != sessions.end();) {
                if (it->second.user == user) {
                    it = sessions.erase(it);
                    n++;
                } else {
                    ++it;
                }
            }
            return n;
        };
        return f;
    }

    toto::AccountStoreFunctions store_functions() {
        toto::AccountStoreFunctions f;
        f.load = [this](std::string_view user,
                        const std::optional<std::vector<std::string_view>> &names)
            -> std::optional<std::vector<toto::Property>> {
            std::lock_guard<std::mutex> lock(mu);
            auto it = accounts.find(std::string(user));
            if (it == accounts.end()) return std::nullopt;
            std::vector<toto::Property> out;
            for (const auto &p : it->second) {
                bool wanted = !names;
                if (names)
                    for (auto n : *names) wanted = wanted || n == p.first;
                if (wanted) out.push_back(toto::Property{p.first, p.second});
            }
            return out;
        };
        auto write = [this](std::string_view user, const std::vector<toto::PropertyView> &props, bool create) {
            std::lock_guard<std::mutex> lock(mu);
            auto it = accounts.find(std::string(user));
            if (create == (it != accounts.end())) return false;
            auto &dst = accounts[std::string(user)];
            for (const auto &p : props) dst[std::string(p.name)] = p.value.to_bytes();
            return true;
        };
        f.save = [write](std::string_view user, const std::vector<toto::PropertyView> &props) {
            return write(user, props, false);
        };
        f.create = [write](std::string_view user, const std::vector<toto::PropertyView> &props) {
            return write(user, props, true);
        };
        return f;
    }
};

// ---- the shared manager flow ----------------------------------------------------------

// Accounts, login, retrieve, state, signed requests, rotation, password changes and
// logout through `m`.
void manager_flow(const toto::Manager &m) {
    m.create_account("Alice", "s3cret", R"({"email":"alice@example.com","age":41})");
    CHECK_THROWS(m.create_account("alice", "x"), TOTO_RESULT_USER_ID_EXISTS);
    CHECK_THROWS(m.create_account("", "x"), TOTO_RESULT_INVALID_USER_ID);
    std::string detail = CHECK_THROWS(m.create_account("bob", "x", "[1,2"), TOTO_RESULT_INVALID_JSON);
    CHECK(!detail.empty());
    CHECK_THROWS(m.login("alice", "wrong"), TOTO_RESULT_INVALID_CREDENTIALS);
    CHECK_THROWS(m.login("nobody", "s3cret"), TOTO_RESULT_INVALID_CREDENTIALS);

    toto::Session s = m.login("ALICE", "s3cret");
    CHECK(s.user_id() == "alice");
    CHECK(s.key().has_value());
    CHECK(s.expires() > now());
    std::string id = s.id();
    CHECK(id.size() == 22);

    // State survives save + retrieve.
    s.set_text("cart", "3 apples");
    s.set_i64("visits", 7);
    CHECK(s.dirty());
    m.save_session(s);
    CHECK(!s.dirty());
    toto::Session r = m.retrieve_session(id);
    CHECK(r.get_text("cart") == std::optional<std::string>("3 apples"));
    CHECK(r.get_i64("visits") == std::optional<int64_t>(7));
    CHECK(r.key() == s.key());

    // A signed request, checked in one manager call; tampering gives 1008.
    std::string body = R"({"method":"account.get"})";
    std::string mac = s.sign_request("POST", "/api?x=1", body);
    toto::Session v = m.verify_request(id, mac, "POST", "/api?x=1", body);
    CHECK(v.id() == id);
    CHECK_THROWS(m.verify_request(id, mac, "POST", "/api?x=1", body + " "), TOTO_RESULT_INVALID_HMAC);
    CHECK_THROWS(m.verify_request("no-such-session", mac, "POST", "/api?x=1", body),
                 TOTO_RESULT_INVALID_SESSION_ID);

    // Refresh picks up what another handle saved.
    r.set_bool("seen", true);
    m.save_session(r);
    m.refresh_session(s);
    CHECK(s.get_bool("seen") == std::optional<bool>(true));

    // The end of a request: a change saved and the answer signed in one call.
    toto::Session f = m.verify_request(id, mac, "POST", "/api?x=1", body);
    f.set_i64("visits", 8);
    CHECK(m.finish_response(f, "{}") == f.sign_response("{}"));
    CHECK(!f.dirty());
    CHECK(m.retrieve_session(id).get_i64("visits") == std::optional<int64_t>(8));
    m.refresh_session(s); // s is behind that save (rotation below saves it first)

    // The account behind the session.
    toto::Account a = m.session_account(s);
    CHECK(a.user_id() == "alice");
    CHECK(a.get_text("email") == std::optional<std::string>("alice@example.com"));
    CHECK(a.get_i64("age") == std::optional<int64_t>(41));
    CHECK(!a.get_text("phone").has_value());
    a.set_text("phone", "555-0100");
    CHECK(a.is_modified("phone"));
    a.save();
    CHECK(a.modified_count() == 0);
    toto::Account a2 = m.account("alice");
    CHECK(a2.get_text("phone") == std::optional<std::string>("555-0100"));
    toto::Session anon = m.create_session();
    CHECK(anon.anonymous());
    CHECK(!anon.key().has_value());
    CHECK_THROWS(m.session_account(anon), TOTO_RESULT_NOT_AUTHORIZED);
    CHECK_THROWS(m.account(""), TOTO_RESULT_INVALID_USER_ID);

    // Rotation: the old id is gone.
    m.rotate_session(s);
    CHECK(s.id() != id);
    CHECK(!m.find_session(id).has_value());
    CHECK(m.find_session(s.id()).has_value());
    id = s.id();

    // Password change keeps `s` (under a fresh id) and ends the others.
    toto::Session other = m.login("alice", "s3cret");
    CHECK_THROWS(m.change_password("alice", "wrong", "n3w", &s), TOTO_RESULT_INVALID_CREDENTIALS);
    m.change_password("alice", "s3cret", "n3w", &s);
    CHECK(s.id() != id);
    CHECK(m.find_session(s.id()).has_value());
    CHECK(!m.find_session(other.id()).has_value());
    CHECK_THROWS(m.login("alice", "s3cret"), TOTO_RESULT_INVALID_CREDENTIALS);
    toto::Session again = m.login("alice", "n3w");

    std::string generated = m.generate_password("alice");
    CHECK(generated.size() == 10);
    CHECK(!m.find_session(again.id()).has_value());
    toto::Session g = m.login("alice", generated);
    toto::Session g2 = m.create_session("alice", true);
    CHECK(g2.key().has_value());

    CHECK(m.clear_sessions("alice") == 2);
    CHECK(!m.find_session(g.id()).has_value());

    // Logout.
    toto::Session l = m.login("alice", generated);
    m.logout(l);
    CHECK_THROWS(m.retrieve_session(l.id()), TOTO_RESULT_INVALID_SESSION_ID);
    m.remove_session(anon.id());
    CHECK(!m.find_session(anon.id()).has_value());
    m.remove_session(anon.id()); // a missing id is success
}

// ---- tests ------------------------------------------------------------------------------

template <typename T>
constexpr bool move_only_v = !std::is_copy_constructible_v<T> && !std::is_copy_assignable_v<T> &&
                             std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T> &&
                             std::is_nothrow_default_constructible_v<T>;
static_assert(move_only_v<toto::Session>);
static_assert(move_only_v<toto::Account>);
static_assert(move_only_v<toto::Cache>);
static_assert(move_only_v<toto::AccountStore>);
static_assert(move_only_v<toto::Manager>);
static_assert(std::is_base_of_v<std::runtime_error, toto::Error>);

void test_version_and_errors() {
    CHECK(toto::version() == toto::header_version);
    CHECK(toto::header_version == TOTO_SESSION_VERSION);
    CHECK(!toto::result_message(TOTO_RESULT_INVALID_HMAC).empty());
    toto::Error e(TOTO_RESULT_INVALID_HMAC, "the detail");
    CHECK(e.code() == TOTO_RESULT_INVALID_HMAC);
    CHECK(e.value() == 1008);
    CHECK(e.message() == toto::result_message(TOTO_RESULT_INVALID_HMAC));
    CHECK(e.detail() == "the detail");
    std::string what = e.what();
    CHECK(what.find("1008") != std::string::npos);
    CHECK(what.find("the detail") != std::string::npos);
    CHECK(what.find(std::string(e.message())) != std::string::npos);
    // A detail that only repeats the message is not printed twice.
    toto::Error plain(TOTO_RESULT_NOT_FOUND, std::string(toto::result_message(TOTO_RESULT_NOT_FOUND)));
    std::string w = plain.what();
    CHECK(w.find(std::string(plain.message())) == w.rfind(std::string(plain.message())));
    CHECK(toto::Error(TOTO_RESULT_NOT_FOUND).detail().empty());
    CHECK(toto::ByteView(static_cast<const char *>(nullptr)).empty());
    std::string id = toto::generate_id();
    CHECK(id.size() == 22);
    CHECK(id != toto::generate_id());
}

void test_session_values() {
    double exp = now() + 3600;
    toto::Session s = toto::Session::create("MixedCase@Example.com", exp);
    CHECK(s.user_id() == "mixedcase@example.com");
    CHECK(s.id().size() == 22);
    CHECK(s.expires() == exp);
    CHECK(s.dirty());
    CHECK(s.empty());

    s.set_null("n");
    s.set_bool("b", false);
    s.set_i64("i", -42);
    s.set_i64("zero", 0);
    s.set_f64("f", 2.5);
    s.set_text("t", "caf\xc3\xa9");
    s.set_text("empty", "");
    const toto::Bytes raw{0, 1, 0xff, 0};
    s.set_bytes("y", raw);
    s.set_json("j", R"({"a":[1,2,{"b":null}],"c":"d"})");
    CHECK(s.size() == 9);
    CHECK(s.keys() == (std::vector<std::string>{"b", "empty", "f", "i", "j", "n", "t", "y", "zero"}));

    CHECK(s.contains("n"));
    CHECK(s.type("n") == toto::ValueType::null);
    CHECK(s.get_bool("b") == std::optional<bool>(false));
    CHECK(s.get_i64("i") == std::optional<int64_t>(-42));
    CHECK(s.get_i64("zero") == std::optional<int64_t>(0));
    CHECK(s.get_f64("f") == std::optional<double>(2.5));
    CHECK(s.get_text("t") == std::optional<std::string>("caf\xc3\xa9"));
    CHECK(s.get_text("empty") == std::optional<std::string>(""));
    CHECK(s.get_bytes("y") == std::optional<toto::Bytes>(raw));
    CHECK(s.type("j") == toto::ValueType::map);
    CHECK(s.get_json("j") == std::optional<std::string>(R"({"a":[1,2,{"b":null}],"c":"d"})"));
    CHECK(s.type("y") == toto::ValueType::bytes);
    CHECK(s.type("t") == toto::ValueType::text);
    CHECK(s.type("i") == toto::ValueType::integer);
    CHECK(s.type("f") == toto::ValueType::floating);
    CHECK(s.type("b") == toto::ValueType::boolean);

    // One-call reads.
    auto sc = s.get_scalar("i");
    CHECK(sc && sc->type == toto::ValueType::integer && sc->integer == std::optional<int64_t>(-42));
    sc = s.get_scalar("t");
    CHECK(sc && sc->type == toto::ValueType::text && sc->text == "caf\xc3\xa9");
    sc = s.get_scalar("y");
    CHECK(sc && sc->type == toto::ValueType::bytes && sc->bytes == raw);
    sc = s.get_scalar("b");
    CHECK(sc && sc->type == toto::ValueType::boolean && !sc->boolean);
    sc = s.get_scalar("f");
    CHECK(sc && sc->type == toto::ValueType::floating && sc->number == 2.5);
    sc = s.get_scalar("j");
    CHECK(sc && sc->type == toto::ValueType::map && sc->text.empty());
    CHECK(s.get_scalar("n")->type == toto::ValueType::null);
    s.set_json("big", "18446744073709551615");
    sc = s.get_scalar("big");
    CHECK(sc && sc->type == toto::ValueType::integer && !sc->integer);
    CHECK_THROWS(s.get_i64("big"), TOTO_RESULT_TYPE_MISMATCH);
    s.remove("big");
    CHECK(!s.get_scalar("missing").has_value());

    // Absent keys are nullopt, wrong types are errors.
    CHECK(!s.get_text("missing").has_value());
    CHECK(!s.get_bool("missing").has_value());
    CHECK(!s.get_i64("missing").has_value());
    CHECK(!s.get_f64("missing").has_value());
    CHECK(!s.get_bytes("missing").has_value());
    CHECK(!s.get_json("missing").has_value());
    // Texts around the wrapper's stack buffer (256 bytes) read whole.
    for (std::size_t n : {254u, 255u, 256u, 257u, 5000u}) {
        std::string text = "\"" + std::string(n - 2, 'z') + "\"";
        s.set_json("long", text);
        CHECK(s.get_json("long") == std::optional<std::string>(text));
    }
    CHECK_THROWS(s.get_json(std::string(2000, 'k')), TOTO_RESULT_TOO_LARGE);
    CHECK(!s.get_cbor("missing").has_value());
    CHECK(!s.type("missing").has_value());
    CHECK_THROWS(s.get_i64("t"), TOTO_RESULT_TYPE_MISMATCH);
    CHECK_THROWS(s.get_f64("i"), TOTO_RESULT_TYPE_MISMATCH);
    CHECK_THROWS(s.set_text("bad", "\xff"), TOTO_RESULT_INVALID_UTF8);
    CHECK(!CHECK_THROWS(s.set_json("bad", "{"), TOTO_RESULT_INVALID_JSON).empty());
    CHECK(!CHECK_THROWS(s.set_cbor("bad", "\xff\xff"), TOTO_RESULT_INVALID_CBOR).empty());

    // CBOR bridge: a value read as CBOR stores back as the same value.
    auto cbor = s.get_cbor("j");
    CHECK(cbor.has_value() && !cbor->empty());
    s.set_cbor("j2", *cbor);
    CHECK(s.get_json("j2") == s.get_json("j"));
    CHECK(s.get_cbor("i") == std::optional<toto::Bytes>(toto::Bytes{0x38, 0x29})); // -42

    // Export / import round trip.
    s.set_key("k3y");
    toto::Bytes record = s.export_record();
    toto::Session t = toto::Session::import_record(record);
    CHECK(!t.dirty());
    CHECK(t.id() == s.id());
    CHECK(t.user_id() == s.user_id());
    CHECK(t.expires() == s.expires());
    CHECK(t.key() == std::optional<std::string>("k3y"));
    CHECK(t.keys() == s.keys());
    CHECK(t.get_bytes("y") == std::optional<toto::Bytes>(raw));
    CHECK(!CHECK_THROWS(toto::Session::import_record("garbage"), TOTO_RESULT_INVALID_CBOR).empty());

    // Remove, clear, id, key and expiry setters.
    s.remove("n");
    s.remove("n");
    CHECK(!s.contains("n"));
    s.clear();
    CHECK(s.size() == 0);
    s.mark_clean();
    CHECK(!s.dirty());
    s.set_id("a-chosen-id");
    CHECK(s.id() == "a-chosen-id");
    CHECK(s.dirty());
    CHECK_THROWS(s.set_id("has space"), TOTO_RESULT_INVALID_SESSION_ID);
    s.set_expires(exp + 1);
    CHECK(s.expires() == exp + 1);
    CHECK_THROWS(s.set_expires(std::nan("")), TOTO_RESULT_INVALID_ARGUMENT);
    s.clear_key();
    CHECK(!s.key().has_value());
    std::string k = s.generate_key();
    CHECK(k.size() == 22 && s.key() == k);

    toto::Session w = toto::Session::with_id("given-id", "", exp);
    CHECK(w.id() == "given-id");
    CHECK(w.anonymous());
    CHECK_THROWS(toto::Session::with_id("", "", exp), TOTO_RESULT_INVALID_SESSION_ID);
    CHECK_THROWS(toto::Session::create("", std::nan("")), TOTO_RESULT_INVALID_ARGUMENT);
}

void test_signing() {
    toto::Session s = toto::Session::create("alice", now() + 60);
    CHECK_THROWS(s.sign_request("GET", "/"), TOTO_RESULT_INVALID_HMAC); // no key yet
    s.set_key("secret-key");

    std::string body = "{\"amount\":10}";
    std::string mac = s.sign_request("POST", "/pay?to=bob", body);
    CHECK(mac.size() == 28);
    s.verify_request(mac, "POST", "/pay?to=bob", body);
    toto::verify_request(s, mac, "POST", "/pay?to=bob", body);
    CHECK(toto::sign_request(s, "POST", "/pay?to=bob", body) == mac);
    // The request mac is HMAC over METHOD + URI + BODY with the session key.
    CHECK(toto::hmac("secret-key", "POST/pay?to=bob" + body) == mac);
    CHECK(s.hmac("POST/pay?to=bob" + body) == mac);
    s.verify(mac, "POST/pay?to=bob" + body);
    toto::verify("secret-key", mac, "POST/pay?to=bob" + body);

    // Tampering with body, method, uri or mac: 1008.
    CHECK_THROWS(s.verify_request(mac, "POST", "/pay?to=bob", "{\"amount\":1000}"), TOTO_RESULT_INVALID_HMAC);
    CHECK_THROWS(s.verify_request(mac, "PUT", "/pay?to=bob", body), TOTO_RESULT_INVALID_HMAC);
    CHECK_THROWS(s.verify_request(mac, "POST", "/pay?to=eve", body), TOTO_RESULT_INVALID_HMAC);
    CHECK_THROWS(s.verify_request("", "POST", "/pay?to=bob", body), TOTO_RESULT_INVALID_HMAC);
    CHECK_THROWS(toto::verify("other-key", mac, "POST/pay?to=bob" + body), TOTO_RESULT_INVALID_HMAC);
    CHECK_THROWS(toto::hmac("", "x"), TOTO_RESULT_INVALID_HMAC);

    // Responses: HMAC over SESSION_ID + BODY.
    std::string rmac = s.sign_response("{\"ok\":true}");
    CHECK(rmac == toto::hmac("secret-key", s.id() + "{\"ok\":true}"));
    CHECK(toto::sign_response(s, "{\"ok\":true}") == rmac);
    s.verify_response(rmac, "{\"ok\":true}");
    toto::verify_response(s, rmac, "{\"ok\":true}");
    CHECK_THROWS(s.verify_response(rmac, "{\"ok\":false}"), TOTO_RESULT_INVALID_HMAC);

    // Binary bodies pass as bytes.
    const toto::Bytes bin{0, 1, 2, 0xfe};
    std::string bmac = s.sign_request("PUT", "/blob", bin);
    s.verify_request(bmac, "PUT", "/blob", toto::ByteView(bin.data(), bin.size()));
}

void test_memory_cache_and_store() {
    toto::Cache c = toto::Cache::memory();
    double exp = now() + 60;
    CHECK(!c.store("id-1", "Alice", exp, "record-bytes").has_value());
    CHECK(c.load("id-1") == std::optional<toto::Bytes>(toto::ByteView("record-bytes").to_bytes()));
    CHECK_THROWS(c.store("id-1", "alice", exp, "other", true), TOTO_RESULT_ID_COLLISION);
    CHECK(!c.load("id-2").has_value());
    c.store("id-2", "alice", exp, "r2");
    CHECK(c.remove_user("alice") == 2);
    CHECK(!c.load("id-1").has_value());
    c.store("id-3", "", now() - 1, "expired");
    CHECK(!c.load("id-3").has_value());
    c.store("id-4", "", exp, "r4");
    c.remove("id-4");
    c.remove("id-4");
    CHECK(!c.load("id-4").has_value());
    CHECK_THROWS(c.load("bad id"), TOTO_RESULT_INVALID_SESSION_ID);

    for (auto *make : {&toto::Cache::memory, &toto::Cache::memory_compact}) {
        toto::Cache cache = make();
        toto::Session s = toto::Session::create("bob", exp);
        s.set_i64("n", 5);
        cache.store_session(s);
        CHECK(!s.dirty());
        auto back = cache.load_session(s.id());
        CHECK(back.has_value() && back->get_i64("n") == std::optional<int64_t>(5));
        CHECK(!cache.load_session("nope").has_value());
    }

    static double clock_now = 1700000000.0;
    auto clock = [](void *data) { return *static_cast<double *>(data); };
    toto::Cache clocked = toto::Cache::memory_with_clock(clock, &clock_now);
    clocked.store("t-1", "", clock_now + 10, "r");
    CHECK(clocked.load("t-1").has_value());
    clock_now += 11;
    CHECK(!clocked.load("t-1").has_value());

    toto::AccountStore st = toto::AccountStore::memory();
    st.create("Carol");
    CHECK_THROWS(st.create("carol"), TOTO_RESULT_USER_ID_EXISTS);
    CHECK_THROWS(st.create(""), TOTO_RESULT_INVALID_USER_ID);
    toto::Account a = toto::Account::open(st, "CAROL");
    CHECK(a.user_id() == "carol");
    a.set_null("z");
    a.set_bool("b", true);
    a.set_i64("i", 1);
    a.set_f64("f", 0.5);
    a.set_text("t", "x");
    a.set_bytes("y", toto::Bytes{9, 0});
    a.set_json("j", "[1,\"two\"]");
    a.set_cbor("c", toto::Bytes{0xf5}); // true
    CHECK(a.modified_count() == 8);
    a.save();
    CHECK(a.modified_count() == 0);

    toto::Account a2 = st.account("carol");
    a2.load({"b", "i", "nope"});
    CHECK(a2.get_bool("b") == std::optional<bool>(true));
    a2.load_all();
    CHECK(a2.type("z") == toto::ValueType::null);
    CHECK(a2.get_i64("i") == std::optional<int64_t>(1));
    CHECK(a2.get_f64("f") == std::optional<double>(0.5));
    CHECK(a2.get_text("t") == std::optional<std::string>("x"));
    CHECK(a2.get_bytes("y") == std::optional<toto::Bytes>(toto::Bytes{9, 0}));
    CHECK(a2.get_json("j") == std::optional<std::string>("[1,\"two\"]"));
    CHECK(a2.get_bool("c") == std::optional<bool>(true));
    CHECK(a2.get_cbor("i") == std::optional<toto::Bytes>(toto::Bytes{0x01}));
    CHECK(!a2.get_text("nope").has_value());
    CHECK(!a2.type("nope").has_value());
    CHECK_THROWS(a2.get_text("i"), TOTO_RESULT_TYPE_MISMATCH);
    CHECK(!CHECK_THROWS(a2.set_json("bad", "nope"), TOTO_RESULT_INVALID_JSON).empty());

    st.remove("carol");
    CHECK_THROWS(st.remove("carol"), TOTO_RESULT_INVALID_CREDENTIALS);
    toto::Account gone = st.account("carol");
    CHECK_THROWS(gone.get_text("t"), TOTO_RESULT_INVALID_CREDENTIALS);
    CHECK_THROWS(toto::Account::open(st, ""), TOTO_RESULT_INVALID_USER_ID);
}

void test_manager_over_memory() {
    for (auto *make : {&toto::Cache::memory, &toto::Cache::memory_compact}) {
        toto::Manager m(make(), toto::AccountStore::memory(), cheap_options());
        manager_flow(m);
    }
    toto::ManagerOptions bad = cheap_options();
    bad.session_ttl = -1;
    std::string detail =
        CHECK_THROWS(toto::Manager(toto::Cache::memory(), toto::AccountStore::memory(), bad),
                     TOTO_RESULT_INVALID_ARGUMENT);
    CHECK(!detail.empty());
}

void test_manager_over_custom_backends() {
    auto cache = std::make_shared<MapCache>();
    auto store = std::make_shared<MapStore>();
    {
        toto::Manager m(toto::Cache::custom(cache), toto::AccountStore::custom(store), cheap_options());
        // The wrappers' handles are gone; the manager holds the only C references.
        CHECK(cache.use_count() == 2 && store.use_count() == 2);
        manager_flow(m);
        CHECK(cache->stores > 0);
        CHECK(cache->load_renews > 0); // retrieve goes through load_renew
        CHECK(store->has("alice", "password"));
        CHECK(store->has("alice", "email"));
        CHECK(store->has("alice", "phone"));
    }
    // The manager released the last C references: the backends' shares are dropped.
    CHECK(cache.use_count() == 1 && store.use_count() == 1);

    // Direct use of a custom cache, and an account store without remove.
    toto::Cache c = toto::Cache::custom(cache);
    c.store("direct", "dave", now() + 60, "rec");
    CHECK(c.load("direct") == std::optional<toto::Bytes>(toto::ByteView("rec").to_bytes()));
    CHECK_THROWS(c.store("direct", "dave", now() + 60, "rec", true), TOTO_RESULT_ID_COLLISION);
    CHECK(c.remove_user("dave") == 1);
    toto::AccountStore s = toto::AccountStore::custom(store);
    s.create("erin");
    s.remove("erin");
    CHECK_THROWS(s.remove("erin"), TOTO_RESULT_INVALID_CREDENTIALS);
    CHECK_THROWS(toto::Cache::custom(std::shared_ptr<toto::CacheBackend>()), TOTO_RESULT_NULL_ARGUMENT);
}

void test_manager_over_function_callbacks() {
    FunctionWorld world;
    toto::Cache cache = toto::Cache::custom(world.cache_functions());
    toto::AccountStore store = toto::AccountStore::custom(world.store_functions());
    {
        toto::Manager m(cache, store, cheap_options());
        manager_flow(m);
    }
    // Without remove_user, "log out everywhere" is unsupported.
    toto::CacheFunctions partial = world.cache_functions();
    partial.remove_user = nullptr;
    toto::Manager mp(toto::Cache::custom(std::move(partial)), store, cheap_options());
    CHECK_THROWS(mp.clear_sessions("alice"), TOTO_RESULT_UNSUPPORTED);
    // A cache that renames what it stores.
    CHECK(cache.store("rename-me", "", now() + 60, "r") == std::optional<std::string>("renamed-me"));
    CHECK(cache.load("renamed-me").has_value());
    toto::Session s = toto::Session::with_id("rename-this", "", now() + 60);
    cache.store_session(s);
    CHECK(s.id() == "renamed-this");
    CHECK_THROWS(store.remove("alice"), TOTO_RESULT_UNSUPPORTED);
    CHECK_THROWS(toto::Cache::custom(toto::CacheFunctions{}), TOTO_RESULT_INVALID_ARGUMENT);
    CHECK_THROWS(toto::AccountStore::custom(toto::AccountStoreFunctions{}), TOTO_RESULT_INVALID_ARGUMENT);
}

// Callbacks that throw: a clear error code and message, never a crash or an
// exception crossing the library.
void test_throwing_callbacks() {
    FunctionWorld world;
    toto::CacheFunctions f = world.cache_functions();
    int mode = 0;
    f.load = [&mode](std::string_view) -> std::optional<toto::Bytes> {
        switch (mode) {
        case 0:
            throw std::runtime_error("disk on fire");
        case 1:
            throw 42; // not even a std::exception
        case 2:
            throw toto::Error(TOTO_RESULT_BACKEND_UNAVAILABLE, "redis is down");
        default:
            return toto::Bytes{1, 2, 3}; // not a record
        }
    };
    toto::Cache cache = toto::Cache::custom(std::move(f));

    std::string detail = CHECK_THROWS(cache.load("some-id"), TOTO_RESULT_BACKEND_FAILED);
    CHECK(detail.find("disk on fire") != std::string::npos);
    mode = 1;
    detail = CHECK_THROWS(cache.load("some-id"), TOTO_RESULT_BACKEND_FAILED);
    CHECK(!detail.empty());
    mode = 2;
    detail = CHECK_THROWS(cache.load("some-id"), TOTO_RESULT_BACKEND_UNAVAILABLE);
    CHECK(detail.find("redis is down") != std::string::npos);

    toto::Manager m(cache, toto::AccountStore::memory(), cheap_options());
    mode = 0;
    detail = CHECK_THROWS(m.retrieve_session("some-id"), TOTO_RESULT_BACKEND_FAILED);
    CHECK(detail.find("disk on fire") != std::string::npos);
    mode = 3;
    CHECK_THROWS(m.retrieve_session("some-id"), TOTO_RESULT_INVALID_CBOR);

    // A throwing store: create_account fails cleanly, and later calls still work.
    toto::AccountStoreFunctions sf = world.store_functions();
    bool fail = true;
    auto create = sf.create;
    sf.create = [&fail, create](std::string_view user, const std::vector<toto::PropertyView> &props) {
        if (fail) throw std::logic_error("constraint violated");
        return create(user, props);
    };
    toto::Manager m2(toto::Cache::memory(), toto::AccountStore::custom(std::move(sf)), cheap_options());
    detail = CHECK_THROWS(m2.create_account("frank", "pw"), TOTO_RESULT_BACKEND_FAILED);
    CHECK(detail.find("constraint violated") != std::string::npos);
    fail = false;
    m2.create_account("frank", "pw");
    toto::Session s = m2.login("frank", "pw");
    CHECK(s.user_id() == "frank");

    // A throwing class backend, through the manager's store path.
    struct Broken : MapCache {
        std::optional<std::string> store(std::string_view, std::string_view, double, toto::ByteView,
                                         bool) override {
            throw std::bad_alloc();
        }
    };
    toto::Manager m3(toto::Cache::custom(std::make_shared<Broken>()), toto::AccountStore::memory(),
                     cheap_options());
    CHECK_THROWS(m3.create_session(), TOTO_RESULT_BACKEND_FAILED);
}

// One manager over a custom backend, shared by threads (the backends lock).
void test_shared_manager_across_threads() {
    auto cache = std::make_shared<MapCache>();
    toto::Manager m(toto::Cache::custom(cache), toto::AccountStore::custom(std::make_shared<MapStore>()),
                    cheap_options());
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
        threads.emplace_back([&m, &failures, t] {
            try {
                for (int i = 0; i < 20; i++) {
                    toto::Session s = m.create_session("user" + std::to_string(t), true);
                    s.set_i64("i", i);
                    m.save_session(s);
                    toto::Session r = m.verify_request(s.id(), s.sign_request("GET", "/"), "GET", "/");
                    if (r.get_i64("i") != std::optional<int64_t>(i)) failures++;
                }
            } catch (...) {
                failures++;
            }
        });
    }
    for (auto &th : threads) th.join();
    CHECK(failures == 0);
    CHECK(cache->size() == 80);
    CHECK(m.clear_sessions("user0") == 20);
}

void test_moved_from_handles() {
    toto::Session a = toto::Session::create("alice", now() + 60);
    std::string id = a.id();
    toto::Session b = std::move(a);
    CHECK(!a); // NOLINT(bugprone-use-after-move): moved-from handles are empty
    CHECK(b && b.id() == id);
    CHECK_THROWS(a.id(), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_THROWS(a.set_i64("x", 1), TOTO_RESULT_NULL_ARGUMENT);
    // Move-assigning over a live handle frees the old one (valgrind checks).
    toto::Session c = toto::Session::create("carol", now() + 60);
    c = std::move(b);
    CHECK(c.id() == id);
    a = std::move(c);
    CHECK(a.id() == id);

    toto::Cache cache = toto::Cache::memory();
    toto::Cache cache2 = std::move(cache);
    CHECK(!cache);
    CHECK_THROWS(cache.load("x"), TOTO_RESULT_NULL_ARGUMENT);
    toto::AccountStore store = toto::AccountStore::memory();
    toto::AccountStore store2(std::move(store));
    CHECK(!store);
    CHECK_THROWS(toto::Manager(cache, store2), TOTO_RESULT_NULL_ARGUMENT);
    toto::Manager m(cache2, store2, cheap_options());
    toto::Manager m2 = std::move(m);
    CHECK(!m);
    CHECK_THROWS(m.create_session(), TOTO_RESULT_NULL_ARGUMENT);
    toto::Session s = m2.create_session("alice");
    toto::Account acc = m2.account("alice");
    toto::Account acc2 = std::move(acc);
    CHECK(!acc && acc2);
    CHECK_THROWS(acc.user_id(), TOTO_RESULT_NULL_ARGUMENT);
    CHECK_THROWS(m2.save_session(b), TOTO_RESULT_NULL_ARGUMENT);

    // release() hands the C handle over; the C API frees it.
    toto_session *raw = s.release();
    CHECK(!s && raw != nullptr);
    toto_session_free(raw);
    toto::Session empty;
    CHECK(!empty);
    // Every moved-from and empty handle is destroyed here without a double free.
}

void test_redis() {
    const char *url = std::getenv("TOTO_REDIS_URL");
    // No silent skip: make test-cpp runs this under scripts/with-redis.sh.
    if (!CHECK(url != nullptr)) return;
    toto::RedisOptions opt;
    CHECK(opt.connect_timeout_ms > 0 && opt.io_timeout_ms > 0);
    opt.key_prefix = "cpptest:" + std::to_string(static_cast<long long>(now())) + ":";
    toto::Cache cache = toto::Cache::redis(url, opt);
    double exp = now() + 60;
    cache.store("redis-id-1", "alice", exp, "rec");
    CHECK(cache.load("redis-id-1") == std::optional<toto::Bytes>(toto::ByteView("rec").to_bytes()));
    CHECK_THROWS(cache.store("redis-id-1", "alice", exp, "rec", true), TOTO_RESULT_ID_COLLISION);
    CHECK(cache.remove_user("alice") == 1);
    CHECK(!cache.load("redis-id-1").has_value());
    {
        toto::Manager m(cache, toto::AccountStore::memory(), cheap_options());
        manager_flow(m);
    }
    CHECK(!CHECK_THROWS(toto::Cache::redis("not a url"), TOTO_RESULT_INVALID_ARGUMENT).empty());
    // A Redis nobody listens on: unavailable on first use, not at creation.
    toto::RedisOptions quick;
    quick.connect_timeout_ms = 200;
    quick.io_timeout_ms = 200;
    toto::Cache down = toto::Cache::redis("redis://127.0.0.1:1/", quick);
    CHECK_THROWS(down.load("some-id"), TOTO_RESULT_BACKEND_UNAVAILABLE);
}

} // namespace

int main() {
    RUN(test_version_and_errors);
    RUN(test_session_values);
    RUN(test_signing);
    RUN(test_memory_cache_and_store);
    RUN(test_manager_over_memory);
    RUN(test_manager_over_custom_backends);
    RUN(test_manager_over_function_callbacks);
    RUN(test_throwing_callbacks);
    RUN(test_shared_manager_across_threads);
    RUN(test_moved_from_handles);
    RUN(test_redis);
    std::printf("test_wrapper: %d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
