#include <monochat/logic/accounts.hpp>
#include <monochat/logic/tokens.hpp>

#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <vector>

#include "unit/logic/logic_test_support.hpp"

namespace monochat::logic {
namespace {

using namespace std::chrono_literals;
using test::error_of;
using test::run;
using test::value_of;

TEST_CASE("a registered user logs in and is authenticated by the token", "[logic][accounts]") {
    test::world w;
    auto reg = value_of(run(w.accounts->register_user("alice", "password-1", "Alice A", "a")));
    CHECK(reg.user.username == "alice");
    CHECK(reg.user.display_name == "Alice A");
    CHECK_FALSE(reg.user.guest);
    const auto who = value_of(run(w.accounts->authenticate(reg.token)));
    CHECK(who.user_id == reg.user.user_id);
    CHECK_FALSE(who.guest);
    CHECK(who.token_hash == hash_token(reg.token));

    auto login = value_of(run(w.accounts->login("alice", "password-1", "a")));
    CHECK(login.user.user_id == reg.user.user_id);
    CHECK(login.token != reg.token);
    // The stored record holds a hash, never the password.
    const auto rec = value_of(run(w.store->get_user(reg.user.user_id)));
    CHECK(rec.password_hash.rfind("$argon2id$", 0) == 0);
    CHECK(rec.password_hash.find("password-1") == std::string::npos);
}

TEST_CASE("the display name defaults to the username and a taken username is a conflict",
          "[logic][accounts]") {
    test::world w;
    auto reg = value_of(run(w.accounts->register_user("bob", "password-1", std::nullopt, "a")));
    CHECK(reg.user.display_name == "bob");
    CHECK(error_of(run(w.accounts->register_user("bob", "password-2", std::nullopt, "a"))) ==
          errc::conflict);
    CHECK(error_of(run(w.accounts->register_user("Bob", "password-2", std::nullopt, "a"))) ==
          errc::invalid_argument);
    CHECK(error_of(run(w.accounts->register_user("carol", "short", std::nullopt, "a"))) ==
          errc::invalid_argument);
    CHECK(error_of(run(w.accounts->register_user("carol", "password-1", "", "a"))) ==
          errc::invalid_argument);
}

TEST_CASE("a wrong password and an unknown username get the same answer", "[logic][accounts]") {
    test::world w;
    (void)w.user("alice");
    const auto wrong = run(w.accounts->login("alice", "not-the-password", "a"));
    const auto unknown = run(w.accounts->login("nobody", "not-the-password", "a"));
    const auto malformed = run(w.accounts->login("NO BODY", "x", "a"));
    REQUIRE_FALSE(wrong.has_value());
    REQUIRE_FALSE(unknown.has_value());
    REQUIRE_FALSE(malformed.has_value());
    CHECK(wrong.error().code == errc::unauthenticated);
    CHECK(unknown.error().code == errc::unauthenticated);
    CHECK(wrong.error().message == unknown.error().message);
    CHECK(malformed.error().message == unknown.error().message);
}

TEST_CASE("logout revokes the token at once, keeps the others and asks gateway to close it",
          "[logic][accounts]") {
    test::world w;
    auto first = value_of(run(w.accounts->register_user("alice", "password-1", std::nullopt, "a")));
    auto second = value_of(run(w.accounts->login("alice", "password-1", "a")));
    const auto who = value_of(run(w.accounts->authenticate(first.token)));  // now cached
    value_of(run(w.accounts->logout(who)));
    CHECK(error_of(run(w.accounts->authenticate(first.token))) == errc::unauthenticated);
    CHECK(value_of(run(w.accounts->authenticate(second.token))).user_id == who.user_id);

    const auto all = w.deliveries.wait_for([](const auto& v) {
        return std::any_of(v.begin(), v.end(),
                           [](const delivery& d) { return d.kind == delivery_kind::close_token; });
    });
    const auto close = std::find_if(all.begin(), all.end(), [](const delivery& d) {
        return d.kind == delivery_kind::close_token;
    });
    REQUIRE(close != all.end());
    CHECK(close->close_code == 4001);
    CHECK(close->frame == hash_token(first.token));
}

TEST_CASE("malformed, unknown and expired tokens are unauthenticated", "[logic][accounts]") {
    test::world w;
    CHECK(error_of(run(w.accounts->authenticate(""))) == errc::unauthenticated);
    CHECK(error_of(run(w.accounts->authenticate("nope"))) == errc::unauthenticated);
    CHECK(error_of(run(w.accounts->authenticate(new_token()))) == errc::unauthenticated);
    auto reg = value_of(run(w.accounts->register_user("alice", "password-1", std::nullopt, "a")));
    REQUIRE(run(w.accounts->authenticate(reg.token)).has_value());
    w.clock.advance(std::chrono::seconds(test::test_config().auth.token_ttl_s) + 1s);
    CHECK(error_of(run(w.accounts->authenticate(reg.token))) == errc::unauthenticated);
}

TEST_CASE("registrations and logins per address are rate limited with a retry time",
          "[logic][accounts]") {
    auto cfg = test::test_config();
    cfg.limits.auth_rate = 3;
    test::world w(cfg);
    for (int i = 0; i < 3; ++i) {
        REQUIRE(run(w.accounts->register_user("user" + std::to_string(i), "password-1",
                                              std::nullopt, "10.1.1.1"))
                    .has_value());
    }
    const auto refused = run(w.accounts->login("user0", "password-1", "10.1.1.1"));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == errc::rate_limited);
    CHECK(refused.error().retry_after_s == 20);  // 3 per minute: one every 20 s
    CHECK(error_of(run(w.accounts->create_guest(std::nullopt, "10.1.1.1"))) == errc::rate_limited);
    // Another address is not affected; the first one recovers with time.
    CHECK(run(w.accounts->login("user0", "password-1", "10.2.2.2")).has_value());
    w.clock.advance(20s);
    CHECK(run(w.accounts->login("user0", "password-1", "10.1.1.1")).has_value());
}

TEST_CASE("repeated failed logins lock the username out, even with the right password",
          "[logic][accounts]") {
    auto cfg = test::test_config();
    cfg.auth.login_max_failures = 3;
    cfg.auth.login_lockout_s = 60;
    test::world w(cfg);
    (void)w.user("alice");
    for (int i = 0; i < 3; ++i) {
        // Different addresses: the username's own counter locks it.
        CHECK(error_of(run(w.accounts->login("alice", "wrong-password",
                                             "10.0.0." + std::to_string(i)))) ==
              errc::unauthenticated);
    }
    const auto locked = run(w.accounts->login("alice", "password-alice", "10.9.9.9"));
    REQUIRE_FALSE(locked.has_value());
    CHECK(locked.error().code == errc::rate_limited);
    CHECK(locked.error().retry_after_s == 60);
    w.clock.advance(60s);
    CHECK(run(w.accounts->login("alice", "password-alice", "10.9.9.9")).has_value());
}

TEST_CASE("repeated failed logins from one address lock the address out", "[logic][accounts]") {
    auto cfg = test::test_config();
    cfg.auth.login_max_failures = 3;
    test::world w(cfg);
    (void)w.user("alice");
    for (int i = 0; i < 3; ++i) {
        (void)run(w.accounts->login("user" + std::to_string(i), "wrong-password", "10.6.6.6"));
    }
    CHECK(error_of(run(w.accounts->login("alice", "password-alice", "10.6.6.6"))) ==
          errc::rate_limited);
    CHECK(run(w.accounts->login("alice", "password-alice", "10.7.7.7")).has_value());
}

TEST_CASE("guests get a default name, cannot be found and cannot search", "[logic][accounts]") {
    test::world w;
    auto g = value_of(run(w.accounts->create_guest(std::nullopt, "a")));
    CHECK(g.user.guest);
    CHECK(g.user.display_name == "guest-" + std::to_string(g.user.user_id));
    auto named = value_of(run(w.accounts->create_guest("Visitor", "a")));
    CHECK(named.user.display_name == "Visitor");
    const auto gw = value_of(run(w.accounts->authenticate(g.token)));
    CHECK(gw.guest);
    CHECK(error_of(run(w.accounts->search(gw, "guest", 50))) == errc::forbidden);
    CHECK(value_of(run(w.accounts->get_user(gw, named.user.user_id))).guest);

    const auto alice = w.user("alice");
    CHECK(value_of(run(w.accounts->search(alice, "guest", 50))).empty());
}

TEST_CASE("search finds registered users by prefix, folds case and honours the limit",
          "[logic][accounts]") {
    test::world w;
    const auto alice = w.user("alice");
    (void)w.user("alina");
    (void)w.user("bob");
    w.presence.set(alice.user_id);
    auto found = value_of(run(w.accounts->search(alice, "ALI", 50)));
    REQUIRE(found.size() == 2);
    CHECK(found[0].username == "alice");
    CHECK(found[0].online);
    CHECK(found[1].username == "alina");
    CHECK_FALSE(found[1].online);
    CHECK(value_of(run(w.accounts->search(alice, "ali", 1))).size() == 1);
    CHECK(value_of(run(w.accounts->search(alice, std::string(40, 'a'), 50))).empty());
    CHECK(error_of(run(w.accounts->search(alice, "", 50))) == errc::invalid_argument);
    CHECK(error_of(run(w.accounts->get_user(alice, 12345))) == errc::not_found);
}

}  // namespace
}  // namespace monochat::logic

