// Login, a signed request checked by the server, and a tampered one refused.
#include <toto_session.hpp>

#include <cstdio>
#include <string>

int main() {
    try {
        toto::ManagerOptions options;     // the library's defaults
        options.password_memory_kib = 64; // cheap hashing for the example only
        options.password_iterations = 1;
        toto::Manager manager(toto::Cache::memory(), toto::AccountStore::memory(), options);

        manager.create_account("alice", "s3cret", R"({"email":"alice@example.com"})");
        toto::Session session = manager.login("alice", "s3cret");
        session.set_text("cart", "3 apples");
        manager.save_session(session);

        // The client signs METHOD + URI + BODY with the session's key ...
        std::string body = R"({"method":"cart.get"})";
        std::string mac = session.sign_request("POST", "/api", body);

        // ... and the server retrieves the session and checks the signature in one call.
        toto::Session checked = manager.verify_request(session.id(), mac, "POST", "/api", body);
        std::printf("cart: %s\n", checked.get_text("cart").value_or("(none)").c_str());
        std::printf("email: %s\n", manager.session_account(checked).get_text("email")->c_str());

        try {
            manager.verify_request(session.id(), mac, "POST", "/api", body + "!");
            return 1; // not reached: the body was changed
        } catch (const toto::Error &e) {
            std::printf("tampered: %u %s\n", e.value(), e.what());
            if (e.code() != TOTO_RESULT_INVALID_HMAC) return 1;
        }
        manager.remove_session(checked.id()); // logout
        return 0;
    } catch (const toto::Error &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
