// The webhook store (issue 21): registrations with their starting cursors in one write, cursors
// that only move forward and survive a reopen, and a removal that takes the cursors along.

#include <catch2/catch.hpp>
#include <monochat/storage/webhook_store.hpp>

#include "unit/storage/social_test_support.hpp"

namespace monochat::storage {
namespace {

using test::error_of;
using test::value_of;

struct webhook_fixture {
    test::scratch_dir dir;
    infra::metrics_registry metrics;
    std::unique_ptr<webhook_store> store;

    webhook_fixture() { reopen(); }
    void reopen() {
        store.reset();
        sqlite_webhook_store_options o;
        o.path = dir.file("webhooks.db");
        o.synchronous_full = false;
        store = value_of(open_sqlite_webhook_store(o, metrics));
    }
};

webhook_record hook(std::uint64_t id, std::optional<std::vector<std::string>> cids = {}) {
    webhook_record w;
    w.id = id;
    w.url = "https://example.com/hook";
    w.secret = "s3cret";
    w.events = {"message"};
    w.conversation_ids = std::move(cids);
    w.created_ms = 1'790'000'000'000;
    return w;
}

}  // namespace

TEST_CASE("webhooks are stored with their cursors, which only move forward", "[webhooks]") {
    webhook_fixture f;
    value_of(test::run(f.store->create(hook(7, std::vector<std::string>{"group:1", "world"}),
                                       {{"group:1", 5}, {"world", 0}})));
    value_of(test::run(f.store->create(hook(3), {})));
    CHECK(error_of(test::run(f.store->create(hook(7), {}))) == errc::conflict);
    CHECK(error_of(test::run(f.store->create(hook(0), {}))) == errc::invalid_argument);
    auto bad = hook(9);
    bad.events = {"a\nb"};
    CHECK(error_of(test::run(f.store->create(bad, {}))) == errc::invalid_argument);

    value_of(test::run(f.store->advance(7, "group:1", 9)));
    value_of(test::run(f.store->advance(7, "group:1", 6)));  // never back
    value_of(test::run(f.store->advance(7, "dm:1:2", 2)));   // a new conversation
    value_of(test::run(f.store->advance(99, "world", 1)));   // a webhook that is gone: nothing

    f.reopen();
    auto all = value_of(test::run(f.store->list()));
    REQUIRE(all.size() == 2);
    CHECK(all[0].id == 3);
    CHECK_FALSE(all[0].conversation_ids.has_value());
    CHECK(all[1].id == 7);
    CHECK(all[1].secret == "s3cret");
    CHECK(all[1].events == std::vector<std::string>{"message"});
    CHECK(all[1].conversation_ids == std::vector<std::string>{"group:1", "world"});
    const std::vector<webhook_cursor> want{{"dm:1:2", 2}, {"group:1", 9}, {"world", 0}};
    CHECK(value_of(test::run(f.store->cursors(7))) == want);
    CHECK(value_of(test::run(f.store->cursors(99))).empty());

    // The journal cursor starts where creation put it and only moves forward.
    CHECK(all[1].journal_cursor == 0);
    auto evented = hook(11);
    evented.events = {"member_joined", "message"};
    evented.journal_cursor = 40;
    value_of(test::run(f.store->create(evented, {})));
    value_of(test::run(f.store->advance_journal(11, 45)));
    value_of(test::run(f.store->advance_journal(11, 42)));  // never back
    value_of(test::run(f.store->advance_journal(99, 50)));  // a webhook that is gone: nothing
    f.reopen();
    all = value_of(test::run(f.store->list()));
    REQUIRE(all.size() == 3);
    CHECK(all[2].id == 11);
    CHECK(all[2].journal_cursor == 45);
    CHECK(all[2].events == std::vector<std::string>{"member_joined", "message"});
    value_of(test::run(f.store->remove(11)));

    value_of(test::run(f.store->remove(7)));
    CHECK(error_of(test::run(f.store->remove(7))) == errc::not_found);
    CHECK(value_of(test::run(f.store->cursors(7))).empty());
    value_of(test::run(f.store->advance(7, "group:1", 10)));  // after the removal: nothing
    CHECK(value_of(test::run(f.store->cursors(7))).empty());
    CHECK(value_of(test::run(f.store->list())).size() == 1);
}

TEST_CASE("a backup of the webhook store holds its webhooks and cursors", "[webhooks]") {
    webhook_fixture f;
    value_of(test::run(f.store->create(hook(5, std::vector<std::string>{"world"}), {{"world", 4}})));
    value_of(test::run(f.store->advance(5, "world", 6)));
    // Taken on the writer thread, whose own connection is inside a transaction: a backup made
    // through it was refused ("database is locked").
    const auto copy = f.dir.file("backup.db");
    value_of(test::run(f.store->backup_to(copy)));
    CHECK(error_of(test::run(f.store->backup_to(copy))) == errc::conflict);

    sqlite_webhook_store_options o;
    o.path = copy;
    auto restored = value_of(open_sqlite_webhook_store(o, f.metrics));
    auto all = value_of(test::run(restored->list()));
    REQUIRE(all.size() == 1);
    CHECK(all[0].id == 5);
    CHECK(value_of(test::run(restored->cursors(5))) == std::vector<webhook_cursor>{{"world", 6}});
}

}  // namespace monochat::storage