namespace monochat::logic {
namespace {

double median_ms(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

TEST_CASE("at the default cost, an unknown username takes as long as a wrong password",
          "[logic][accounts]") {
    auto cfg = test::test_config();
    cfg.auth.argon2_ops = infra::auth_options{}.argon2_ops;
    cfg.auth.argon2_memory_kib = infra::auth_options{}.argon2_memory_kib;
    cfg.auth.login_max_failures = 1000;
    test::world w(cfg);
    (void)w.user("alice");
    const auto time_login = [&](const std::string& name, const std::string& address) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto r = run(w.accounts->login(name, "not-the-password", address));
        CHECK(error_of(r) == errc::unauthenticated);
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
            .count();
    };
    std::vector<double> wrong;
    std::vector<double> unknown;
    for (int i = 0; i < 7; ++i) {
        // A fresh address and a fresh unknown name each time: no slow-down delay is involved.
        wrong.push_back(time_login("alice", "10.0.1." + std::to_string(i)));
        unknown.push_back(time_login("nobody" + std::to_string(i), "10.0.2." + std::to_string(i)));
        w.clock.advance(std::chrono::hours(1));  // forgets alice's failures
    }
    const double a = median_ms(wrong);
    const double b = median_ms(unknown);
    INFO("median wrong password " << a << " ms, unknown user " << b << " ms");
    CHECK(b > 0.6 * a);
    CHECK(b < 1.6 * a);
}

}  // namespace
}  // namespace monochat::logic
