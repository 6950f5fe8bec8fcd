#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <latch>
#include <memory>
#include "support/social_store.hpp"
#include <string>
#include <thread>
#include <vector>

#include "unit/storage/social_test_support.hpp"

namespace monochat::storage {
namespace {

using test::error_of;
using test::social_fixture;
using test::value_of;

constexpr std::uint64_t alice = 101;
constexpr std::uint64_t bob = 102;
constexpr std::uint64_t carol = 103;
constexpr std::uint64_t dave = 104;
constexpr std::uint64_t guest = 900;
constexpr std::uint64_t unknown = 999;
constexpr std::uint64_t no_limit = 100000;
constexpr std::int64_t t0 = 1'790'000'000'000;

// alice, bob, carol, dave and a guest.
struct people : social_fixture {
    people() {
        add_user(alice, "alice");
        add_user(bob, "bob");
        add_user(carol, "carol");
        add_user(dave, "dave");
        add_user(guest, "guest-1", true);
    }
};

// ---- users ----

TEST_CASE_METHOD(social_fixture, "a created user can be read back by id and by username",
                 "[social]") {
    const user_record made = add_user(alice, "alice");
    const user_record by_id = value_of(run(store->get_user(alice)));
    CHECK(by_id.username == "alice");
    CHECK(by_id.display_name == "name of alice");
    CHECK(by_id.password_hash == made.password_hash);
    CHECK_FALSE(by_id.guest);
    CHECK(by_id.created_ms == made.created_ms);
    CHECK(value_of(run(store->get_user_by_username("alice"))).id == alice);
}

TEST_CASE_METHOD(social_fixture, "a taken username or a reused id is a conflict", "[social]") {
    add_user(alice, "alice");
    user_record same_name{bob, "alice", "x", "h", false, 1};
    CHECK(error_of(run(store->create_user(same_name))) == errc::conflict);
    user_record same_id{alice, "other", "x", "h", false, 1};
    CHECK(error_of(run(store->create_user(same_id))) == errc::conflict);
    CHECK(error_of(run(store->get_user(bob))) == errc::not_found);
}

TEST_CASE_METHOD(social_fixture, "an id outside 1 to 2^63-1 is invalid_argument", "[social]") {
    user_record zero{0, "zero", "x", "h", false, 1};
    CHECK(error_of(run(store->create_user(zero))) == errc::invalid_argument);
    user_record huge{std::uint64_t{1} << 63, "huge", "x", "h", false, 1};
    CHECK(error_of(run(store->create_user(huge))) == errc::invalid_argument);
    CHECK(error_of(run(store->get_user(std::uint64_t{1} << 63))) == errc::not_found);
}

TEST_CASE_METHOD(social_fixture,
                 "guests take no username and are never found by username or by search",
                 "[social]") {
    add_user(guest, "guest-1", true);
    add_user(guest + 1, "guest-1", true);  // guests may share a name
    add_user(alice, "guest-1");            // and a registered user may take it
    CHECK(value_of(run(store->get_user_by_username("guest-1"))).id == alice);
    const auto found = value_of(run(store->search_users("guest", 50)));
    REQUIRE(found.size() == 1);
    CHECK(found[0].id == alice);
    CHECK(value_of(run(store->get_user(guest))).guest);
}

TEST_CASE_METHOD(social_fixture, "an unknown user is not_found by id and by username", "[social]") {
    CHECK(error_of(run(store->get_user(unknown))) == errc::not_found);
    CHECK(error_of(run(store->get_user_by_username("nobody"))) == errc::not_found);
}

TEST_CASE_METHOD(social_fixture,
                 "prefix search lists registered users in username order up to the limit",
                 "[social]") {
    add_user(1, "ann");
    add_user(2, "anna");
    add_user(3, "annabel");
    add_user(4, "bob");
    add_user(5, "an");
    const auto two = value_of(run(store->search_users("ann", 2)));
    REQUIRE(two.size() == 2);
    CHECK(two[0].username == "ann");
    CHECK(two[1].username == "anna");
    const auto all = value_of(run(store->search_users("an", 50)));
    REQUIRE(all.size() == 4);
    CHECK(all[0].username == "an");
    CHECK(all[3].username == "annabel");
    CHECK(value_of(run(store->search_users("zz", 50))).empty());
    CHECK(value_of(run(store->search_users("", 50))).size() == 5);
    CHECK(error_of(run(store->search_users("a", 0))) == errc::invalid_argument);
}

TEST_CASE_METHOD(social_fixture, "updating a display name is seen by later reads", "[social]") {
    add_user(alice, "alice");
    CHECK(value_of(run(store->update_display_name(alice, "Alice A."))).display_name == "Alice A.");
    CHECK(value_of(run(store->get_user(alice))).display_name == "Alice A.");
    CHECK(error_of(run(store->update_display_name(unknown, "x"))) == errc::not_found);
}

TEST_CASE_METHOD(social_fixture, "a profile update sets the name and the avatar together",
                 "[social]") {
    add_user(alice, "alice");
    add_user(bob, "bob");
    CHECK_FALSE(value_of(run(store->get_user(alice))).avatar_file_id.has_value());
    profile_update both;
    both.display_name = "Alice A.";
    both.avatar_file_id = std::optional<std::uint64_t>{77};
    const auto changed = value_of(run(store->update_profile(alice, both)));
    CHECK(changed.display_name == "Alice A.");
    CHECK(changed.avatar_file_id == std::optional<std::uint64_t>{77});
    CHECK(value_of(run(store->get_users({bob, alice})))[1].avatar_file_id ==
          std::optional<std::uint64_t>{77});
    CHECK(value_of(run(store->is_avatar(77))));
    CHECK_FALSE(value_of(run(store->is_avatar(78))));
    // Only the avatar, cleared: the name stays.
    profile_update clear;
    clear.avatar_file_id = std::optional<std::uint64_t>{};
    const auto cleared = value_of(run(store->update_profile(alice, clear)));
    CHECK_FALSE(cleared.avatar_file_id.has_value());
    CHECK(cleared.display_name == "Alice A.");
    CHECK_FALSE(value_of(run(store->is_avatar(77))));
    CHECK(error_of(run(store->update_profile(unknown, both))) == errc::not_found);
    CHECK_FALSE(value_of(run(store->is_avatar(77))));
}

TEST_CASE_METHOD(social_fixture, "get_users skips unknown ids and keeps the order asked",
                 "[social]") {
    add_user(alice, "alice");
    add_user(bob, "bob");
    const auto users = value_of(run(store->get_users({bob, unknown, alice})));
    REQUIRE(users.size() == 2);
    CHECK(users[0].id == bob);
    CHECK(users[1].id == alice);
}

// ---- tokens ----

TEST_CASE_METHOD(people, "a token is found by its hash until it is deleted", "[social]") {
    const std::string hash("\x00\x01\xfe\xff hash", 9);  // bytes, NULs included
    value_of(run(store->create_token({hash, alice, t0, t0 + 1000})));
    const token_record found = value_of(run(store->lookup_token(hash)));
    CHECK(found.user_id == alice);
    CHECK(found.created_ms == t0);
    CHECK(found.expires_ms == t0 + 1000);
    CHECK(found.token_hash == hash);
    value_of(run(store->delete_token(hash)));
    CHECK(error_of(run(store->lookup_token(hash))) == errc::not_found);
    CHECK(error_of(run(store->delete_token(hash))) == errc::not_found);
}

TEST_CASE_METHOD(people, "a token for an unknown user is not_found and a reused hash a conflict",
                 "[social]") {
    CHECK(error_of(run(store->create_token({"h1", unknown, t0, t0 + 1}))) == errc::not_found);
    value_of(run(store->create_token({"h1", alice, t0, t0 + 1})));
    CHECK(error_of(run(store->create_token({"h1", bob, t0, t0 + 1}))) == errc::conflict);
    CHECK(value_of(run(store->lookup_token("h1"))).user_id == alice);
}

TEST_CASE_METHOD(people, "deleting a user's tokens leaves other users' tokens", "[social]") {
    value_of(run(store->create_token({"a1", alice, t0, t0 + 10})));
    value_of(run(store->create_token({"a2", alice, t0, t0 + 10})));
    value_of(run(store->create_token({"b1", bob, t0, t0 + 10})));
    CHECK(value_of(run(store->delete_user_tokens(alice))) == 2);
    CHECK(value_of(run(store->delete_user_tokens(alice))) == 0);
    CHECK(error_of(run(store->lookup_token("a1"))) == errc::not_found);
    CHECK(value_of(run(store->lookup_token("b1"))).user_id == bob);
}

TEST_CASE_METHOD(people, "expired tokens are returned by lookup and removed by the sweep",
                 "[social]") {
    value_of(run(store->create_token({"old", alice, t0, t0 + 10})));
    value_of(run(store->create_token({"new", alice, t0, t0 + 1000})));
    CHECK(value_of(run(store->lookup_token("old"))).expires_ms == t0 + 10);
    CHECK(value_of(run(store->delete_expired_tokens(t0 + 10, no_limit))) == 1);
    CHECK(error_of(run(store->lookup_token("old"))) == errc::not_found);
    CHECK(value_of(run(store->lookup_token("new"))).user_id == alice);
}

// ---- friends ----

TEST_CASE_METHOD(people, "a friend request to oneself is invalid_argument", "[social]") {
    CHECK(error_of(run(store->send_friend_request(1, alice, alice, "", t0))) ==
          errc::invalid_argument);
}

TEST_CASE_METHOD(people,
                 "a friend request to an unknown user is not_found and to a guest forbidden",
                 "[social]") {
    CHECK(error_of(run(store->send_friend_request(1, alice, unknown, "", t0))) == errc::not_found);
    CHECK(error_of(run(store->send_friend_request(2, alice, guest, "", t0))) == errc::forbidden);
    CHECK(error_of(run(store->send_friend_request(3, guest, alice, "", t0))) == errc::forbidden);
    CHECK(value_of(run(store->list_friend_requests(alice))).outgoing.empty());
}

TEST_CASE_METHOD(people, "a new friend request is pending with its note and time", "[social]") {
    const auto sent = value_of(run(store->send_friend_request(1, alice, bob, "hi bob", t0)));
    CHECK_FALSE(sent.accepted_existing);
    CHECK(sent.request.id == 1);
    CHECK(sent.request.status == friend_request_status::pending);
    const auto got = value_of(run(store->get_friend_request(1)));
    CHECK(got.from_user_id == alice);
    CHECK(got.to_user_id == bob);
    CHECK(got.note == "hi bob");
    CHECK(got.created_ms == t0);
    CHECK(to_string(got.status) == "pending");
    CHECK(error_of(run(store->get_friend_request(77))) == errc::not_found);
}

TEST_CASE_METHOD(people, "a second pending request to the same user is a conflict", "[social]") {
    value_of(run(store->send_friend_request(1, alice, bob, "", t0)));
    CHECK(error_of(run(store->send_friend_request(2, alice, bob, "again", t0 + 1))) ==
          errc::conflict);
    const auto lists = value_of(run(store->list_friend_requests(alice)));
    REQUIRE(lists.outgoing.size() == 1);
    CHECK(lists.outgoing[0].id == 1);
}

TEST_CASE_METHOD(people, "a request to someone who already asked accepts theirs", "[social]") {
    value_of(run(store->send_friend_request(1, alice, bob, "from alice", t0)));
    const auto crossed = value_of(run(store->send_friend_request(2, bob, alice, "", t0 + 5)));
    CHECK(crossed.accepted_existing);
    CHECK(crossed.request.id == 1);
    CHECK(crossed.request.from_user_id == alice);
    CHECK(crossed.request.status == friend_request_status::accepted);
    CHECK(crossed.request.updated_ms == t0 + 5);
    CHECK(value_of(run(store->are_friends(alice, bob))));
    CHECK(value_of(run(store->are_friends(bob, alice))));
    CHECK(error_of(run(store->get_friend_request(2))) == errc::not_found);
    CHECK(value_of(run(store->list_friend_requests(bob))).incoming.empty());
}

TEST_CASE_METHOD(people, "only the addressee may accept, and then both are friends", "[social]") {
    value_of(run(store->send_friend_request(1, alice, bob, "", t0)));
    CHECK(error_of(run(store->accept_friend_request(1, alice, t0 + 1))) == errc::forbidden);
    CHECK(error_of(run(store->accept_friend_request(1, carol, t0 + 1))) == errc::forbidden);
    CHECK(error_of(run(store->reject_friend_request(1, carol, t0 + 1))) == errc::forbidden);
    CHECK_FALSE(value_of(run(store->are_friends(alice, bob))));
    const auto accepted = value_of(run(store->accept_friend_request(1, bob, t0 + 2)));
    CHECK(accepted.status == friend_request_status::accepted);
    CHECK(accepted.updated_ms == t0 + 2);
    CHECK(value_of(run(store->are_friends(alice, bob))));
    const auto alices = value_of(run(store->list_friends(alice)));
    REQUIRE(alices.size() == 1);
    CHECK(alices[0].id == bob);
    const auto bobs = value_of(run(store->list_friends(bob)));
    REQUIRE(bobs.size() == 1);
    CHECK(bobs[0].id == alice);
    CHECK(error_of(run(store->accept_friend_request(42, bob, t0))) == errc::not_found);
}

TEST_CASE_METHOD(people, "answering a request that is no longer pending is a conflict",
                 "[social]") {
    value_of(run(store->send_friend_request(1, alice, bob, "", t0)));
    value_of(run(store->accept_friend_request(1, bob, t0 + 1)));
    CHECK(error_of(run(store->accept_friend_request(1, bob, t0 + 2))) == errc::conflict);
    CHECK(error_of(run(store->reject_friend_request(1, bob, t0 + 2))) == errc::conflict);
    CHECK(value_of(run(store->get_friend_request(1))).status == friend_request_status::accepted);
}

TEST_CASE_METHOD(people, "a rejected request makes nobody friends and allows a new one",
                 "[social]") {
    value_of(run(store->send_friend_request(1, alice, bob, "", t0)));
    CHECK(value_of(run(store->reject_friend_request(1, bob, t0 + 1))).status ==
          friend_request_status::rejected);
    CHECK_FALSE(value_of(run(store->are_friends(alice, bob))));
    CHECK(value_of(run(store->list_friend_requests(bob))).incoming.empty());
    CHECK_FALSE(
        value_of(run(store->send_friend_request(2, alice, bob, "", t0 + 2))).accepted_existing);
}

TEST_CASE_METHOD(people, "requesting an existing friend is a conflict", "[social]") {
    value_of(run(store->send_friend_request(1, alice, bob, "", t0)));
    value_of(run(store->accept_friend_request(1, bob, t0 + 1)));
    CHECK(error_of(run(store->send_friend_request(2, alice, bob, "", t0 + 2))) == errc::conflict);
    CHECK(error_of(run(store->send_friend_request(3, bob, alice, "", t0 + 2))) == errc::conflict);
}

TEST_CASE_METHOD(people, "pending requests are listed as incoming and outgoing, newest first",
                 "[social]") {
    value_of(run(store->send_friend_request(1, bob, alice, "", t0)));
    value_of(run(store->send_friend_request(2, carol, alice, "", t0 + 1)));
    value_of(run(store->send_friend_request(3, alice, dave, "", t0 + 2)));
    value_of(run(store->send_friend_request(4, dave, carol, "", t0 + 3)));
    value_of(run(store->reject_friend_request(2, alice, t0 + 4)));
    const auto lists = value_of(run(store->list_friend_requests(alice)));
    REQUIRE(lists.incoming.size() == 1);
    CHECK(lists.incoming[0].id == 1);
    REQUIRE(lists.outgoing.size() == 1);
    CHECK(lists.outgoing[0].id == 3);
    value_of(run(store->send_friend_request(5, carol, alice, "", t0 + 5)));
    const auto again = value_of(run(store->list_friend_requests(alice)));
    REQUIRE(again.incoming.size() == 2);
    CHECK(again.incoming[0].id == 5);
    CHECK(again.incoming[1].id == 1);
}

TEST_CASE_METHOD(people,
                 "removing a friend ends it both ways, and removing a non-friend is not_found",
                 "[social]") {
    value_of(run(store->send_friend_request(1, alice, bob, "", t0)));
    value_of(run(store->accept_friend_request(1, bob, t0 + 1)));
    value_of(run(store->remove_friend(bob, alice)));
    CHECK_FALSE(value_of(run(store->are_friends(alice, bob))));
    CHECK(value_of(run(store->list_friends(alice))).empty());
    CHECK(error_of(run(store->remove_friend(alice, bob))) == errc::not_found);
    // Friends again through a new request.
    value_of(run(store->send_friend_request(2, bob, alice, "", t0 + 2)));
    value_of(run(store->accept_friend_request(2, alice, t0 + 3)));
    CHECK(value_of(run(store->are_friends(alice, bob))));
}

TEST_CASE_METHOD(people, "friends are listed by username", "[social]") {
    value_of(run(store->send_friend_request(1, dave, alice, "", t0)));
    value_of(run(store->send_friend_request(2, bob, alice, "", t0)));
    value_of(run(store->accept_friend_request(1, alice, t0)));
    value_of(run(store->accept_friend_request(2, alice, t0)));
    const auto friends = value_of(run(store->list_friends(alice)));
    REQUIRE(friends.size() == 2);
    CHECK(friends[0].username == "bob");
    CHECK(friends[1].username == "dave");
}

// ---- groups ----

TEST_CASE_METHOD(people, "creating a group makes the owner and the listed users members",
                 "[social]") {
    const auto g = value_of(
        run(store->create_group(7, "team", alice, true, {bob, carol, bob, alice}, t0, no_limit)));
    CHECK(g.id == 7);
    CHECK(g.name == "team");
    CHECK(g.owner_id == alice);
    CHECK(g.is_public);
    CHECK(g.member_count == 3);
    CHECK(g.created_ms == t0);
    CHECK(value_of(run(store->get_group(7))).member_count == 3);
    CHECK(value_of(run(store->member_role_of(7, alice))) == member_role::owner);
    CHECK(value_of(run(store->member_role_of(7, bob))) == member_role::member);
    CHECK(value_of(run(store->member_role_of(7, dave))) == std::nullopt);
    CHECK(value_of(run(store->member_count(7))) == 3);
    CHECK(error_of(run(store->create_group(7, "again", bob, false, {}, t0, no_limit))) ==
          errc::conflict);
}

TEST_CASE_METHOD(people, "creating a group with an unknown user or a guest creates nothing",
                 "[social]") {
    auto unknown_member =
        run(store->create_group(7, "g", alice, false, {bob, unknown}, t0, no_limit));
    CHECK(error_of(unknown_member) == errc::not_found);
    CHECK(unknown_member.error().message.find("999") != std::string::npos);
    CHECK(error_of(run(store->create_group(7, "g", alice, false, {guest}, t0, no_limit))) ==
          errc::forbidden);
    CHECK(error_of(run(store->create_group(7, "g", guest, false, {}, t0, no_limit))) ==
          errc::forbidden);
    CHECK(error_of(run(store->create_group(7, "g", unknown, false, {}, t0, no_limit))) ==
          errc::not_found);
    CHECK(error_of(run(store->get_group(7))) == errc::not_found);
    CHECK(value_of(run(store->groups_of_user(alice))).empty());
    CHECK(value_of(run(store->groups_of_user(bob))).empty());
}

TEST_CASE_METHOD(people, "creating a group over max_members is a conflict", "[social]") {
    CHECK(error_of(run(store->create_group(7, "g", alice, false, {bob, carol}, t0, 2))) ==
          errc::conflict);
    CHECK(value_of(run(store->create_group(7, "g", alice, false, {bob}, t0, 2))).member_count == 2);
}

TEST_CASE_METHOD(social_fixture, "members are paged by ascending user_id with a next cursor",
                 "[social]") {
    std::vector<std::uint64_t> ids;
    for (std::uint64_t id = 10; id < 35; ++id) {
        add_user(id, "user" + std::to_string(id));
        ids.push_back(id);
    }
    // The owner has the highest id: pages are by id, not by role or joining order.
    add_user(50, "owner");
    value_of(run(store->create_group(1, "big", 50, false, ids, t0, no_limit)));
    std::vector<std::uint64_t> seen;
    std::uint64_t after = 0;
    int pages = 0;
    for (;;) {
        const member_page page = value_of(run(store->list_members(1, after, 10)));
        ++pages;
        for (const auto& m : page.members) {
            seen.push_back(m.user_id);
            CHECK(m.joined_ms == t0);
            CHECK(m.role == (m.user_id == 50 ? member_role::owner : member_role::member));
        }
        if (!page.next) {
            break;
        }
        CHECK(*page.next == page.members.back().user_id);
        after = *page.next;
    }
    CHECK(pages == 3);
    REQUIRE(seen.size() == 26);
    CHECK(std::is_sorted(seen.begin(), seen.end()));
    CHECK(seen.back() == 50);
    // An exact fit: the last page says so without an extra empty page.
    const auto exact = value_of(run(store->list_members(1, 0, 26)));
    CHECK(exact.members.size() == 26);
    CHECK_FALSE(exact.next);
    CHECK(value_of(run(store->list_members(1, 50, 10))).members.empty());
    CHECK(error_of(run(store->list_members(1, 0, 0))) == errc::invalid_argument);
    CHECK(error_of(run(store->list_members(2, 0, 10))) == errc::not_found);
}

TEST_CASE_METHOD(people, "adding members skips existing ones and reports who was added",
                 "[social]") {
    value_of(run(store->create_group(7, "g", alice, false, {bob}, t0, no_limit)));
    const auto added =
        value_of(run(store->add_members(7, {dave, bob, carol, dave, alice}, t0 + 1, no_limit)));
    CHECK(added.user_ids == std::vector<std::uint64_t>{carol, dave});
    CHECK(added.group.member_count == 4);
    CHECK(value_of(run(store->member_role_of(7, alice))) == member_role::owner);
    const auto none = value_of(run(store->add_members(7, {bob}, t0 + 2, no_limit)));
    CHECK(none.user_ids.empty());
    CHECK(none.group.member_count == 4);
    CHECK(value_of(run(store->list_members(7, 0, 10))).members[2].joined_ms == t0 + 1);
}

TEST_CASE_METHOD(people, "adding an unknown user or a guest adds nobody", "[social]") {
    value_of(run(store->create_group(7, "g", alice, false, {}, t0, no_limit)));
    auto with_guest = run(store->add_members(7, {bob, guest}, t0, no_limit));
    CHECK(error_of(with_guest) == errc::forbidden);
    CHECK(with_guest.error().message.find("900") != std::string::npos);
    CHECK(error_of(run(store->add_members(7, {bob, unknown}, t0, no_limit))) == errc::not_found);
    CHECK(value_of(run(store->member_count(7))) == 1);
    CHECK(value_of(run(store->member_role_of(7, bob))) == std::nullopt);
    CHECK(error_of(run(store->add_members(8, {bob}, t0, no_limit))) == errc::not_found);
}

TEST_CASE_METHOD(people, "adding members past max_members is a conflict and adds nobody",
                 "[social]") {
    value_of(run(store->create_group(7, "g", alice, false, {bob}, t0, 3)));
    CHECK(error_of(run(store->add_members(7, {carol, dave}, t0, 3))) == errc::conflict);
    CHECK(value_of(run(store->member_count(7))) == 2);
    CHECK(value_of(run(store->add_members(7, {carol}, t0, 3))).group.member_count == 3);
    CHECK(error_of(run(store->join_group(7, dave, t0, 3))) == errc::conflict);
    // Already a member: a no-op even when the group is full.
    CHECK(value_of(run(store->join_group(7, carol, t0, 3))).user_ids.empty());
}

TEST_CASE_METHOD(people, "joining a group one is already in is a no-op", "[social]") {
    value_of(run(store->create_group(7, "g", alice, true, {}, t0, no_limit)));
    const auto first = value_of(run(store->join_group(7, bob, t0 + 1, no_limit)));
    CHECK(first.user_ids == std::vector<std::uint64_t>{bob});
    CHECK(first.group.member_count == 2);
    const auto second = value_of(run(store->join_group(7, bob, t0 + 2, no_limit)));
    CHECK(second.user_ids.empty());
    CHECK(second.group.member_count == 2);
    CHECK(error_of(run(store->join_group(7, guest, t0, no_limit))) == errc::forbidden);
    CHECK(error_of(run(store->join_group(7, unknown, t0, no_limit))) == errc::not_found);
    CHECK(error_of(run(store->join_group(8, bob, t0, no_limit))) == errc::not_found);
}

TEST_CASE_METHOD(people, "the owner cannot be removed and removing a non-member is not_found",
                 "[social]") {
    value_of(run(store->create_group(7, "g", alice, false, {bob}, t0, no_limit)));
    CHECK(error_of(run(store->remove_member(7, alice))) == errc::conflict);
    CHECK(error_of(run(store->remove_member(7, carol))) == errc::not_found);
    CHECK(error_of(run(store->remove_member(8, bob))) == errc::not_found);
    CHECK(value_of(run(store->remove_member(7, bob))).member_count == 1);
    CHECK(value_of(run(store->member_role_of(7, bob))) == std::nullopt);
    CHECK(error_of(run(store->remove_member(7, bob))) == errc::not_found);
}

TEST_CASE_METHOD(people, "giving ownership makes the previous owner an admin", "[social]") {
    value_of(run(store->create_group(7, "g", alice, false, {bob, carol}, t0, no_limit)));
    const auto g = value_of(run(store->set_member_role(7, bob, member_role::owner)));
    CHECK(g.owner_id == bob);
    CHECK(value_of(run(store->get_group(7))).owner_id == bob);
    CHECK(value_of(run(store->member_role_of(7, bob))) == member_role::owner);
    CHECK(value_of(run(store->member_role_of(7, alice))) == member_role::admin);
    // The former owner may now leave; the new one may not.
    CHECK(value_of(run(store->remove_member(7, alice))).member_count == 2);
    CHECK(error_of(run(store->remove_member(7, bob))) == errc::conflict);
    // Exactly one owner among the members.
    const auto page = value_of(run(store->list_members(7, 0, 10)));
    CHECK(std::count_if(page.members.begin(), page.members.end(),
                        [](const member_record& m) { return m.role == member_role::owner; }) == 1);
}

TEST_CASE_METHOD(people, "roles change between admin and member, the owner's only by transfer",
                 "[social]") {
    value_of(run(store->create_group(7, "g", alice, false, {bob}, t0, no_limit)));
    value_of(run(store->set_member_role(7, bob, member_role::admin)));
    CHECK(value_of(run(store->member_role_of(7, bob))) == member_role::admin);
    value_of(run(store->set_member_role(7, bob, member_role::member)));
    CHECK(value_of(run(store->member_role_of(7, bob))) == member_role::member);
    CHECK(error_of(run(store->set_member_role(7, alice, member_role::admin))) == errc::conflict);
    CHECK(value_of(run(store->set_member_role(7, alice, member_role::owner))).owner_id == alice);
    CHECK(error_of(run(store->set_member_role(7, carol, member_role::admin))) == errc::not_found);
    CHECK(error_of(run(store->set_member_role(8, bob, member_role::admin))) == errc::not_found);
}

TEST_CASE_METHOD(people, "an unknown group is not_found for every group read", "[social]") {
    CHECK(error_of(run(store->get_group(8))) == errc::not_found);
    CHECK(error_of(run(store->member_role_of(8, alice))) == errc::not_found);
    CHECK(error_of(run(store->member_count(8))) == errc::not_found);
    CHECK(error_of(run(store->member_ids(8, 0, 10))) == errc::not_found);
}

TEST_CASE_METHOD(people, "groups of a user come with the role and the joining time", "[social]") {
    value_of(run(store->create_group(7, "a", alice, false, {bob}, t0, no_limit)));
    value_of(run(store->create_group(9, "b", carol, true, {}, t0 + 1, no_limit)));
    value_of(run(store->join_group(9, bob, t0 + 5, no_limit)));
    const auto groups = value_of(run(store->groups_of_user(bob)));
    REQUIRE(groups.size() == 2);
    CHECK(groups[0].group.id == 7);
    CHECK(groups[0].role == member_role::member);
    CHECK(groups[0].joined_ms == t0);
    CHECK(groups[1].group.id == 9);
    CHECK(groups[1].group.member_count == 2);
    CHECK(groups[1].joined_ms == t0 + 5);
    CHECK(value_of(run(store->groups_of_user(dave))).empty());
}

TEST_CASE_METHOD(social_fixture, "member ids come in shards after a cursor", "[social]") {
    std::vector<std::uint64_t> ids;
    for (std::uint64_t id = 1; id <= 12; ++id) {
        add_user(id, "u" + std::to_string(id));
        ids.push_back(id);
    }
    value_of(run(store->create_group(100, "g", 1, false, ids, t0, no_limit)));
    CHECK(value_of(run(store->member_ids(100, 0, 5))) == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
    CHECK(value_of(run(store->member_ids(100, 5, 5))) ==
          std::vector<std::uint64_t>{6, 7, 8, 9, 10});
    CHECK(value_of(run(store->member_ids(100, 10, 5))) == std::vector<std::uint64_t>{11, 12});
    CHECK(value_of(run(store->member_ids(100, 12, 5))).empty());
    CHECK(value_of(run(store->member_ids(100, ~std::uint64_t{0}, 5))).empty());
    CHECK(error_of(run(store->member_ids(100, 0, 0))) == errc::invalid_argument);
}

// ---- direct conversations ----

TEST_CASE_METHOD(people, "recording a direct message is idempotent and keeps the latest time",
                 "[social]") {
    value_of(run(store->record_direct_message(bob, alice, t0 + 10)));
    value_of(run(store->record_direct_message(alice, bob, t0 + 10)));
    value_of(run(store->record_direct_message(alice, bob, t0 + 5)));  // late, older
    for (const std::uint64_t user : {alice, bob}) {
        const auto list = value_of(run(store->direct_conversations(user)));
        REQUIRE(list.size() == 1);
        CHECK(list[0].conversation_id == "dm:101:102");
        CHECK(list[0].peer_id == (user == alice ? bob : alice));
        CHECK(list[0].last_message_ms == t0 + 10);
    }
}

TEST_CASE_METHOD(people, "direct conversations are listed most recent first", "[social]") {
    value_of(run(store->record_direct_message(alice, bob, t0 + 1)));
    value_of(run(store->record_direct_message(carol, alice, t0 + 2)));
    value_of(run(store->record_direct_message(alice, dave, t0 + 3)));
    value_of(run(store->record_direct_message(bob, alice, t0 + 4)));
    const auto list = value_of(run(store->direct_conversations(alice)));
    REQUIRE(list.size() == 3);
    CHECK(list[0].peer_id == bob);
    CHECK(list[1].peer_id == dave);
    CHECK(list[2].peer_id == carol);
    CHECK(list[2].conversation_id == direct_conversation_id(alice, carol));
    CHECK(value_of(run(store->direct_conversations(carol))).size() == 1);
}

TEST_CASE_METHOD(people, "a direct conversation needs two existing users", "[social]") {
    CHECK(error_of(run(store->record_direct_message(alice, alice, t0))) == errc::invalid_argument);
    CHECK(error_of(run(store->record_direct_message(alice, unknown, t0))) == errc::not_found);
    CHECK(value_of(run(store->direct_conversations(alice))).empty());
}

TEST_CASE("a direct conversation id orders the two ids numerically", "[social]") {
    CHECK(direct_conversation_id(10, 9) == "dm:9:10");
    CHECK(direct_conversation_id(9, 10) == "dm:9:10");
}

// ---- read state ----

TEST_CASE_METHOD(people, "a read position never moves back", "[social]") {
    CHECK(value_of(run(store->get_read_position(alice, "world"))) == 0);
    CHECK(value_of(run(store->set_read_position(alice, "world", 5, t0))));
    CHECK_FALSE(value_of(run(store->set_read_position(alice, "world", 3, t0 + 1))));
    CHECK_FALSE(value_of(run(store->set_read_position(alice, "world", 5, t0 + 2))));
    CHECK_FALSE(value_of(run(store->set_read_position(alice, "world", 0, t0 + 2))));
    CHECK(value_of(run(store->get_read_position(alice, "world"))) == 5);
    CHECK(value_of(run(store->set_read_position(alice, "world", 9, t0 + 3))));
    CHECK(value_of(run(store->get_read_position(alice, "world"))) == 9);
    CHECK(value_of(run(store->get_read_position(bob, "world"))) == 0);
    CHECK(error_of(run(store->set_read_position(unknown, "world", 1, t0))) == errc::not_found);
}

TEST_CASE_METHOD(people, "all of a user's read positions are listed", "[social]") {
    value_of(run(store->set_read_position(alice, "world", 4, t0)));
    value_of(run(store->set_read_position(alice, "group:7", 2, t0 + 1)));
    value_of(run(store->set_read_position(alice, "group:7", 3, t0 + 2)));
    value_of(run(store->set_read_position(bob, "world", 1, t0)));
    const auto positions = value_of(run(store->read_positions(alice)));
    REQUIRE(positions.size() == 2);
    CHECK(positions[0].conversation_id == "group:7");
    CHECK(positions[0].read_seq == 3);
    CHECK(positions[0].updated_ms == t0 + 2);
    CHECK(positions[1].conversation_id == "world");
    CHECK(positions[1].read_seq == 4);
}

TEST_CASE_METHOD(people, "readers at or past a seq are counted and listed", "[social]") {
    value_of(run(store->create_group(7, "g", alice, false, {bob, carol, dave}, t0, no_limit)));
    const std::string cid = "group:7";
    value_of(run(store->set_read_position(alice, cid, 10, t0)));
    value_of(run(store->set_read_position(bob, cid, 5, t0)));
    value_of(run(store->set_read_position(carol, cid, 7, t0)));
    value_of(run(store->set_read_position(dave, "world", 100, t0)));

    auto r = value_of(run(store->conversation_readers(cid, 7, 50, std::nullopt)));
    CHECK(r.count == 2);
    CHECK(r.user_ids == std::vector<std::uint64_t>{alice, carol});
    r = value_of(run(store->conversation_readers(cid, 5, 1, std::uint64_t{7})));
    CHECK(r.count == 3);
    CHECK(r.user_ids == std::vector<std::uint64_t>{alice});
    r = value_of(run(store->conversation_readers(cid, 11, 50, std::uint64_t{7})));
    CHECK(r.count == 0);
    CHECK(r.user_ids.empty());
    r = value_of(run(store->conversation_readers(cid, 5, 0, std::nullopt)));
    CHECK(r.count == 3);
    CHECK(r.user_ids.empty());

    // A member who left no longer counts when the group filter is given.
    value_of(run(store->remove_member(7, carol)));
    r = value_of(run(store->conversation_readers(cid, 7, 50, std::uint64_t{7})));
    CHECK(r.count == 1);
    CHECK(r.user_ids == std::vector<std::uint64_t>{alice});
    CHECK(value_of(run(store->conversation_readers(cid, 7, 50, std::nullopt))).count == 2);
}

// ---- mentions ----

TEST_CASE_METHOD(people, "mentions count until the read position passes them", "[social]") {
    value_of(run(store->create_group(7, "g", alice, false, {bob, carol}, t0, no_limit)));
    const std::string cid = "group:7";
    const std::optional<std::uint64_t> group = std::uint64_t{7};
    // dave is not a member and `unknown` does not exist: neither is recorded.
    CHECK(value_of(run(store->add_mentions(cid, 3, {bob, carol, dave, unknown}, group))) == 2);
    CHECK(value_of(run(store->add_mentions(cid, 3, {bob}, group))) == 0);  // a repeat
    CHECK(value_of(run(store->add_mentions(cid, 5, {bob}, group))) == 1);
    value_of(run(store->add_mentions("world", 2, {bob, dave}, std::nullopt)));

    auto m = value_of(run(store->unread_mentions(bob)));
    REQUIRE(m.size() == 2);
    CHECK(m[0].conversation_id == cid);
    CHECK(m[0].count == 2);
    CHECK(m[1].conversation_id == "world");
    CHECK(m[1].count == 1);
    CHECK(value_of(run(store->unread_mentions(dave))).size() == 1);
    CHECK(value_of(run(store->unread_mentions(alice))).empty());

    // Reading up to 4 reads the first mention; reading on reads the second.
    value_of(run(store->set_read_position(bob, cid, 4, t0)));
    m = value_of(run(store->unread_mentions(bob)));
    REQUIRE(m.size() == 2);
    CHECK(m[0].count == 1);
    value_of(run(store->set_read_position(bob, cid, 5, t0)));
    m = value_of(run(store->unread_mentions(bob)));
    REQUIRE(m.size() == 1);
    CHECK(m[0].conversation_id == "world");

    // A mention at or below the read position is read already and is not recorded.
    CHECK(value_of(run(store->add_mentions(cid, 5, {bob}, group))) == 0);
    CHECK(error_of(run(store->add_mentions(cid, 0, {bob}, group))) == errc::invalid_argument);
}

TEST_CASE_METHOD(people, "removing a message's mentions forgets them for everyone", "[social]") {
    value_of(run(store->add_mentions("world", 8, {bob, carol}, std::nullopt)));
    value_of(run(store->add_mentions("world", 9, {bob}, std::nullopt)));
    CHECK(value_of(run(store->remove_mentions("world", 8))) == 2);
    CHECK(value_of(run(store->remove_mentions("world", 8))) == 0);
    CHECK(value_of(run(store->unread_mentions(carol))).empty());
    const auto m = value_of(run(store->unread_mentions(bob)));
    REQUIRE(m.size() == 1);
    CHECK(m[0].count == 1);
}

// ---- durability, backup, concurrency ----

TEST_CASE_METHOD(people, "data survives closing and reopening the store", "[social]") {
    value_of(run(store->create_group(7, "g", alice, false, {bob}, t0, no_limit)));
    value_of(run(store->send_friend_request(1, alice, carol, "", t0)));
    value_of(run(store->create_token({"tok", alice, t0, t0 + 1})));
    value_of(run(store->set_read_position(alice, "group:7", 3, t0)));
    reopen();
    CHECK(value_of(run(store->get_user_by_username("dave"))).id == dave);
    CHECK(value_of(run(store->get_group(7))).member_count == 2);
    CHECK(value_of(run(store->get_friend_request(1))).status == friend_request_status::pending);
    CHECK(value_of(run(store->lookup_token("tok"))).user_id == alice);
    CHECK(value_of(run(store->get_read_position(alice, "group:7"))) == 3);
}

TEST_CASE_METHOD(people, "a backup is a complete copy that opens as a store", "[social]") {
    value_of(run(store->create_group(7, "g", alice, false, {bob}, t0, no_limit)));
    const std::string copy = dir.file("backup.db");
    value_of(run(store->backup_to(copy)));
    CHECK_FALSE(std::filesystem::exists(copy + ".partial"));
    // Writes after the backup are not in it.
    value_of(run(store->add_members(7, {carol}, t0, no_limit)));
    CHECK(error_of(run(store->backup_to(copy))) == errc::conflict);

    infra::metrics_registry other_metrics;
    sqlite_social_store_options o = options();
    o.path = copy;
    auto restored = value_of(open_sqlite_social_store(o, other_metrics));
    CHECK(value_of(run(restored->get_user(dave))).username == "dave");
    CHECK(value_of(run(restored->get_group(7))).member_count == 2);
    CHECK(value_of(run(store->get_group(7))).member_count == 3);
}

TEST_CASE_METHOD(people, "a backup into a missing directory is unavailable", "[social]") {
    CHECK(error_of(run(store->backup_to(dir.file("missing/backup.db")))) == errc::unavailable);
}

TEST_CASE_METHOD(social_fixture, "concurrent writers from several threads all commit", "[social]") {
    constexpr int threads = 4;
    constexpr int per_thread = 40;
    add_user(1, "owner");
    value_of(run(store->create_group(1, "g", 1, true, {}, t0, no_limit)));
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                const std::uint64_t id = 1000 + static_cast<std::uint64_t>(t * per_thread + i);
                user_record u{id, "user" + std::to_string(id), "u", "h", false, t0};
                if (!test::run(store->create_user(u))) {
                    ++failures;
                    continue;
                }
                if (!test::run(store->join_group(1, id, t0, no_limit))) {
                    ++failures;
                }
                if (!test::run(store->set_read_position(id, "group:1", 1 + i, t0))) {
                    ++failures;
                }
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    CHECK(failures == 0);
    CHECK(value_of(run(store->member_count(1))) == 1 + threads * per_thread);
    CHECK(value_of(run(store->search_users("user", 200))).size() == threads * per_thread);
    CHECK(value_of(run(store->conversation_readers("group:1", 1, 0, std::uint64_t{1}))).count ==
          threads * per_thread);
    // Every write is counted, and no batch is empty.
    const auto writes = metrics.get_counter("monochat_sqlite_writes_total", "").value();
    const auto batches = metrics.get_counter("monochat_sqlite_write_batches_total", "").value();
    CHECK(writes >= 3 * threads * per_thread);
    CHECK(batches <= writes);
    CHECK(metrics.render().find("monochat_queue_depth{queue=\"sqlite_writer\"}") !=
          std::string::npos);
}

TEST_CASE_METHOD(social_fixture, "concurrent joins never exceed max_members", "[social]") {
    constexpr std::uint64_t max_members = 25;
    add_user(1, "owner");
    for (std::uint64_t id = 2; id <= 60; ++id) {
        add_user(id, "u" + std::to_string(id));
    }
    value_of(run(store->create_group(1, "g", 1, true, {}, t0, max_members)));
    std::atomic<int> joined{0};
    std::atomic<int> full{0};
    std::atomic<int> other{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t) {
        workers.emplace_back([&, t] {
            for (std::uint64_t id = 2 + static_cast<std::uint64_t>(t); id <= 60; id += 4) {
                auto r = test::run(store->join_group(1, id, t0, max_members));
                if (r) {
                    joined += static_cast<int>(r->user_ids.size());
                } else if (r.error().code == errc::conflict) {
                    ++full;
                } else {
                    ++other;
                }
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    CHECK(other == 0);
    CHECK(joined == static_cast<int>(max_members) - 1);
    CHECK(full == 59 - joined);
    CHECK(value_of(run(store->member_count(1))) == max_members);
    CHECK(value_of(run(store->member_ids(1, 0, 100))).size() == max_members);
}

TEST_CASE_METHOD(social_fixture, "a failed write in a batch leaves the others committed",
                 "[social]") {
    // Many writes in flight at once land in shared transactions; the conflicting one must
    // roll back alone.
    // Shared with the handlers, so it outlives the last count_down even after wait() returns.
    struct tally {
        std::atomic<int> ok{0};
        std::atomic<int> conflicts{0};
        std::latch done{50};
    };
    auto t = std::make_shared<tally>();
    for (std::uint64_t id = 1; id <= 50; ++id) {
        const std::string name = id == 25 ? "user1" : "user" + std::to_string(id);
        boost::asio::co_spawn(test::io_runner::instance().executor(),
                              store->create_user({id, name, "d", "h", false, t0}),
                              [t](std::exception_ptr, result<user_record> r) {
                                  if (r) {
                                      ++t->ok;
                                  } else if (r.error().code == errc::conflict) {
                                      ++t->conflicts;
                                  }
                                  t->done.count_down();
                              });
    }
    t->done.wait();
    CHECK(t->ok == 49);
    CHECK(t->conflicts == 1);
    CHECK(error_of(run(store->get_user(25))) == errc::not_found);
    CHECK(value_of(run(store->get_user(26))).username == "user26");
}

TEST_CASE("a store with synchronous FULL commits and reopens", "[social]") {
    test::scratch_dir dir;
    infra::metrics_registry metrics;
    sqlite_social_store_options o;
    o.path = dir.file("full.db");
    o.readers = 1;
    o.synchronous_full = true;
    {
        auto store = value_of(open_sqlite_social_store(o, metrics));
        value_of(test::run(store->create_user({1, "one", "One", "h", false, t0})));
    }
    auto store = value_of(open_sqlite_social_store(o, metrics));
    CHECK(value_of(test::run(store->get_user(1))).display_name == "One");
}

TEST_CASE("opening a store with bad options or in a missing directory fails", "[social]") {
    test::scratch_dir dir;
    infra::metrics_registry metrics;
    sqlite_social_store_options o;
    CHECK(error_of(open_sqlite_social_store(o, metrics)) == errc::invalid_argument);
    o.path = dir.file("x.db");
    o.readers = 0;
    CHECK(error_of(open_sqlite_social_store(o, metrics)) == errc::invalid_argument);
    o.readers = 1;
    o.path = dir.file("missing/x.db");
    CHECK(error_of(open_sqlite_social_store(o, metrics)) == errc::unavailable);
}

TEST_CASE("member roles and request statuses have their wire spellings", "[social]") {
    CHECK(to_string(member_role::owner) == "owner");
    CHECK(to_string(member_role::admin) == "admin");
    CHECK(to_string(member_role::member) == "member");
    CHECK(parse_member_role("admin") == member_role::admin);
    CHECK(parse_member_role("Admin") == std::nullopt);
    CHECK(to_string(friend_request_status::accepted) == "accepted");
    CHECK(to_string(friend_request_status::rejected) == "rejected");
}

}  // namespace
}  // namespace monochat::storage
