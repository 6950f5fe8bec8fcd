// The social store's administration calls (issue 11): listing users, suspension (schema version 4) and deleting a user.
// Issue 18 (schema version 7): sessions, password changes, reset tokens and self-deletion.

#include <catch2/catch.hpp>
#include "support/social_store.hpp"

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


// Issue 18 (schema version 10): group mutes, bans and invite links.

TEST_CASE("a ban removes a member in one write and keeps the user out by every path",
          "[social][v11][groups]") {
    social_fixture f;
    f.add_user(1, "owner");
    f.add_user(2, "bob");
    f.add_user(3, "carol");
    value_of(test::run(f.store->create_group(7, "team", 1, true, {2}, t0, no_limit)));

    CHECK(error_of(test::run(f.store->ban_member(7, 1, 2, t0))) == errc::conflict);  // the owner
    CHECK(error_of(test::run(f.store->ban_member(7, 99, 1, t0))) == errc::not_found);
    CHECK(error_of(test::run(f.store->ban_member(8, 2, 1, t0))) == errc::not_found);
    auto banned = value_of(test::run(f.store->ban_member(7, 2, 1, t0)));
    CHECK(banned.was_member);
    CHECK(banned.group.member_count == 1);
    CHECK_FALSE(value_of(test::run(f.store->member_role_of(7, 2))).has_value());
    // Again: a no-op; a non-member may be banned ahead of time.
    CHECK_FALSE(value_of(test::run(f.store->ban_member(7, 2, 1, t0 + 1))).was_member);
    CHECK_FALSE(value_of(test::run(f.store->ban_member(7, 3, 1, t0 + 2))).was_member);

    // Adding is all or nothing; joining is refused.
    CHECK(error_of(test::run(f.store->add_members(7, {3}, t0, no_limit))) == errc::forbidden);
    CHECK(error_of(test::run(f.store->join_group(7, 2, t0, no_limit))) == errc::forbidden);
    CHECK(value_of(test::run(f.store->member_count(7))) == 1);

    // An invite link keeps its use when a banned user tries it.
    group_invite_record link{"code-1", 7, 1, t0 + 60000, 1, t0};
    value_of(test::run(f.store->create_group_invite(link, t0, 10)));
    CHECK(error_of(test::run(f.store->join_by_invite(7, "code-1", 2, t0, no_limit))) ==
          errc::forbidden);
    CHECK(value_of(test::run(f.store->find_group_invite("code-1", t0))).uses_left == 1);

    auto bans = value_of(test::run(f.store->group_bans(7)));
    REQUIRE(bans.size() == 2);
    CHECK(bans[0].user_id == 2);
    CHECK(bans[0].banned_by == 1);
    CHECK(bans[0].created_ms == t0);  // the first ban's time stays

    // Bans outlive a reopen; lifting one lets the user in again.
    f.reopen();
    CHECK(error_of(test::run(f.store->join_group(7, 2, t0, no_limit))) == errc::forbidden);
    REQUIRE(test::run(f.store->unban_member(7, 2)).has_value());
    CHECK(error_of(test::run(f.store->unban_member(7, 2))) == errc::not_found);
    auto joined = value_of(test::run(f.store->join_by_invite(7, "code-1", 2, t0, no_limit)));
    CHECK(joined.user_ids == std::vector<std::uint64_t>{2});
    CHECK(error_of(test::run(f.store->find_group_invite("code-1", t0))) == errc::forbidden);
}

TEST_CASE("invite links are used up, expire, are counted per group and are scoped to it",
          "[social][v11][groups]") {
    social_fixture f;
    f.add_user(1, "owner");
    f.add_user(2, "bob");
    f.add_user(3, "carol");
    f.add_user(4, "dave");
    value_of(test::run(f.store->create_group(7, "team", 1, false, {}, t0, no_limit)));
    value_of(test::run(f.store->create_group(8, "other", 1, false, {}, t0, no_limit)));

    CHECK(error_of(test::run(f.store->create_group_invite({"x", 9, 1, t0 + 10, 1, t0}, t0, 2))) ==
          errc::not_found);
    value_of(test::run(f.store->create_group_invite({"two", 7, 2, t0 + 1000, 1, t0}, t0, 2)));
    value_of(test::run(f.store->create_group_invite({"brief", 7, 5, t0 + 10, 1, t0 + 1}, t0, 2)));
    CHECK(error_of(test::run(f.store->create_group_invite({"three", 7, 1, t0 + 1000, 1, t0}, t0,
                                                           2))) == errc::conflict);
    CHECK(error_of(test::run(f.store->create_group_invite({"two", 8, 1, t0 + 1000, 1, t0}, t0,
                                                           2))) == errc::conflict);  // code taken

    // A code of another group does not open this one.
    CHECK(error_of(test::run(f.store->join_by_invite(8, "two", 2, t0, no_limit))) ==
          errc::forbidden);
    // A member already uses nothing.
    CHECK(value_of(test::run(f.store->join_by_invite(7, "two", 1, t0, no_limit))).user_ids.empty());
    CHECK(value_of(test::run(f.store->join_by_invite(7, "two", 2, t0, no_limit))).user_ids.size() ==
          1);
    auto last = value_of(test::run(f.store->join_by_invite(7, "two", 3, t0, no_limit)));
    CHECK(last.group.member_count == 3);
    CHECK(error_of(test::run(f.store->find_group_invite("two", t0))) == errc::forbidden);

    // Expired at t0 + 10; listed only while usable, newest first.
    CHECK(value_of(test::run(f.store->group_invites(7, t0))).size() == 1);
    CHECK(value_of(test::run(f.store->group_invites(7, t0 + 10))).empty());
    CHECK(error_of(test::run(f.store->join_by_invite(7, "brief", 4, t0 + 10, no_limit))) ==
          errc::forbidden);
    // Used-up and expired links do not count against the limit.
    value_of(test::run(f.store->create_group_invite({"four", 7, 1, t0 + 1000, 1, t0}, t0 + 10, 2)));
    CHECK(error_of(test::run(f.store->delete_group_invite(8, "four"))) == errc::not_found);
    REQUIRE(test::run(f.store->delete_group_invite(7, "four")).has_value());
    CHECK(error_of(test::run(f.store->delete_group_invite(7, "four"))) == errc::not_found);
}

TEST_CASE("group mutes are stored per member, replaced and lifted", "[social][v11][groups]") {
    social_fixture f;
    f.add_user(1, "owner");
    f.add_user(2, "bob");
    f.add_user(3, "carol");
    value_of(test::run(f.store->create_group(7, "team", 1, false, {2}, t0, no_limit)));
    CHECK(error_of(test::run(f.store->set_group_mute(7, 3, 0, t0))) == errc::not_found);
    CHECK(error_of(test::run(f.store->set_group_mute(9, 2, 0, t0))) == errc::not_found);
    REQUIRE(test::run(f.store->set_group_mute(7, 2, t0 + 5, t0)).has_value());
    REQUIRE(test::run(f.store->set_group_mute(7, 2, 0, t0)).has_value());
    f.reopen();
    auto all = value_of(test::run(f.store->group_mutes()));
    REQUIRE(all.size() == 1);
    CHECK(all[0].group_id == 7);
    CHECK(all[0].user_id == 2);
    CHECK(all[0].until_ms == 0);
    REQUIRE(test::run(f.store->lift_group_mute(7, 2)).has_value());
    CHECK(error_of(test::run(f.store->lift_group_mute(7, 2))) == errc::not_found);
    CHECK(value_of(test::run(f.store->group_mutes())).empty());
}

}  // namespace monochat::storage
