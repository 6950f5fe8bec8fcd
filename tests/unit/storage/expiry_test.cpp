// The queries behind the expiry sweep: expired tokens in batches, idle guests listed by last
// activity, and their purge (the row and everything hanging off it go, a tombstone stays).

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
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
constexpr std::uint64_t guest_a = 901;
constexpr std::uint64_t guest_b = 902;
constexpr std::uint64_t guest_c = 903;

// add_user creates user `id` at 1000 + id ms: guest_a at 1901, guest_b at 1902, guest_c at 1903.
struct guests : social_fixture {
    guests() {
        add_user(alice, "alice");
        add_user(guest_a, "guest-a", true);
        add_user(guest_b, "guest-b", true);
        add_user(guest_c, "guest-c", true);
    }
};

}  // namespace

TEST_CASE_METHOD(social_fixture, "expired tokens are deleted in batches of the given size",
                 "[social][expiry]") {
    add_user(alice, "alice");
    for (int i = 0; i < 5; ++i) {
        value_of(run(store->create_token({"old" + std::to_string(i), alice, 0, 100 + i})));
    }
    value_of(run(store->create_token({"live", alice, 0, 10'000})));
    CHECK(value_of(run(store->delete_expired_tokens(1000, 2))) == 2);
    CHECK(value_of(run(store->delete_expired_tokens(1000, 2))) == 2);
    CHECK(value_of(run(store->delete_expired_tokens(1000, 2))) == 1);
    CHECK(value_of(run(store->delete_expired_tokens(1000, 2))) == 0);
    for (int i = 0; i < 5; ++i) {
        CHECK(error_of(run(store->lookup_token("old" + std::to_string(i)))) == errc::not_found);
    }
    CHECK(value_of(run(store->lookup_token("live"))).user_id == alice);
}

TEST_CASE_METHOD(guests, "idle guests are listed least recently seen first, registered users never",
                 "[social][expiry]") {
    // A new user counts as seen at its creation.
    CHECK(value_of(run(store->idle_guests(1902, 10))) == std::vector<std::uint64_t>{guest_a});
    CHECK(value_of(run(store->idle_guests(5000, 10))) ==
          std::vector<std::uint64_t>{guest_a, guest_b, guest_c});
    CHECK(value_of(run(store->idle_guests(5000, 2))) ==
          std::vector<std::uint64_t>{guest_a, guest_b});
    // Activity moves a guest to the back; a touch never moves the time back.
    value_of(run(store->touch_user(guest_a, 4000)));
    value_of(run(store->touch_user(guest_a, 3000)));
    CHECK(value_of(run(store->idle_guests(5000, 10))) ==
          std::vector<std::uint64_t>{guest_b, guest_c, guest_a});
    CHECK(value_of(run(store->idle_guests(4000, 10))) ==
          std::vector<std::uint64_t>{guest_b, guest_c});
    // Touching an unknown user is nothing to do, not an error.
    value_of(run(store->touch_user(4242, 4000)));
}

TEST_CASE_METHOD(guests, "a purged guest loses its tokens and read state and is remembered as deleted",
                 "[social][expiry]") {
    value_of(run(store->create_token({"ga", guest_a, 0, 1'000'000})));
    value_of(run(store->create_token({"gb", guest_b, 0, 1'000'000})));
    value_of(run(store->create_token({"al", alice, 0, 1'000'000})));
    CHECK(value_of(run(store->set_read_position(guest_a, "world", 5, 2000))));
    // guest_b was active after the listing: the purge checks again and keeps it.
    const auto listed = value_of(run(store->idle_guests(3000, 10)));
    REQUIRE(listed.size() == 3);
    value_of(run(store->touch_user(guest_b, 3500)));
    // alice is no guest: named by mistake, she stays.
    auto ids = listed;
    ids.push_back(alice);
    CHECK(value_of(run(store->purge_guests(ids, 3000, 9000))) ==
          std::vector<std::uint64_t>{guest_a, guest_c});

    CHECK(error_of(run(store->get_user(guest_a))) == errc::not_found);
    CHECK(error_of(run(store->lookup_token("ga"))) == errc::not_found);
    CHECK(value_of(run(store->read_positions(guest_a))).empty());
    CHECK(value_of(run(store->is_deleted_user(guest_a))));
    CHECK(value_of(run(store->is_deleted_user(guest_c))));
    CHECK_FALSE(value_of(run(store->is_deleted_user(guest_b))));
    CHECK_FALSE(value_of(run(store->is_deleted_user(alice))));
    CHECK_FALSE(value_of(run(store->is_deleted_user(4242))));
    CHECK(value_of(run(store->get_user(guest_b))).guest);
    CHECK(value_of(run(store->lookup_token("gb"))).user_id == guest_b);
    CHECK(value_of(run(store->lookup_token("al"))).user_id == alice);
    // Nothing is listed twice.
    CHECK(value_of(run(store->idle_guests(3000, 10))).empty());
    // A second purge of the same ids finds nothing to do.
    CHECK(value_of(run(store->purge_guests({guest_a, guest_c}, 3000, 9000))).empty());
}

TEST_CASE_METHOD(guests, "the tombstones of purged guests survive a reopen", "[social][expiry]") {
    CHECK(value_of(run(store->purge_guests({guest_a}, 5000, 9000))) ==
          std::vector<std::uint64_t>{guest_a});
    reopen();
    CHECK(value_of(run(store->is_deleted_user(guest_a))));
    CHECK(value_of(run(store->idle_guests(5000, 10))) ==
          std::vector<std::uint64_t>{guest_b, guest_c});
}

}  // namespace monochat::storage

namespace monochat::storage {
namespace {

template <class F>
std::string timed_batches(F batch_once, std::size_t& removed) {
    std::chrono::nanoseconds longest{0};
    std::chrono::nanoseconds total{0};
    for (;;) {
        const auto started = std::chrono::steady_clock::now();
        const std::size_t n = batch_once();
        const auto took = std::chrono::steady_clock::now() - started;
        longest = std::max(longest, took);
        total += took;
        removed += n;
        if (n == 0) {
            break;
        }
    }
    using std::chrono::duration_cast;
    using std::chrono::microseconds;
    return std::to_string(duration_cast<microseconds>(total).count() / 1000.0) + " ms in all, " +
           "longest batch " + std::to_string(duration_cast<microseconds>(longest).count() / 1000.0) +
           " ms";
}

}  // namespace

// A measurement, not a check (hidden; run with `[expiry-bench]`): how long one batch of a
// sweep holds the SQLite writer.
TEST_CASE_METHOD(social_fixture, "a sweep batch of 100 rows is one short write",
                 "[.slow][expiry-bench]") {
    constexpr std::uint64_t rows = 10'000;
    constexpr std::size_t batch = 100;
    add_user(1, "owner");
    for (std::uint64_t id = 1; id <= rows; ++id) {
        add_user(10'000 + id, "guest-" + std::to_string(id), true);
        value_of(run(store->create_token({"g" + std::to_string(id), 10'000 + id, 0, 1'000'000})));
        value_of(run(store->set_read_position(10'000 + id, "world", 1, 0)));
        value_of(run(store->create_token({"t" + std::to_string(id), 1, 0, 100})));
    }
    std::size_t tokens = 0;
    const auto token_times = timed_batches(
        [&] { return static_cast<std::size_t>(value_of(run(store->delete_expired_tokens(200, batch)))); },
        tokens);
    std::size_t guests = 0;
    const auto guest_times = timed_batches(
        [&] {
            const auto ids = value_of(run(store->idle_guests(1'000'000'000, batch)));
            if (ids.empty()) {
                return std::size_t{0};
            }
            return value_of(run(store->purge_guests(ids, 1'000'000'000, 1))).size();
        },
        guests);
    CHECK(tokens == rows);
    CHECK(guests == rows);
    WARN("expired tokens: " << tokens << " in batches of " << batch << ": " << token_times);
    WARN("idle guests (with a token and a read position each): " << guests << " in batches of "
                                                                  << batch << ": " << guest_times);
}

}  // namespace monochat::storage
