// The social store's administration calls (issue 11): listing users, suspension (schema version 4) and deleting a user.
// Issue 18 (schema version 7): sessions, password changes, reset tokens and self-deletion.

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

TEST_CASE("sessions are listed, touched and revoked one by one or all but one", "[social][v11]") {
    social_fixture f;
    f.add_user(1, "alice");
    token_record a{"hash-a", 1, t0, t0 + 1000000, 11, 0, "phone"};
    token_record b{"hash-b", 1, t0 + 5, t0 + 1000000, 12, 0, "laptop"};
    token_record c{"hash-c", 1, t0 + 9, t0 + 1000000, 13, 0, ""};
    for (const auto& t : {a, b, c}) {
        REQUIRE(test::run(f.store->create_token(t)).has_value());
    }
    auto listed = value_of(test::run(f.store->list_user_tokens(1)));
    REQUIRE(listed.size() == 3);
    CHECK(listed[0].session_id == 11);
    CHECK(listed[0].user_agent == "phone");
    CHECK(listed[0].last_used_ms == t0);  // created counts as used
    REQUIRE(test::run(f.store->touch_token("hash-b", t0 + 100)).has_value());
    REQUIRE(test::run(f.store->touch_token("hash-b", t0 + 50)).has_value());  // older: ignored
    REQUIRE(test::run(f.store->touch_token("gone", t0 + 50)).has_value());
    CHECK(value_of(test::run(f.store->lookup_token("hash-b"))).last_used_ms == t0 + 100);

    CHECK(value_of(test::run(f.store->delete_session(1, 12))) == "hash-b");
    CHECK(error_of(test::run(f.store->delete_session(1, 12))) == errc::not_found);
    CHECK(error_of(test::run(f.store->delete_session(2, 11))) == errc::not_found);
    auto others = value_of(test::run(f.store->delete_other_tokens(1, "hash-c")));
    REQUIRE(others.size() == 1);
    CHECK(others[0] == "hash-a");
    listed = value_of(test::run(f.store->list_user_tokens(1)));
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].token_hash == "hash-c");
}

TEST_CASE("a password change keeps one token and drops the rest in one write", "[social][v11]") {
    social_fixture f;
    f.add_user(1, "alice");
    f.add_user(2, "guest-2", true);
    for (const char* h : {"k", "x", "y"}) {
        REQUIRE(test::run(f.store->create_token({h, 1, t0, t0 + 1000000, 1, 0, ""})).has_value());
    }
    auto dropped = value_of(test::run(f.store->set_password_hash(1, "new-hash", "k")));
    CHECK(dropped.size() == 2);
    CHECK(value_of(test::run(f.store->get_user(1))).password_hash == "new-hash");
    CHECK(test::run(f.store->lookup_token("k")).has_value());
    CHECK(error_of(test::run(f.store->lookup_token("x"))) == errc::not_found);
    CHECK(error_of(test::run(f.store->set_password_hash(2, "h", ""))) == errc::not_found);
    CHECK(error_of(test::run(f.store->set_password_hash(9, "h", ""))) == errc::not_found);
}

TEST_CASE("a reset token works once, not after it expires, and ends every session",
          "[social][v11]") {
    social_fixture f;
    f.add_user(1, "alice");
    f.add_user(2, "guest-2", true);
    REQUIRE(test::run(f.store->create_token({"t", 1, t0, t0 + 1000000, 1, 0, ""})).has_value());
    CHECK(error_of(test::run(f.store->create_password_reset("r0", 2, t0 + 10))) ==
          errc::not_found);
    CHECK(error_of(test::run(f.store->create_password_reset("r0", 9, t0 + 10))) ==
          errc::not_found);
    REQUIRE(test::run(f.store->create_password_reset("r1", 1, t0 + 10)).has_value());
    REQUIRE(test::run(f.store->create_password_reset("r2", 1, t0 + 10)).has_value());
    CHECK(error_of(test::run(f.store->consume_password_reset("nope", t0, "h"))) ==
          errc::forbidden);
    auto user = value_of(test::run(f.store->consume_password_reset("r1", t0, "reset-hash")));
    CHECK(user.id == 1);
    CHECK(user.password_hash == "reset-hash");
    CHECK(error_of(test::run(f.store->lookup_token("t"))) == errc::not_found);
    // Used up, and the user's other reset token went with it.
    CHECK(error_of(test::run(f.store->consume_password_reset("r1", t0, "h"))) == errc::forbidden);
    CHECK(error_of(test::run(f.store->consume_password_reset("r2", t0, "h"))) == errc::forbidden);

    REQUIRE(test::run(f.store->create_password_reset("r3", 1, t0 + 10)).has_value());
    CHECK(error_of(test::run(f.store->consume_password_reset("r3", t0 + 10, "late"))) ==
          errc::forbidden);
    CHECK(value_of(test::run(f.store->get_user(1))).password_hash == "reset-hash");
}

TEST_CASE("a self-deleted user is remembered with its username, never registered again",
          "[social][v11]") {
    social_fixture f;
    f.add_user(1, "alice");
    f.add_user(2, "bob");
    value_of(test::run(f.store->create_group(7, "team", 1, false, {2}, t0, no_limit)));
    CHECK(error_of(test::run(f.store->delete_account(1, t0))) == errc::conflict);
    CHECK(test::run(f.store->get_user(1)).has_value());
    REQUIRE(test::run(f.store->delete_account(2, t0)).has_value());
    CHECK(value_of(test::run(f.store->is_deleted_user(2))));
    CHECK(value_of(test::run(f.store->get_group(7))).member_count == 1);
    user_record again;
    again.id = 3;
    again.username = "bob";
    again.display_name = "bob";
    again.created_ms = t0;
    CHECK(error_of(test::run(f.store->create_user(again))) == errc::conflict);
    f.reopen();
    CHECK(error_of(test::run(f.store->create_user(again))) == errc::conflict);
    CHECK(error_of(test::run(f.store->delete_account(2, t0))) == errc::not_found);
}

}  // namespace monochat::storage
