// The social store's administration calls (issue 11): listing users, suspension (schema version 4) and deleting a user.

#include <catch2/catch.hpp>
#include <monochat/storage/social_store.hpp>

#include "unit/storage/social_test_support.hpp"

namespace monochat::storage {
namespace {

using test::error_of;
using test::social_fixture;
using test::value_of;

constexpr std::int64_t t0 = 1'790'000'000'000;
constexpr std::uint64_t no_limit = 100000;

}  // namespace

TEST_CASE("users are listed by ascending id in pages, guests included", "[social][admin]") {
    social_fixture f;
    f.add_user(30, "guest-30", true);
    f.add_user(40, "carol");
    f.add_user(20, "bob");
    f.add_user(10, "guest-10", true);
    auto page = value_of(test::run(f.store->list_users(0, 3)));
    REQUIRE(page.size() == 3);
    CHECK(page[0].id == 10);
    CHECK(page[1].id == 20);
    CHECK(page[2].id == 30);
    page = value_of(test::run(f.store->list_users(30, 3)));
    REQUIRE(page.size() == 1);
    CHECK(page[0].username == "carol");
    CHECK(error_of(test::run(f.store->list_users(0, 0))) == errc::invalid_argument);
}

TEST_CASE("a suspension is stored, survives a reopen and can be lifted", "[social][admin]") {
    social_fixture f;
    f.add_user(1, "alice");
    CHECK_FALSE(value_of(test::run(f.store->get_user(1))).suspended);
    REQUIRE(test::run(f.store->set_suspended(1, true)).has_value());
    f.reopen();
    CHECK(value_of(test::run(f.store->get_user(1))).suspended);
    CHECK(value_of(test::run(f.store->get_user_by_username("alice"))).suspended);
    REQUIRE(test::run(f.store->set_suspended(1, false)).has_value());
    CHECK_FALSE(value_of(test::run(f.store->get_user(1))).suspended);
    CHECK(error_of(test::run(f.store->set_suspended(99, true))) == errc::not_found);
}

TEST_CASE("deleting a user removes its tokens and memberships, not an owner", "[social][admin]") {
    social_fixture f;
    f.add_user(1, "alice");
    f.add_user(2, "bob");
    value_of(test::run(f.store->create_group(7, "team", 1, false, {2}, t0, no_limit)));
    token_record tok{"hash-of-bob", 2, t0, t0 + 1000000};
    REQUIRE(test::run(f.store->create_token(tok)).has_value());

    CHECK(error_of(test::run(f.store->delete_user(1))) == errc::conflict);
    REQUIRE(test::run(f.store->delete_user(2)).has_value());
    CHECK(error_of(test::run(f.store->get_user(2))) == errc::not_found);
    CHECK(error_of(test::run(f.store->lookup_token("hash-of-bob"))) == errc::not_found);
    CHECK(value_of(test::run(f.store->member_count(7))) == 1);
    CHECK(value_of(test::run(f.store->get_group(7))).member_count == 1);
    CHECK(error_of(test::run(f.store->delete_user(2))) == errc::not_found);
}

}  // namespace monochat::storage
