// access_control::try_can_send: the send path's check from the caches' snapshots, which must
// agree with can_send whenever it answers, and answer nothing when something is not cached.

#include <catch2/catch.hpp>
#include <monochat/logic/access.hpp>
#include "support/social_store.hpp"

#include "unit/logic/logic_test_support.hpp"

using namespace monochat;
using namespace monochat::logic;
using namespace monochat::logic::test;

namespace {
conversation_ref ref_of(const std::string& cid) { return value_of(parse_conversation_id(cid)); }
std::string dm(std::uint64_t a, std::uint64_t b) { return storage::direct_conversation_id(a, b); }
}  // namespace

TEST_CASE("the send check answers from the caches once they hold the users and the friendship",
          "[logic][access]") {
    world w;
    const auto ann = w.user("ann");
    const auto bob = w.user("bob");
    const auto cy = w.user("cyd");
    const auto guest = w.guest();
    w.befriend(ann, bob);

    storage::member_snapshots* members = nullptr;
    storage::directory_snapshots* users = nullptr;
    w.stores.groups = storage::make_membership_cache(std::move(w.stores.groups),
                                                     *w.stores.changes, {}, w.metrics, &members);
    auto directory = storage::make_directory_cache(std::move(w.stores.users),
                                                   std::move(w.stores.relations),
                                                   *w.stores.changes, {}, w.metrics);
    w.stores.users = std::move(directory.users);
    w.stores.relations = std::move(directory.relations);
    users = directory.snapshots;
    auto cached = storage::make_social_store(w.stores);
    access_control access(*cached, *cached, *cached, w.live, users, members);

    const auto ab = ref_of(dm(ann.user_id, bob.user_id));
    const auto ac = ref_of(dm(ann.user_id, cy.user_id));
    // Nothing cached yet: no answer, the awaitable check is asked (and fills the caches).
    CHECK_FALSE(access.try_can_send(ann, ab).has_value());
    REQUIRE(static_cast<bool>(run(access.can_send(ann, ab))));
    const auto fast = access.try_can_send(ann, ab);
    REQUIRE(fast.has_value());
    CHECK(fast->has_value());

    // Not friends: the same refusal as can_send.
    REQUIRE_FALSE(static_cast<bool>(run(access.can_send(ann, ac))));
    const auto refused = access.try_can_send(ann, ac);
    REQUIRE(refused.has_value());
    REQUIRE_FALSE(refused->has_value());
    CHECK(refused->error().code == errc::forbidden);
    // An outsider of a cached pair, and a guest: forbidden as well.
    const auto outsider = access.try_can_send(cy, ab);
    REQUIRE(outsider.has_value());
    CHECK(outsider->error().code == errc::forbidden);
    const auto as_guest = access.try_can_send(guest, ab);
    REQUIRE(as_guest.has_value());
    CHECK(as_guest->error().code == errc::forbidden);
    // World needs nothing cached.
    CHECK(access.try_can_send(guest, ref_of("world"))->has_value());

    // Unfriending evicts: no answer until the cache is filled again, then a refusal.
    value_of(run(cached->remove_friend(ann.user_id, bob.user_id)));
    CHECK_FALSE(access.try_can_send(ann, ab).has_value());
    REQUIRE_FALSE(static_cast<bool>(run(access.can_send(ann, ab))));
    CHECK(access.try_can_send(ann, ab)->error().code == errc::forbidden);
}

TEST_CASE("the send check answers a cached group's membership", "[logic][access]") {
    world w;
    const auto ann = w.user("ann");
    const auto bob = w.user("bob");
    const auto cy = w.user("cyd");
    w.befriend(ann, bob);
    const auto g = value_of(run(w.make_group(ann, "g", {bob.user_id}, false)));
    storage::member_snapshots* members = nullptr;
    w.stores.groups = storage::make_membership_cache(std::move(w.stores.groups),
                                                     *w.stores.changes, {}, w.metrics, &members);
    auto cached = storage::make_social_store(w.stores);
    access_control access(*cached, *cached, *cached, w.live, nullptr, members);
    const auto gref = ref_of("group:" + std::to_string(g.group_id));
    CHECK_FALSE(access.try_can_send(bob, gref).has_value());
    REQUIRE(static_cast<bool>(run(access.can_send(bob, gref))));
    CHECK(access.try_can_send(bob, gref)->has_value());
    CHECK(access.try_can_send(cy, gref)->error().code == errc::forbidden);
}
