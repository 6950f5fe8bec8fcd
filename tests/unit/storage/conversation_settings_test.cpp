// The social store's additions of issue 19: a user's mute of a conversation and the
// directory of public groups, against SQLite (migration 6), across a reopen.

#include <catch2/catch.hpp>
#include "support/social_store.hpp"
#include <string>
#include <vector>

#include "unit/storage/social_test_support.hpp"

namespace monochat::storage {
namespace {

using test::error_of;
using test::social_fixture;
using test::value_of;

constexpr std::uint64_t alice = 101;
constexpr std::uint64_t bob = 102;
constexpr std::uint64_t unknown = 999;
constexpr std::uint64_t no_limit = 100000;
constexpr std::int64_t t0 = 1'790'000'000'000;

std::vector<std::string> names(const group_directory_page& page) {
    std::vector<std::string> out;
    for (const auto& g : page.groups) {
        out.push_back(g.name);
    }
    return out;
}

TEST_CASE_METHOD(social_fixture, "a mute is stored per user and conversation, replaced and removed",
                 "[social][web19]") {
    add_user(alice, "alice");
    add_user(bob, "bob");
    CHECK(value_of(run(store->conversation_settings(alice))).empty());
    value_of(run(store->set_muted_until(alice, "world", t0 + 1000)));
    value_of(run(store->set_muted_until(alice, "group:7", t0 + 2000)));
    value_of(run(store->set_muted_until(alice, "world", t0 + 3000)));  // replaces
    value_of(run(store->set_muted_until(bob, "world", t0 + 5000)));
    reopen();
    auto mine = value_of(run(store->conversation_settings(alice)));
    REQUIRE(mine.size() == 2);
    CHECK(mine[0].conversation_id == "group:7");  // ascending by conversation id
    CHECK(mine[0].muted_until_ms == t0 + 2000);
    CHECK(mine[1].conversation_id == "world");
    CHECK(mine[1].muted_until_ms == t0 + 3000);
    // 0 removes the setting; removing one that is not there is no error.
    value_of(run(store->set_muted_until(alice, "world", 0)));
    value_of(run(store->set_muted_until(alice, "dm:1:2", 0)));
    mine = value_of(run(store->conversation_settings(alice)));
    REQUIRE(mine.size() == 1);
    CHECK(mine[0].conversation_id == "group:7");
    CHECK(value_of(run(store->conversation_settings(bob))).size() == 1);
}

TEST_CASE_METHOD(social_fixture, "a mute for an unknown user or with a negative time is refused",
                 "[social][web19]") {
    add_user(alice, "alice");
    CHECK(error_of(run(store->set_muted_until(unknown, "world", t0))) == errc::not_found);
    CHECK(error_of(run(store->set_muted_until(alice, "world", -1))) == errc::invalid_argument);
    CHECK(value_of(run(store->conversation_settings(alice))).empty());
}

TEST_CASE_METHOD(social_fixture, "a deleted user's mutes go with it", "[social][web19]") {
    add_user(alice, "alice");
    value_of(run(store->set_muted_until(alice, "world", t0)));
    value_of(run(store->delete_user(alice)));
    CHECK(value_of(run(store->conversation_settings(alice))).empty());
}

TEST_CASE_METHOD(social_fixture,
                 "the public directory finds names containing the text, pages, and skips private "
                 "groups",
                 "[social][web19]") {
    add_user(alice, "alice");
    std::uint64_t id = 10;
    for (const char* name : {"Rust Fans", "rustaceans", "Private rust", "100% Coffee", "under_score",
                             "back\\slash", "Go"}) {
        const bool is_public = std::string(name) != "Private rust";
        value_of(run(store->create_group(id++, name, alice, is_public, {}, t0, no_limit)));
    }
    CHECK(names(value_of(run(store->public_groups("RUST", 0, 50)))) ==
          std::vector<std::string>{"Rust Fans", "rustaceans"});
    // LIKE's wildcards and its escape character are plain characters.
    CHECK(names(value_of(run(store->public_groups("%", 0, 50)))) ==
          std::vector<std::string>{"100% Coffee"});
    CHECK(names(value_of(run(store->public_groups("_", 0, 50)))) ==
          std::vector<std::string>{"under_score"});
    CHECK(names(value_of(run(store->public_groups("\\", 0, 50)))) ==
          std::vector<std::string>{"back\\slash"});
    // Everything public, in pages of 2 by id; `next` is the last listed id.
    std::vector<std::string> all;
    std::uint64_t after = 0;
    for (int i = 0; i < 10; ++i) {
        const auto page = value_of(run(store->public_groups("", after, 2)));
        CHECK(page.groups.size() <= 2);
        for (const auto& g : page.groups) {
            CHECK(g.is_public);
            all.push_back(g.name);
        }
        if (!page.next) {
            break;
        }
        CHECK(*page.next == page.groups.back().id);
        after = *page.next;
    }
    CHECK(all == std::vector<std::string>{"Rust Fans", "rustaceans", "100% Coffee", "under_score",
                                          "back\\slash", "Go"});
    CHECK(error_of(run(store->public_groups("", 0, 0))) == errc::invalid_argument);
    CHECK(value_of(run(store->public_groups("", ~std::uint64_t{0}, 5))).groups.empty());
}

}  // namespace
}  // namespace monochat::storage
