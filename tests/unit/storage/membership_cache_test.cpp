#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include "support/social_store.hpp"
#include <thread>

#include "storage/forwarding_stores.hpp"
#include "unit/storage/social_test_support.hpp"

using namespace monochat;
using namespace monochat::storage;
using namespace monochat::storage::test;

namespace {
struct cache_fixture : social_fixture {
    std::unique_ptr<social_store> cached;
    explicit cache_fixture(membership_cache_options o = {}) {
        for (std::uint64_t id = 1; id <= 6; ++id) {
            add_user(id, "user" + std::to_string(id));
        }
        value_of(run(store->create_group(100, "g", 1, true, {2, 3}, 5000, 1000)));
        stores.groups = make_membership_cache(std::move(stores.groups), *stores.changes, o, metrics);
        cached = make_social_store(stores);
    }
    double hits() { return metrics.get_counter("monochat_membership_cache_hits_total", "").value(); }
    double misses() {
        return metrics.get_counter("monochat_membership_cache_misses_total", "").value();
    }
};
}  // namespace

TEST_CASE("the membership cache answers roles, ids and counts after one fill", "[social][cache]") {
    cache_fixture f;
    CHECK(value_of(f.run(f.cached->member_role_of(100, 1))) == member_role::owner);
    CHECK(value_of(f.run(f.cached->member_role_of(100, 3))) == member_role::member);
    CHECK_FALSE(value_of(f.run(f.cached->member_role_of(100, 4))).has_value());
    CHECK(value_of(f.run(f.cached->member_ids(100, 1, 10))) == std::vector<std::uint64_t>{2, 3});
    CHECK(value_of(f.run(f.cached->member_ids(100, 0, 2))) == std::vector<std::uint64_t>{1, 2});
    CHECK(value_of(f.run(f.cached->member_count(100))) == 3);
    CHECK(f.hits() == 5);
    CHECK(error_of(f.run(f.cached->member_role_of(999, 1))) == errc::not_found);
}

TEST_CASE("every membership change shows in the next answer", "[social][cache]") {
    cache_fixture f;
    REQUIRE(value_of(f.run(f.cached->member_count(100))) == 3);
    value_of(f.run(f.cached->join_group(100, 4, 6000, 1000)));
    CHECK(value_of(f.run(f.cached->member_role_of(100, 4))) == member_role::member);
    value_of(f.run(f.cached->add_members(100, {5}, 6000, 1000)));
    CHECK(value_of(f.run(f.cached->member_count(100))) == 5);
    value_of(f.run(f.cached->remove_member(100, 2)));
    CHECK(value_of(f.run(f.cached->member_ids(100, 0, 10))) == std::vector<std::uint64_t>{1, 3, 4, 5});
    value_of(f.run(f.cached->set_member_role(100, 3, member_role::owner)));
    CHECK(value_of(f.run(f.cached->member_role_of(100, 3))) == member_role::owner);
    CHECK(value_of(f.run(f.cached->member_role_of(100, 1))) == member_role::admin);
}

