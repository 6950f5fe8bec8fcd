// The accounts service's expiry sweep over the real SQLite store with a manual clock: expired
// tokens go, an idle guest is purged (its cached token stops working, it reads as a deleted
// user), a guest with recent requests or a live connection stays, registered users stay.

#include <catch2/catch.hpp>
#include <monochat/logic/accounts.hpp>

#include "unit/logic/logic_test_support.hpp"

using namespace monochat;
using namespace monochat::logic;
using namespace monochat::logic::test;
using namespace std::chrono_literals;

namespace {

infra::config expiry_config() {
    infra::config cfg = test_config();
    cfg.auth.guest_ttl_s = 100;
    cfg.auth.token_ttl_s = 1000;
    cfg.auth.sweep_batch = 1;  // every purge takes several batches
    return cfg;
}

}  // namespace

TEST_CASE("the sweep purges idle guests and expired tokens and keeps everyone active",
          "[logic][expiry]") {
    world w(expiry_config());
    const auto member = value_of(run(w.accounts->register_user("member", "password-member",
                                                               std::nullopt, "10.0.0.1")));
    const auto idle = value_of(run(w.accounts->create_guest("idle", "10.0.0.1")));
    const auto busy = value_of(run(w.accounts->create_guest("busy", "10.0.0.1")));
    const auto online = value_of(run(w.accounts->create_guest("online", "10.0.0.1")));
    // Cached now: the purge must reach the cache too.
    value_of(run(w.accounts->authenticate(idle.token)));
    w.presence.set(online.user.user_id);

    // Nothing is old enough yet.
    auto first = value_of(run(w.accounts->sweep()));
    CHECK(first.guests == 0);
    CHECK(first.tokens == 0);

    // 60 s later the busy guest makes a request; 101 s after creation the others are idle.
    w.clock.advance(60s);
    value_of(run(w.accounts->authenticate(busy.token)));
    w.clock.advance(41s);
    auto swept = value_of(run(w.accounts->sweep()));
    CHECK(swept.guests == 1);
    CHECK(error_of(run(w.accounts->authenticate(idle.token))) == errc::unauthenticated);
    const identity viewer = value_of(run(w.accounts->authenticate(member.token)));
    const auto gone = value_of(run(w.accounts->get_user(viewer, idle.user.user_id)));
    CHECK(gone.deleted);
    CHECK(gone.display_name == "Deleted user");
    CHECK(to_json(gone) == R"({"deleted":true,"display_name":"Deleted user","user_id":")" +
                               std::to_string(idle.user.user_id) + "\"}");
    CHECK(value_of(run(w.accounts->authenticate(busy.token))).user_id == busy.user.user_id);
    CHECK(value_of(run(w.accounts->authenticate(online.token))).user_id == online.user.user_id);
    CHECK_FALSE(value_of(run(w.accounts->get_user(viewer, busy.user.user_id))).deleted);
    CHECK(error_of(run(w.accounts->get_user(viewer, 4242))) == errc::not_found);

    // Past the token lifetime every remaining token is expired: the sweep deletes them all
    // (three guests' and the member's, one batch at a time); the online guest, still
    // connected, is not purged, the busy one (silent since) is.
    w.clock.advance(1000s);
    auto later = value_of(run(w.accounts->sweep()));
    CHECK(later.tokens == 3);
    CHECK(later.guests == 1);
    CHECK(value_of(run(w.accounts->get_user(viewer, online.user.user_id))).guest);
    CHECK(value_of(run(w.accounts->get_user(viewer, busy.user.user_id))).deleted);
}
