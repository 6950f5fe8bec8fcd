// The group event journal of the social store (issue 21, outgoing webhooks' membership events):
// every group change appends its row in its own transaction (a refused change appends none),
// with the clock's time and the group conversation's last_seq; the listener hears of each
// committed row; rows are read in pages, pruned, and ids are never given twice, across a
// reopen too.

#include <catch2/catch.hpp>
#include <map>
#include <monochat/infra/clock.hpp>
#include "support/social_store.hpp"
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "unit/storage/social_test_support.hpp"

namespace monochat::storage {
namespace {

using test::error_of;
using test::value_of;
using nlohmann::json;

constexpr std::uint64_t alice = 101;
constexpr std::uint64_t bob = 102;
constexpr std::uint64_t carol = 103;
constexpr std::uint64_t dave = 104;
constexpr std::uint64_t g1 = 500;
constexpr std::uint64_t no_limit = 100000;
constexpr std::int64_t t0 = 1'790'000'000'000;

struct journal_fixture {
    test::scratch_dir dir;
    infra::metrics_registry metrics;
    infra::manual_clock clock{t0};
    std::map<std::uint64_t, std::uint64_t> last_seq;  // group id -> its conversation's last_seq
    std::mutex mutex;
    std::vector<group_journal_row> heard;
    std::unique_ptr<social_store> store;

    journal_fixture() {
        reopen();
        for (const auto id : {alice, bob, carol, dave}) {
            user_record u;
            u.id = id;
            u.username = "user" + std::to_string(id);
            u.display_name = u.username;
            u.password_hash = "$argon2id$fake";
            u.created_ms = t0;
            value_of(test::run(store->create_user(u)));
        }
    }

    void reopen() {
        store.reset();
        sqlite_social_store_options o;
        o.path = dir.file("social.db");
        o.readers = 1;
        o.synchronous_full = false;
        o.clock = &clock;
        o.group_last_seq = [this](std::uint64_t group_id) {
            std::lock_guard lock(mutex);
            return last_seq[group_id];
        };
        store = value_of(open_sqlite_social_store(o, metrics));
        store->set_group_journal_listener([this](const group_journal_row& row) {
            std::lock_guard lock(mutex);
            heard.push_back(row);
        });
    }

    void set_last_seq(std::uint64_t group_id, std::uint64_t seq) {
        std::lock_guard lock(mutex);
        last_seq[group_id] = seq;
    }

    std::vector<group_journal_row> rows(std::uint64_t after = 0) {
        return value_of(test::run(store->read_group_journal(after, 100)));
    }
};

}  // namespace

TEST_CASE("each group change appends its journal row in its own transaction", "[social][journal]") {
    journal_fixture f;
    CHECK(value_of(test::run(f.store->group_journal_head())) == 0);

    value_of(test::run(f.store->create_group(g1, "g", alice, false, {bob}, t0, no_limit)));
    f.set_last_seq(g1, 3);
    f.clock.advance(std::chrono::milliseconds(5));
    value_of(test::run(f.store->add_members(g1, {carol, bob}, t0, no_limit)));
    // Nobody new: no row.
    value_of(test::run(f.store->add_members(g1, {carol}, t0, no_limit)));
    // Refused changes write nothing: a full group, a missing member, the owner leaving.
    CHECK(error_of(test::run(f.store->add_members(g1, {dave}, t0, 3))) == errc::conflict);
    CHECK(error_of(test::run(f.store->remove_member(g1, dave))) == errc::not_found);
    CHECK(error_of(test::run(f.store->remove_member(g1, alice))) == errc::conflict);
    f.set_last_seq(g1, 7);
    value_of(test::run(f.store->update_group(g1, std::string("renamed"), std::nullopt, true)));
    value_of(test::run(f.store->remove_member(g1, carol)));
    value_of(test::run(f.store->ban_member(g1, bob, alice, t0)));
    value_of(test::run(f.store->ban_member(g1, dave, alice, t0)));  // not a member: no row
    value_of(test::run(f.store->join_group(g1, carol, t0, no_limit)));  // back again

    const auto all = f.rows();
    REQUIRE(all.size() == 6);
    std::vector<std::string> events;
    for (std::size_t i = 0; i < all.size(); ++i) {
        events.push_back(all[i].event);
        CHECK(all[i].group_id == g1);
        if (i > 0) {
            CHECK(all[i].id > all[i - 1].id);
        }
    }
    CHECK(events == std::vector<std::string>{"member_joined", "member_joined", "group_updated",
                                             "member_left", "member_left", "member_joined"});
    // The creation names the owner and the first members; after_seq and ts as they were then.
    CHECK(json::parse(all[0].detail) ==
          json{{"user_ids", {std::to_string(alice), std::to_string(bob)}}});
    CHECK(all[0].after_seq == 0);
    CHECK(all[0].ts_ms == t0);
    CHECK(json::parse(all[1].detail) == json{{"user_ids", {std::to_string(carol)}}});
    CHECK(all[1].after_seq == 3);
    CHECK(all[1].ts_ms == t0 + 5);
    CHECK(json::parse(all[2].detail) ==
          json{{"changed", {"name", "public"}},
               {"group", {{"name", "renamed"}, {"description", ""}, {"public", true}}}});
    CHECK(all[2].after_seq == 7);
    CHECK(json::parse(all[3].detail) == json{{"user_ids", {std::to_string(carol)}}});
    CHECK(json::parse(all[4].detail) ==
          json{{"user_ids", {std::to_string(bob)}}, {"banned_by", std::to_string(alice)}});
    CHECK(json::parse(all[5].detail) == json{{"user_ids", {std::to_string(carol)}}});

    // The listener heard of each committed row, and only of those.
    {
        std::lock_guard lock(f.mutex);
        REQUIRE(f.heard.size() == all.size());
        for (std::size_t i = 0; i < all.size(); ++i) {
            CHECK(f.heard[i].id == all[i].id);
            CHECK(f.heard[i].detail == all[i].detail);
        }
    }
    CHECK(f.rows(all[3].id).size() == 2);
    CHECK(value_of(test::run(f.store->read_group_journal(0, 2))).size() == 2);
}

TEST_CASE("a pruned journal never gives an id twice, across a reopen too", "[social][journal]") {
    journal_fixture f;
    value_of(test::run(f.store->create_group(g1, "g", alice, false, {}, t0, no_limit)));
    value_of(test::run(f.store->add_members(g1, {bob}, t0, no_limit)));
    const auto head = value_of(test::run(f.store->group_journal_head()));
    CHECK(head == f.rows().back().id);
    CHECK(value_of(test::run(f.store->prune_group_journal(head - 1))) == 1);
    CHECK(f.rows().size() == 1);
    CHECK(value_of(test::run(f.store->prune_group_journal(head))) == 1);
    CHECK(f.rows().empty());
    CHECK(value_of(test::run(f.store->group_journal_head())) == head);

    f.reopen();
    CHECK(value_of(test::run(f.store->group_journal_head())) == head);
    value_of(test::run(f.store->remove_member(g1, bob)));
    const auto after = f.rows();
    REQUIRE(after.size() == 1);
    CHECK(after[0].id == head + 1);
    CHECK(after[0].event == "member_left");
}

}  // namespace monochat::storage