TEST_CASE("joins, adds and leaves update a cached group without reading it again",
          "[social][cache]") {
    social_fixture f;
    for (std::uint64_t id = 1; id <= 6; ++id) {
        f.add_user(id, "user" + std::to_string(id));
    }
    value_of(f.run(f.store->create_group(100, "g", 1, true, {3, 5}, 5000, 1000)));
    member_snapshots* snapshots = nullptr;
    f.stores.groups = make_membership_cache(std::move(f.stores.groups), *f.stores.changes, {},
                                            f.metrics, &snapshots);
    auto cached = make_social_store(f.stores);
    auto misses = [&] {
        return f.metrics.get_counter("monochat_membership_cache_misses_total", "").value();
    };
    REQUIRE(value_of(f.run(cached->member_count(100))) == 3);
    REQUIRE(misses() == 1);
    const auto before = snapshots->cached_member_ids(100);
    value_of(f.run(cached->join_group(100, 4, 6000, 1000)));
    value_of(f.run(cached->add_members(100, {2, 6, 3}, 6000, 1000)));
    value_of(f.run(cached->remove_member(100, 5)));
    CHECK(value_of(f.run(cached->member_ids(100, 0, 10))) ==
          std::vector<std::uint64_t>{1, 2, 3, 4, 6});
    CHECK(value_of(f.run(cached->member_role_of(100, 1))) == member_role::owner);
    CHECK(value_of(f.run(cached->member_role_of(100, 6))) == member_role::member);
    CHECK_FALSE(value_of(f.run(cached->member_role_of(100, 5))).has_value());
    CHECK(value_of(f.run(cached->member_count(100))) == 5);
    CHECK(misses() == 1);
    // A list handed out before stays as it was: the change made a new one.
    CHECK(*before == std::vector<std::uint64_t>{1, 3, 5});
    CHECK(*snapshots->cached_member_ids(100) == std::vector<std::uint64_t>{1, 2, 3, 4, 6});
    // A failed change and a role change evict: the next answer reads the store.
    CHECK(error_of(f.run(cached->remove_member(100, 1))) == errc::conflict);
    CHECK(value_of(f.run(cached->member_count(100))) == 5);
    CHECK(misses() == 2);
    value_of(f.run(cached->set_member_role(100, 2, member_role::admin)));
    CHECK(value_of(f.run(cached->member_role_of(100, 2))) == member_role::admin);
    CHECK(misses() == 3);
}

