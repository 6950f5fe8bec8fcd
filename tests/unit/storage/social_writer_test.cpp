#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite_db.hpp"
#include "storage/sqlite_threads.hpp"
#include "unit/storage/social_test_support.hpp"

namespace monochat::storage {
namespace {

using sqlite::connection;
using test::error_of;
using test::value_of;

// A writer over a one-table database, with its metrics at hand, and a way to hold the writer
// thread inside a job so that the next submissions queue up and form one batch.
struct writer_fixture {
    test::scratch_dir dir;
    infra::counter batches;
    infra::counter writes;
    infra::counter errors;
    infra::histogram commit_seconds{infra::latency_buckets()};
    std::unique_ptr<sqlite::writer> writer;
    std::unique_ptr<connection> reader;

    writer_fixture() {
        sqlite::open_options o;
        o.synchronous_full = false;
        auto conn = value_of(connection::open(dir.file("w.db"), o));
        value_of(conn->exec("CREATE TABLE t (x INTEGER PRIMARY KEY);"));
        writer = std::make_unique<sqlite::writer>(
            std::move(conn), 64,
            sqlite::thread_metrics{&batches, &writes, &errors, nullptr, &commit_seconds});
        o.read_only = true;
        reader = value_of(connection::open(dir.file("w.db"), o));
    }

    auto insert(std::int64_t x) {
        return writer->write<std::int64_t>([x](connection& c) -> result<std::int64_t> {
            auto stmt = c.prepare("INSERT INTO t (x) VALUES (?1)");
            if (!stmt) {
                return stmt.error();
            }
            if (auto st = stmt->bind(x); !st) {
                return st.error();
            }
            if (auto st = stmt->run(); !st) {
                return st.error();
            }
            return x;
        });
    }

    // Submits a job that blocks the writer thread until `release` is fulfilled, and waits until
    // the writer is inside it.
    std::future<result<std::int64_t>> hold(std::shared_future<void> release) {
        auto started = std::make_shared<std::promise<void>>();
        auto running = started->get_future();
        auto done = test::spawn(
            writer->write<std::int64_t>([started, release](connection&) -> result<std::int64_t> {
                started->set_value();
                release.wait();
                return 0;
            }));
        running.wait();
        return done;
    }

    void wait_for_queue(std::size_t depth) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (writer->queue_depth() < depth && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        REQUIRE(writer->queue_depth() == depth);
    }

    bool has_row(std::int64_t x) {
        auto stmt = value_of(reader->prepare("SELECT 1 FROM t WHERE x = ?1"));
        value_of(stmt.bind(x));
        return value_of(stmt.step());
    }
};

TEST_CASE_METHOD(writer_fixture,
                 "queued writes commit as one batch and a failed one rolls back alone",
                 "[social]") {
    std::promise<void> release;
    auto held = hold(release.get_future().share());
    auto ok1 = test::spawn(insert(1));
    // Writes row 100, then fails on a duplicate key: row 100 must not survive.
    auto failing =
        test::spawn(writer->write<std::int64_t>([](connection& c) -> result<std::int64_t> {
            for (const std::int64_t x : {100, 1}) {
                auto stmt = c.prepare("INSERT INTO t (x) VALUES (?1)");
                if (!stmt) {
                    return stmt.error();
                }
                if (auto st = stmt->bind(x); !st) {
                    return st.error();
                }
                if (auto st = stmt->run(); !st) {
                    return st.error();
                }
            }
            return 0;
        }));
    auto ok2 = test::spawn(insert(2));
    wait_for_queue(3);
    release.set_value();

    CHECK(value_of(held.get()) == 0);
    CHECK(value_of(ok1.get()) == 1);
    CHECK(error_of(failing.get()) == errc::conflict);
    CHECK(value_of(ok2.get()) == 2);
    CHECK(batches.value() == 2);  // the held job alone, then the three queued behind it
    CHECK(writes.value() == 4);
    CHECK(errors.value() == 1);
    CHECK(has_row(1));
    CHECK(has_row(2));
    CHECK_FALSE(has_row(100));
}

TEST_CASE_METHOD(writer_fixture,
                 "when SQLite rolls a batch back, the writes before it fail and later ones commit",
                 "[social]") {
    std::promise<void> release;
    auto held = hold(release.get_future().share());
    auto lost = test::spawn(insert(1));
    // Stands in for SQLITE_FULL or IOERR, after which SQLite has rolled the whole transaction
    // back by itself.
    auto breaking =
        test::spawn(writer->write<std::int64_t>([](connection& c) -> result<std::int64_t> {
            value_of(c.exec("ROLLBACK;"));
            return make_error(errc::unavailable, "disk full");
        }));
    auto later = test::spawn(insert(2));
    wait_for_queue(3);
    release.set_value();

    CHECK(value_of(held.get()) == 0);
    CHECK(error_of(lost.get()) == errc::unavailable);
    CHECK(error_of(breaking.get()) == errc::unavailable);
    CHECK(value_of(later.get()) == 2);
    CHECK_FALSE(has_row(1));
    CHECK(has_row(2));
}

TEST_CASE_METHOD(writer_fixture, "a batch holds at most max_batch writes", "[social]") {
    // Rebuild the writer with a batch of 2.
    writer.reset();
    sqlite::open_options o;
    o.synchronous_full = false;
    writer = std::make_unique<sqlite::writer>(
        value_of(connection::open(dir.file("w.db"), o)), 2,
        sqlite::thread_metrics{&batches, &writes, &errors, nullptr, &commit_seconds});
    const auto before = batches.value();
    std::promise<void> release;
    auto held = hold(release.get_future().share());
    std::vector<std::future<result<std::int64_t>>> queued;
    for (std::int64_t x = 1; x <= 5; ++x) {
        queued.push_back(test::spawn(insert(x)));
    }
    wait_for_queue(5);
    release.set_value();
    value_of(held.get());
    for (auto& f : queued) {
        value_of(f.get());
    }
    CHECK(batches.value() - before == 4);  // the held job, then 2 + 2 + 1
    for (std::int64_t x = 1; x <= 5; ++x) {
        CHECK(has_row(x));
    }
}

TEST_CASE_METHOD(writer_fixture, "closing the writer completes the writes queued before",
                 "[social]") {
    std::promise<void> release;
    auto held = hold(release.get_future().share());
    auto queued = test::spawn(insert(7));
    wait_for_queue(1);
    std::thread closer([&] { writer.reset(); });
    release.set_value();
    closer.join();
    value_of(held.get());
    CHECK(value_of(queued.get()) == 7);
    CHECK(has_row(7));
}

}  // namespace
}  // namespace monochat::storage
