// The read-state buffer (src/storage/read_state_buffer.cpp) and the message log's sent-record
// queue it drains (message_log.hpp, sent_record).

#include <catch2/catch.hpp>
#include <chrono>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include "support/social_store.hpp"
#include <thread>

#include "unit/storage/social_test_support.hpp"

using namespace monochat;
using namespace monochat::storage;
using namespace monochat::storage::test;
using namespace std::chrono_literals;

namespace {

struct buffer_fixture : social_fixture {
    std::unique_ptr<message_log> log;
    sent_recorder* recorder = nullptr;
    // The fixture's roles with the buffer in front of read state (and of the backup).
    buffered_read_state buffer;
    std::unique_ptr<social_store> buffered;

    explicit buffer_fixture(std::chrono::milliseconds delay = 60s) {
        add_user(1, "ann");
        add_user(2, "bob");
        open_log();
        open_buffer(delay);
    }

    void open_log() {
        message_log_options o;
        o.path = dir.file("messages");
        o.sync = sync_mode::none;
        o.metrics = &metrics;
        log = value_of(open_rocksdb_message_log(o));
    }

    void open_buffer(std::chrono::milliseconds delay) {
        read_state_buffer_options o;
        o.flush_delay = delay;
        buffer = value_of(make_read_state_buffer(std::move(stores.read_state),
                                                 std::move(stores.admin), *log, o, metrics));
        recorder = buffer.recorder;
        buffered = make_social_store(*stores.users, *stores.relations, *stores.groups,
                                     *buffer.read_state, *buffer.admin);
    }

    // Destroys the buffer (its last flush) and the roles it wraps; reopen() opens them again.
    void close_buffer() {
        buffered.reset();
        buffer.admin.reset();
        buffer.read_state.reset();
    }

    // Appends a message with a queued sent record, as a send does; returns its record.
    sent_record send(std::uint64_t from, std::uint64_t to, const std::string& client_msg_id) {
        append_request a;
        a.conversation_id = direct_conversation_id(from, to);
        a.sender_id = from;
        a.client_msg_id = client_msg_id;
        a.message_id = next_id++;
        a.ts_ms = 5000 + static_cast<std::int64_t>(a.message_id);
        a.body = R"({"type":"text","text":"hi"})";
        a.record_sent = true;
        a.direct_peer = to;
        auto r = value_of(run(log->append(std::move(a))));
        return sent_record{r.message.message_id, from, r.message.conversation_id,
                           r.message.seq,        r.message.ts_ms, to};
    }

    double flushes() {
        return metrics.get_counter("monochat_read_state_flushes_total", "").value();
    }

    std::uint64_t next_id = 100;
};

}  // namespace

TEST_CASE("the log queues sent records with their messages until they are settled",
          "[storage][read_state]") {
    buffer_fixture f;
    const auto a = f.send(1, 2, "c1");
    const auto b = f.send(1, 2, "c2");
    auto queued = value_of(f.log->unsettled_sent());
    REQUIRE(queued.size() == 2);
    CHECK(queued[0] == a);
    CHECK(queued[1] == b);
    CHECK(queued[1].seq == 2);
    CHECK(queued[1].direct_peer == 2);
    REQUIRE(static_cast<bool>(f.log->settle_sent({a.message_id})));
    queued = value_of(f.log->unsettled_sent());
    REQUIRE(queued.size() == 1);
    CHECK(queued[0] == b);
}