TEST_CASE("groups over the size bound are read from the store every time", "[social][cache]") {
    membership_cache_options o;
    o.max_group_size = 2;
    cache_fixture f(o);
    CHECK(value_of(f.run(f.cached->member_count(100))) == 3);
    CHECK(value_of(f.run(f.cached->member_ids(100, 0, 10))) == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(f.hits() == 0);
}

TEST_CASE("the cache keeps at most max_groups groups", "[social][cache]") {
    membership_cache_options o;
    o.max_groups = 1;
    cache_fixture f(o);
    value_of(f.run(f.cached->create_group(200, "h", 4, false, {5}, 5000, 1000)));
    REQUIRE(value_of(f.run(f.cached->member_count(100))) == 3);
    REQUIRE(value_of(f.run(f.cached->member_count(200))) == 2);  // evicts 100
    REQUIRE(value_of(f.run(f.cached->member_count(100))) == 3);  // a miss again
    CHECK(f.hits() == 0);
    CHECK(value_of(f.run(f.cached->member_count(100))) == 3);
    CHECK(f.hits() == 1);
}

TEST_CASE("cached member lists are shared without waiting, and only once filled",
          "[social][cache]") {
    social_fixture f;
    for (std::uint64_t id = 1; id <= 4; ++id) {
        f.add_user(id, "user" + std::to_string(id));
    }
    value_of(f.run(f.store->create_group(100, "g", 1, true, {2, 3}, 5000, 1000)));
    member_snapshots* snapshots = nullptr;
    f.stores.groups = make_membership_cache(std::move(f.stores.groups), *f.stores.changes, {},
                                            f.metrics, &snapshots);
    auto cached = make_social_store(f.stores);
    REQUIRE(snapshots != nullptr);
    CHECK(snapshots->cached_member_ids(100) == nullptr);  // never fills by itself
    REQUIRE(value_of(f.run(cached->member_count(100))) == 3);
    const auto ids = snapshots->cached_member_ids(100);
    REQUIRE(ids != nullptr);
    CHECK(*ids == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(snapshots->cached_member_ids(100).get() == ids.get());  // the same list, not a copy
    // A join makes a new list at once; the old one stays valid, unchanged, for its holder.
    value_of(f.run(cached->join_group(100, 4, 6000, 1000)));
    const auto after = snapshots->cached_member_ids(100);
    REQUIRE(after != nullptr);
    CHECK(*after == std::vector<std::uint64_t>{1, 2, 3, 4});
    CHECK(ids->size() == 3);
    // A role change evicts: the next snapshot is a miss until a lookup fills it again.
    value_of(f.run(cached->set_member_role(100, 2, member_role::admin)));
    CHECK(snapshots->cached_member_ids(100) == nullptr);
    REQUIRE(value_of(f.run(cached->member_count(100))) == 4);
    CHECK(snapshots->cached_member_ids(100)->size() == 4);
}

namespace {

template <class Pred>
bool wait_for(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return pred();
}

// Reads a page of members, then holds it until released: a fill that is slow to finish.
class held_pages final : public detail::forwarding_group_store {
public:
    using forwarding_group_store::forwarding_group_store;
    std::atomic<bool> hold{true};
    std::atomic<int> page_reads{0};

    task<member_page> list_members(std::uint64_t group_id, std::uint64_t after,
                                   std::size_t limit) override {
        auto page = co_await forwarding_group_store::list_members(group_id, after, limit);
        ++page_reads;
        boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor);
        while (hold) {
            pause.expires_after(std::chrono::milliseconds(1));
            co_await pause.async_wait(boost::asio::use_awaitable);
        }
        co_return page;
    }
};

}  // namespace

TEST_CASE("one fill per group: lookups meanwhile ask the store, and a join meanwhile is kept",
          "[social][cache]") {
    social_fixture f;
    for (std::uint64_t id = 1; id <= 4; ++id) {
        f.add_user(id, "user" + std::to_string(id));
    }
    value_of(f.run(f.store->create_group(100, "g", 1, true, {2, 3}, 5000, 1000)));
    auto held = std::make_unique<held_pages>(std::move(f.stores.groups));
    held_pages& pages = *held;
    f.stores.groups = make_membership_cache(std::move(held), *f.stores.changes, {}, f.metrics);
    auto cached = make_social_store(f.stores);
    // The fill reads its one page (1, 2, 3) and is held.
    auto filled = boost::asio::co_spawn(test::io_runner::instance().executor(),
                                        cached->member_count(100), boost::asio::use_future);
    REQUIRE(wait_for([&] { return pages.page_reads == 1; }));
    // Meanwhile: answers from the store, no second fill, and a join commits.
    CHECK(value_of(f.run(cached->member_role_of(100, 2))) == member_role::member);
    CHECK(value_of(f.run(cached->member_count(100))) == 3);
    value_of(f.run(cached->join_group(100, 4, 6000, 1000)));
    CHECK(pages.page_reads == 1);
    pages.hold = false;
    // The fill's page did not hold user 4; the logged join is applied before it is kept.
    CHECK(value_of(filled.get()) == 4);
    CHECK(value_of(f.run(cached->member_ids(100, 0, 10))) ==
          std::vector<std::uint64_t>{1, 2, 3, 4});
    CHECK(pages.page_reads == 1);
    CHECK(f.metrics.get_counter("monochat_membership_cache_misses_total", "").value() == 1);
}

namespace {
// Commits each join and leave, then holds it until released: changes that overlap in time.
class held_changes final : public detail::forwarding_group_store {
public:
    using forwarding_group_store::forwarding_group_store;
    std::atomic<bool> hold{true};
    std::atomic<int> held{0};

    task<members_added> join_group(std::uint64_t group_id, std::uint64_t user_id,
                                   std::int64_t joined_ms, std::uint64_t max_members) override {
        auto r = co_await forwarding_group_store::join_group(group_id, user_id, joined_ms, max_members);
        co_await wait();
        co_return r;
    }
    task<group_record> remove_member(std::uint64_t group_id, std::uint64_t user_id) override {
        auto r = co_await forwarding_group_store::remove_member(group_id, user_id);
        co_await wait();
        co_return r;
    }

private:
    boost::asio::awaitable<void> wait() {
        ++held;
        boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor);
        while (hold) {
            pause.expires_after(std::chrono::milliseconds(1));
            co_await pause.async_wait(boost::asio::use_awaitable);
        }
    }
};

struct overlap_fixture {
    social_fixture f;
    held_changes* changes = nullptr;
    std::unique_ptr<social_store> cached;
    overlap_fixture() {
        for (std::uint64_t id = 1; id <= 6; ++id) {
            f.add_user(id, "user" + std::to_string(id));
        }
        value_of(f.run(f.store->create_group(100, "g", 1, true, {2, 3}, 5000, 1000)));
        auto held = std::make_unique<held_changes>(std::move(f.stores.groups));
        changes = held.get();
        f.stores.groups = make_membership_cache(std::move(held), *f.stores.changes, {}, f.metrics);
        cached = make_social_store(f.stores);
    }
    double misses() {
        return f.metrics.get_counter("monochat_membership_cache_misses_total", "").value();
    }
};
}  // namespace

