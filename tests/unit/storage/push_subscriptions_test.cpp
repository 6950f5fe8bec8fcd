// The social store's Web Push subscriptions (issue 21, migration 11): each belongs to a session
// and goes with it (every way a token is deleted), a muted conversation has no push targets, a
// known endpoint moves instead of doubling, and a user holds at most so many.

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

constexpr std::uint64_t alice = 201;
constexpr std::uint64_t bob = 202;
constexpr std::int64_t t0 = 1'790'000'000'000;

push_subscription_record sub(std::string endpoint, std::uint64_t user, std::string token) {
    return {std::move(endpoint), std::string(65, '\x04'), std::string(16, 'a'), user,
            std::move(token), t0};
}

std::vector<std::string> endpoints(const std::vector<push_subscription_record>& subs) {
    std::vector<std::string> out;
    for (const auto& s : subs) {
        out.push_back(s.endpoint);
    }
    return out;
}

TEST_CASE_METHOD(social_fixture, "push subscriptions belong to a session and go with it",
                 "[social][push]") {
    add_user(alice, "alice");
    add_user(bob, "bob");
    value_of(run(store->create_token({"a1", alice, 0, t0 + 100000})));
    value_of(run(store->create_token({"a2", alice, 0, t0 + 100000})));
    value_of(run(store->create_token({"b1", bob, 0, t0 + 100000})));

    value_of(run(store->put_push_subscription(sub("https://p/1", alice, "a1"), 5)));
    value_of(run(store->put_push_subscription(sub("https://p/2", alice, "a2"), 5)));
    value_of(run(store->put_push_subscription(sub("https://p/3", bob, "b1"), 5)));
    // A token of another user, or one that does not exist: not_found.
    CHECK(error_of(run(store->put_push_subscription(sub("https://p/4", alice, "b1"), 5))) ==
          errc::not_found);
    CHECK(error_of(run(store->put_push_subscription(sub("https://p/4", alice, "gone"), 5))) ==
          errc::not_found);
    CHECK(endpoints(value_of(run(store->push_targets(alice, "world", t0)))) ==
          std::vector<std::string>{"https://p/1", "https://p/2"});

    // The limit counts the user's other endpoints; a known endpoint is a replacement.
    CHECK(error_of(run(store->put_push_subscription(sub("https://p/5", alice, "a1"), 2))) ==
          errc::conflict);
    value_of(run(store->put_push_subscription(sub("https://p/2", alice, "a1"), 2)));

    // A muted conversation has no targets until the mute ends.
    value_of(run(store->set_muted_until(alice, "dm:201:202", t0 + 5000)));
    CHECK(value_of(run(store->push_targets(alice, "dm:201:202", t0))).empty());
    CHECK(value_of(run(store->push_targets(alice, "dm:201:202", t0 + 5000))).size() == 2);
    CHECK(value_of(run(store->push_targets(alice, "world", t0))).size() == 2);

    // An endpoint a browser subscribed with again from bob's login moves to bob.
    value_of(run(store->put_push_subscription(sub("https://p/1", bob, "b1"), 5)));
    CHECK(endpoints(value_of(run(store->push_targets(alice, "world", t0)))) ==
          std::vector<std::string>{"https://p/2"});
    CHECK(endpoints(value_of(run(store->push_targets(bob, "world", t0)))) ==
          std::vector<std::string>{"https://p/1", "https://p/3"});

    // Deleting is the owner's; a removal by endpoint (a 410) is anyone's.
    CHECK(error_of(run(store->delete_push_subscription(alice, "https://p/3"))) == errc::not_found);
    value_of(run(store->delete_push_subscription(bob, "https://p/3")));
    CHECK(value_of(run(store->remove_push_endpoint("https://p/1"))));
    CHECK_FALSE(value_of(run(store->remove_push_endpoint("https://p/1"))));

    // The session's end takes its subscriptions along (a logout deletes the token).
    value_of(run(store->delete_token("a1")));
    CHECK(value_of(run(store->push_targets(alice, "world", t0))).empty());
    value_of(run(store->put_push_subscription(sub("https://p/6", alice, "a2"), 5)));
    reopen();
    CHECK(value_of(run(store->push_targets(alice, "world", t0))).size() == 1);
    value_of(run(store->delete_user_tokens(alice)));
    CHECK(value_of(run(store->push_targets(alice, "world", t0))).empty());
}

}  // namespace
}  // namespace monochat::storage
