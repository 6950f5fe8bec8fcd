#include <catch2/catch.hpp>
#include "support/social_store.hpp"

#include "unit/storage/social_test_support.hpp"

using namespace monochat;
using namespace monochat::storage;
using namespace monochat::storage::test;

namespace {
struct directory_fixture : social_fixture {
    std::unique_ptr<social_store> cached;
    explicit directory_fixture(directory_cache_options o = {}) {
        for (std::uint64_t id = 1; id <= 4; ++id) {
            add_user(id, "user" + std::to_string(id));
        }
        add_user(9, "guest-9", true);
        auto directory = make_directory_cache(std::move(stores.users), std::move(stores.relations),
                                              *stores.changes, o, metrics);
        stores.users = std::move(directory.users);
        stores.relations = std::move(directory.relations);
        cached = make_social_store(stores);
    }
    double hits() { return metrics.get_counter("monochat_directory_cache_hits_total", "").value(); }
    double misses() {
        return metrics.get_counter("monochat_directory_cache_misses_total", "").value();
    }
    void befriend(std::uint64_t a, std::uint64_t b, std::uint64_t request_id) {
        value_of(run(cached->send_friend_request(request_id, a, b, "", 1000)));
        value_of(run(cached->accept_friend_request(request_id, b, 2000)));
    }
};
}  // namespace

TEST_CASE("the directory cache answers users and friendships after one fill",
          "[social][cache][directory]") {
    directory_fixture f;
    auto users = value_of(f.run(f.cached->get_users({2, 1, 77})));
    REQUIRE(users.size() == 2);
    CHECK(users[0].id == 2);  // the order asked, unknown ids skipped
    CHECK(users[1].id == 1);
    CHECK(f.misses() == 1);
    users = value_of(f.run(f.cached->get_users({1, 2})));
    CHECK(users.size() == 2);
    CHECK(value_of(f.run(f.cached->get_user(1))).username == "user1");
    CHECK(f.hits() == 2);
    CHECK(value_of(f.run(f.cached->get_user(9))).guest);

    CHECK_FALSE(value_of(f.run(f.cached->are_friends(1, 2))));
    CHECK_FALSE(value_of(f.run(f.cached->are_friends(2, 1))));  // the same pair: a hit
    CHECK(f.hits() == 3);
    CHECK(error_of(f.run(f.cached->get_user(77))) == errc::not_found);
}

TEST_CASE("friendship changes evict the pair", "[social][cache][directory]") {
    directory_fixture f;
    REQUIRE_FALSE(value_of(f.run(f.cached->are_friends(1, 2))));
    f.befriend(1, 2, 500);
    CHECK(value_of(f.run(f.cached->are_friends(1, 2))));
    value_of(f.run(f.cached->remove_friend(2, 1)));
    CHECK_FALSE(value_of(f.run(f.cached->are_friends(1, 2))));

    // A crossing request makes friends without an accept.
    REQUIRE_FALSE(value_of(f.run(f.cached->are_friends(3, 4))));
    value_of(f.run(f.cached->send_friend_request(600, 3, 4, "", 1000)));
    CHECK_FALSE(value_of(f.run(f.cached->are_friends(3, 4))));
    auto crossed = value_of(f.run(f.cached->send_friend_request(601, 4, 3, "", 1100)));
    REQUIRE(crossed.accepted_existing);
    CHECK(value_of(f.run(f.cached->are_friends(4, 3))));
}

TEST_CASE("user changes evict the user, deletions everything", "[social][cache][directory]") {
    directory_fixture f;
    f.befriend(1, 2, 500);
    REQUIRE(value_of(f.run(f.cached->are_friends(1, 2))));
    REQUIRE_FALSE(value_of(f.run(f.cached->get_user(1))).suspended);

    value_of(f.run(f.cached->set_suspended(1, true)));
    CHECK(value_of(f.run(f.cached->get_user(1))).suspended);
    value_of(f.run(f.cached->update_display_name(1, "Alice")));
    CHECK(value_of(f.run(f.cached->get_users({1})))[0].display_name == "Alice");

    value_of(f.run(f.cached->delete_user(2)));
    CHECK(value_of(f.run(f.cached->get_users({1, 2}))).size() == 1);
    CHECK_FALSE(value_of(f.run(f.cached->are_friends(1, 2))));
    CHECK(error_of(f.run(f.cached->get_user(2))) == errc::not_found);

    // A purged guest is gone from the cache too.
    REQUIRE(value_of(f.run(f.cached->get_user(9))).guest);
    auto purged = value_of(f.run(f.cached->purge_guests({9}, 1LL << 60, 5000)));
    REQUIRE(purged == std::vector<std::uint64_t>{9});
    CHECK(error_of(f.run(f.cached->get_user(9))) == errc::not_found);
}

TEST_CASE("the directory cache keeps at most its bounds", "[social][cache][directory]") {
    directory_cache_options o;
    o.max_users = 1;
    o.max_friendships = 0;
    directory_fixture f(o);
    REQUIRE(value_of(f.run(f.cached->get_user(1))).id == 1);
    REQUIRE(value_of(f.run(f.cached->get_user(2))).id == 2);  // evicts 1
    REQUIRE(value_of(f.run(f.cached->get_user(1))).id == 1);  // a miss again
    CHECK(f.hits() == 0);
    CHECK(value_of(f.run(f.cached->get_user(1))).id == 1);
    CHECK(f.hits() == 1);
    REQUIRE_FALSE(value_of(f.run(f.cached->are_friends(1, 2))));
    REQUIRE_FALSE(value_of(f.run(f.cached->are_friends(1, 2))));
    CHECK(f.hits() == 1);  // friendships not kept at all
}

TEST_CASE("changes made through the other roles evict the directory cache",
          "[social][cache][directory]") {
    // The cache wraps the users and relations roles: a suspension (administration role) and a
    // deletion reach it through the change hub (social_changes.hpp).
    directory_fixture f;
    f.befriend(1, 2, 500);
    REQUIRE(value_of(f.run(f.cached->are_friends(1, 2))));
    REQUIRE_FALSE(value_of(f.run(f.cached->get_user(3))).suspended);

    value_of(f.run(f.stores.admin->set_suspended(3, true)));
    CHECK(value_of(f.run(f.cached->get_user(3))).suspended);
    CHECK(value_of(f.run(f.cached->get_users({3})))[0].suspended);
    value_of(f.run(f.stores.admin->set_suspended(3, false)));
    CHECK_FALSE(value_of(f.run(f.cached->get_user(3))).suspended);

    value_of(f.run(f.stores.users->delete_account(2, 9000)));
    CHECK_FALSE(value_of(f.run(f.cached->are_friends(1, 2))));
    CHECK(error_of(f.run(f.cached->get_user(2))) == errc::not_found);
}