TEST_CASE("overlapping changes of different users update a cached group without reading it again",
          "[social][cache]") {
    overlap_fixture o;
    CHECK(value_of(o.f.run(o.cached->member_count(100))) == 3);  // the one fill
    auto ex = test::io_runner::instance().executor();
    auto join = boost::asio::co_spawn(ex, o.cached->join_group(100, 4, 6000, 1000), boost::asio::use_future);
    auto leave = boost::asio::co_spawn(ex, o.cached->remove_member(100, 2), boost::asio::use_future);
    REQUIRE(wait_for([&] { return o.changes->held == 2; }));
    o.changes->hold = false;
    value_of(join.get());
    value_of(leave.get());
    CHECK(value_of(o.f.run(o.cached->member_ids(100, 0, 10))) == std::vector<std::uint64_t>{1, 3, 4});
    CHECK(o.misses() == 1);
}

TEST_CASE("overlapping changes of one user evict the cached group", "[social][cache]") {
    overlap_fixture o;
    CHECK(value_of(o.f.run(o.cached->member_count(100))) == 3);
    auto ex = test::io_runner::instance().executor();
    auto join = boost::asio::co_spawn(ex, o.cached->join_group(100, 4, 6000, 1000), boost::asio::use_future);
    REQUIRE(wait_for([&] { return o.changes->held == 1; }));
    auto leave = boost::asio::co_spawn(ex, o.cached->remove_member(100, 4), boost::asio::use_future);
    REQUIRE(wait_for([&] { return o.changes->held == 2; }));
    o.changes->hold = false;
    value_of(join.get());
    value_of(leave.get());
    // Committed join then leave; applied in either order the list would be guessed: it is read.
    CHECK(value_of(o.f.run(o.cached->member_ids(100, 0, 10))) == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(o.misses() == 2);
}

TEST_CASE("deleting a user through the users role evicts the groups the cache holds",
          "[social][cache]") {
    // The membership cache wraps the groups role only: a deletion made through another role
    // reaches it through the change hub (social_changes.hpp), not through a call it sees.
    cache_fixture f;
    value_of(f.run(f.stores.groups->create_group(200, "h", 4, true, {5}, 5000, 1000)));
    REQUIRE(value_of(f.run(f.cached->member_ids(100, 0, 10))) ==
            std::vector<std::uint64_t>{1, 2, 3});
    REQUIRE(value_of(f.run(f.cached->member_count(200))) == 2);

    value_of(f.run(f.stores.users->delete_account(2, 9000)));
    CHECK(value_of(f.run(f.cached->member_ids(100, 0, 10))) == std::vector<std::uint64_t>{1, 3});
    CHECK_FALSE(value_of(f.run(f.cached->member_role_of(100, 2))).has_value());

    value_of(f.run(f.stores.users->delete_user(5)));
    CHECK(value_of(f.run(f.cached->member_count(200))) == 1);

    // A failed deletion (the owner of a group) changes nothing and the cache still answers.
    CHECK(error_of(f.run(f.stores.users->delete_user(1))) == errc::conflict);
    CHECK(value_of(f.run(f.cached->member_count(100))) == 2);
}

TEST_CASE("purging guests through the users role evicts the groups the cache holds",
          "[social][cache]") {
    cache_fixture f;
    REQUIRE(value_of(f.run(f.cached->member_count(100))) == 3);
    const double misses = f.misses();
    // Nothing purged (user 4 is no guest): the cached group stays.
    CHECK(value_of(f.run(f.stores.users->purge_guests({4}, 1LL << 60, 9000))).empty());
    REQUIRE(value_of(f.run(f.cached->member_count(100))) == 3);
    CHECK(f.misses() == misses);
    f.add_user(50, "guest-50", true);
    REQUIRE(value_of(f.run(f.stores.users->purge_guests({50}, 1LL << 60, 9000))) ==
            std::vector<std::uint64_t>{50});
    REQUIRE(value_of(f.run(f.cached->member_count(100))) == 3);
    CHECK(f.misses() == misses + 1);  // evicted, read again
}