TEST_CASE("reads through the buffer see every recorded send at once", "[storage][read_state]") {
    buffer_fixture f;  // a minute's delay: only a read starts the flush
    const auto r = f.send(1, 2, "c1");
    f.recorder->record(r);
    const auto r2 = f.send(1, 2, "c2");
    f.recorder->record(r2);
    CHECK(f.flushes() == 0);

    CHECK(value_of(f.run(f.buffered->get_read_position(1, r.conversation_id))) == 2);
    CHECK(f.flushes() == 1);  // both sends in one row of one write
    CHECK(f.metrics.get_counter("monochat_read_state_flushed_rows_total", "").value() == 1);
    // The direct chat is in both lists.
    CHECK(value_of(f.run(f.buffered->direct_conversations(1))).size() == 1);
    CHECK(value_of(f.run(f.buffered->direct_conversations(2))).size() == 1);
    // Readers of seq 2: the sender.
    auto readers = value_of(f.run(f.buffered->conversation_readers(r.conversation_id, 2, 10, {})));
    CHECK(readers.user_ids == std::vector<std::uint64_t>{1});
    // Settled in the log too.
    CHECK(value_of(f.log->unsettled_sent()).empty());
    // Nothing pending: no more writes.
    CHECK(value_of(f.run(f.buffered->read_positions(1))).size() == 1);
    CHECK(f.flushes() == 1);
}

TEST_CASE("recorded sends reach the store by themselves after the delay", "[storage][read_state]") {
    buffer_fixture f(20ms);
    const auto r = f.send(2, 1, "c1");
    f.recorder->record(r);
    for (int i = 0; i < 200 && value_of(f.log->unsettled_sent()).size() != 0; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    CHECK(value_of(f.log->unsettled_sent()).empty());
    CHECK(f.flushes() == 1);
    CHECK(value_of(f.run(f.buffered->get_read_position(2, r.conversation_id))) == 1);
    CHECK(f.flushes() == 1);
}

TEST_CASE("records a crash kept in the log are written at the next start", "[storage][read_state]") {
    buffer_fixture f;
    const auto r = f.send(1, 2, "c1");
    // Not recorded into the buffer: as if the process died between the write and the flush.
    f.close_buffer();
    f.log.reset();
    f.reopen();
    CHECK(value_of(f.run(f.store->get_read_position(1, r.conversation_id))) == 0);
    f.open_log();
    f.open_buffer(60s);
    CHECK(value_of(f.log->unsettled_sent()).empty());
    CHECK(value_of(f.run(f.buffered->get_read_position(1, r.conversation_id))) == 1);
    CHECK(value_of(f.run(f.buffered->direct_conversations(2))).size() == 1);
}

TEST_CASE("a buffer going away writes what is pending", "[storage][read_state]") {
    buffer_fixture f;
    const auto r = f.send(1, 2, "c1");
    f.recorder->record(r);
    f.close_buffer();
    CHECK(value_of(f.log->unsettled_sent()).empty());
    f.reopen();
    CHECK(value_of(f.run(f.store->get_read_position(1, r.conversation_id))) == 1);
}

TEST_CASE("records of users that are gone are skipped", "[storage][read_state]") {
    buffer_fixture f;
    const auto r = f.send(1, 2, "c1");
    f.recorder->record(r);
    value_of(f.run(f.buffered->delete_user(1)));
    CHECK(value_of(f.run(f.buffered->read_positions(2))).empty());
    CHECK(value_of(f.log->unsettled_sent()).empty());
}

TEST_CASE("a backup through the buffer holds every send recorded before it",
          "[storage][read_state]") {
    // The buffer wraps the administration role's backup_to (another role): the backup waits
    // for the records, which would otherwise sit in memory for a minute.
    buffer_fixture f;
    const auto r = f.send(1, 2, "c1");
    f.recorder->record(r);
    REQUIRE(f.flushes() == 0);
    const std::string copy = f.dir.file("backup.db");
    value_of(f.run(f.buffered->backup_to(copy)));
    CHECK(f.flushes() == 1);

    infra::metrics_registry other_metrics;
    sqlite_social_store_options o = f.options();
    o.path = copy;
    auto restored = value_of(open_sqlite_social_stores(o, other_metrics));
    CHECK(value_of(f.run(restored.read_state->get_read_position(1, r.conversation_id))) == 1);
    CHECK(value_of(f.run(restored.read_state->direct_conversations(2))).size() == 1);
}
