// Contract tests of the message log (include/monochat/storage/message_log.hpp), run against
// every implementation: in memory, RocksDB, and RocksDB with its recent-message cache off (so
// that every read goes to disk). Durable-only properties (reopen) run where they apply.

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/message_log_faults.hpp"

#include "unit/storage/message_log_test_support.hpp"

namespace {

namespace net = boost::asio;
namespace fs = std::filesystem;
using namespace monochat;
using namespace monochat::storage;

// A scratch directory named for this suite.
struct temp_dir : test::scratch_dir {
    temp_dir() : test::scratch_dir("message-log") {}
};

using test::run;

// Holds the writer inside the commit listener of one batch, so that appends queued meanwhile
// are taken as ONE group when it is released.
class writer_gate {
public:
    void arm() {
        std::lock_guard lock(mutex_);
        armed_ = true;
        entered_ = false;
        released_ = false;
    }
    // In the listener.
    void pass() {
        std::unique_lock lock(mutex_);
        if (!armed_) {
            return;
        }
        armed_ = false;
        entered_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return released_; });
    }
    void wait_entered() {
        std::unique_lock lock(mutex_);
        REQUIRE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_; }));
    }
    void release() {
        std::lock_guard lock(mutex_);
        released_ = true;
        cv_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool armed_ = false;
    bool entered_ = false;
    bool released_ = false;
};

struct memory_engine {
    static constexpr bool durable = false;
    static void tune(message_log_options&) {}
    static std::unique_ptr<message_log> open(const message_log_options& o,
                                             std::shared_ptr<write_faults> faults) {
        return make_memory_message_log(o, std::move(faults));
    }
};

struct rocksdb_engine {
    static constexpr bool durable = true;
    static void tune(message_log_options&) {}
    static std::unique_ptr<message_log> open(const message_log_options& o,
                                             std::shared_ptr<write_faults> faults) {
        auto log = open_rocksdb_message_log(o, std::move(faults));
        REQUIRE(log.has_value());
        return std::move(*log);
    }
};

struct rocksdb_uncached_engine : rocksdb_engine {
    static void tune(message_log_options& o) { o.cache_conversations = 0; }
};

template <class Engine>
struct log_fixture {
    temp_dir dir;
    infra::manual_clock clock;
    infra::metrics_registry metrics;
    std::shared_ptr<write_faults> faults = std::make_shared<write_faults>();
    message_log_options options;
    std::unique_ptr<message_log> log;
    writer_gate gate;
    std::mutex committed_mutex;
    std::vector<stored_message> committed;  // everything the listener saw, in order
    std::vector<std::uint64_t> origins;     // parallel to `committed`
    std::atomic<std::uint64_t> next_message_id{1000};

    explicit log_fixture(std::size_t max_pending = 65536) {
        options.path = (dir.path / "messages").string();
        options.sync = sync_mode::always;
        options.clock = &clock;
        options.metrics = &metrics;
        options.max_pending = max_pending;
        Engine::tune(options);
        open();
    }

    void open() {
        log = Engine::open(options, faults);
        log->add_commit_listener([this](const commit_event& e) {
            {
                std::lock_guard lock(committed_mutex);
                committed.insert(committed.end(), e.messages->begin(), e.messages->end());
                origins.insert(origins.end(), e.origins.begin(), e.origins.end());
            }
            gate.pass();
        });
    }

    void reopen() {
        static_assert(Engine::durable, "only a durable log survives a reopen");
        log.reset();
        open();
    }

    std::vector<stored_message> committed_copy() {
        std::lock_guard lock(committed_mutex);
        return committed;
    }

    append_request text(std::string conversation, std::uint64_t sender, std::string client_msg_id,
                        std::string body = "") {
        append_request r;
        r.conversation_id = std::move(conversation);
        r.sender_id = sender;
        r.client_msg_id = std::move(client_msg_id);
        r.message_id = next_message_id.fetch_add(1);
        r.ts_ms = clock.now_ms();
        r.body = body.empty() ? fmt::format(R"({{"type":"text","text":"{}"}})", r.client_msg_id)
                              : std::move(body);
        return r;
    }

    result<append_result> append(append_request r) { return run(log->append(std::move(r))); }

    append_result must_append(append_request r) {
        auto out = append(std::move(r));
        REQUIRE(out.has_value());
        return std::move(*out);
    }

    // Queues an append; the future holds its outcome.
    std::future<result<append_result>> append_later(append_request r) {
        auto promise = std::make_shared<std::promise<result<append_result>>>();
        auto future = promise->get_future();
        log->append_async(std::move(r), [promise](result<append_result> out) {
            promise->set_value(std::move(out));
        });
        return future;
    }

    // Blocks the writer inside the listener of a throwaway append; everything queued until
    // release() is committed as one group.
    void hold_writer() {
        gate.arm();
        log->append_async(text("gate", 1, fmt::format("gate-{}", next_message_id.load())),
                          [](result<append_result>) {});
        gate.wait_entered();
    }

    read_page page_after(const std::string& c, std::uint64_t after, std::size_t limit) {
        auto p = run(log->read_after(c, after, limit));
        REQUIRE(p.has_value());
        return std::move(*p);
    }
    read_page page_before(const std::string& c, std::uint64_t before, std::size_t limit) {
        auto p = run(log->read_before(c, before, limit));
        REQUIRE(p.has_value());
        return std::move(*p);
    }
    read_page page_latest(const std::string& c, std::size_t limit) {
        auto p = run(log->read_latest(c, limit));
        REQUIRE(p.has_value());
        return std::move(*p);
    }
};

std::vector<std::uint64_t> seqs_of(const read_page& page) {
    std::vector<std::uint64_t> out;
    for (const auto& m : page.messages) {
        out.push_back(m.seq);
    }
    return out;
}

std::vector<std::uint64_t> iota(std::uint64_t first, std::uint64_t last) {
    std::vector<std::uint64_t> out;
    for (std::uint64_t s = first; s <= last; ++s) {
        out.push_back(s);
    }
    return out;
}

// Every message of a conversation, by paging forwards.
template <class Fixture>
std::vector<stored_message> read_all(Fixture& f, const std::string& c) {
    std::vector<stored_message> out;
    std::uint64_t after = 0;
    for (;;) {
        auto page = f.page_after(c, after, 200);
        out.insert(out.end(), page.messages.begin(), page.messages.end());
        if (!page.messages.empty()) {
            after = page.messages.back().seq;
        }
        if (!page.has_more) {
            return out;
        }
    }
}

#define ENGINES memory_engine, rocksdb_engine, rocksdb_uncached_engine

}  // namespace

TEMPLATE_TEST_CASE("concurrent appends to one conversation get contiguous seqs", "[message_log]",
                   ENGINES) {
    log_fixture<TestType> f;
    constexpr int threads = 8;
    constexpr int per_thread = 150;
    std::mutex mutex;
    std::map<std::uint64_t, std::uint64_t> message_id_by_seq;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                auto out = f.append_later(f.text("room", 10 + t, fmt::format("{}-{}", t, i))).get();
                REQUIRE(out.has_value());
                std::lock_guard lock(mutex);
                REQUIRE(
                    message_id_by_seq.emplace(out->message.seq, out->message.message_id).second);
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    REQUIRE(message_id_by_seq.size() == threads * per_thread);
    REQUIRE(message_id_by_seq.begin()->first == 1);
    REQUIRE(message_id_by_seq.rbegin()->first == threads * per_thread);
    REQUIRE(f.log->last_seq("room") == threads * per_thread);

    const auto all = read_all(f, "room");
    REQUIRE(all.size() == threads * per_thread);
    for (std::size_t i = 0; i < all.size(); ++i) {
        REQUIRE(all[i].seq == i + 1);
        REQUIRE(all[i].message_id == message_id_by_seq.at(all[i].seq));
    }
}

TEMPLATE_TEST_CASE("concurrent appends to many conversations keep each one contiguous",
                   "[message_log]", ENGINES) {
    log_fixture<TestType> f;
    constexpr int threads = 8;
    constexpr int per_thread = 120;
    constexpr int conversations = 5;
    std::mutex mutex;
    std::map<std::string, std::set<std::uint64_t>> seqs;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                const std::string c = fmt::format("group:{}", (t + i) % conversations);
                auto out = f.append_later(f.text(c, 10 + t, fmt::format("{}-{}", t, i))).get();
                REQUIRE(out.has_value());
                REQUIRE(out->message.conversation_id == c);
                std::lock_guard lock(mutex);
                REQUIRE(seqs[c].insert(out->message.seq).second);
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    std::size_t total = 0;
    for (const auto& [c, s] : seqs) {
        REQUIRE(*s.begin() == 1);
        REQUIRE(*s.rbegin() == s.size());
        REQUIRE(f.log->last_seq(c) == s.size());
        REQUIRE(read_all(f, c).size() == s.size());
        total += s.size();
    }
    REQUIRE(total == threads * per_thread);
    REQUIRE(f.log->conversations().size() == conversations);
}

TEMPLATE_TEST_CASE("commit listeners get each new message with its append's origin",
                   "[message_log]", ENGINES) {
    log_fixture<TestType> f;
    std::atomic<int> second{0};
    f.log->add_commit_listener(
        [&](const commit_event& e) { second += static_cast<int>(e.messages->size()); });
    f.hold_writer();
    auto a = f.text("dm:1:2", 1, "a");
    a.origin = 77;
    auto b = f.text("group:5", 2, "b");
    b.origin = 0;
    auto c = f.text("dm:1:2", 2, "c");
    c.origin = 78;
    auto fa = f.append_later(std::move(a));
    auto fb = f.append_later(std::move(b));
    auto fc = f.append_later(std::move(c));
    auto dup = f.text("dm:1:2", 1, "a");  // an in-batch retry: no new message, no listener call
    dup.origin = 79;
    auto fd = f.append_later(std::move(dup));
    f.gate.release();
    REQUIRE(fa.get().has_value());
    REQUIRE(fb.get().has_value());
    REQUIRE(fc.get().has_value());
    REQUIRE(fd.get()->duplicate);
    const auto seen = f.committed_copy();
    std::lock_guard lock(f.committed_mutex);
    REQUIRE(f.origins.size() == seen.size());
    std::vector<std::pair<std::string, std::uint64_t>> got;
    for (std::size_t i = 0; i < seen.size(); ++i) {
        if (seen[i].conversation_id != "gate") {
            got.emplace_back(seen[i].client_msg_id, f.origins[i]);
        }
    }
    CHECK(got == std::vector<std::pair<std::string, std::uint64_t>>{{"a", 77}, {"b", 0}, {"c", 78}});
    CHECK(second.load() == static_cast<int>(seen.size()));  // every listener, every message
}

TEMPLATE_TEST_CASE("an idempotent append returns the first result and writes nothing",
                   "[message_log]", ENGINES) {
    log_fixture<TestType> f;
    const auto first = f.must_append(f.text("dm:1:2", 1, "abc", R"({"type":"text","text":"hi"})"));
    REQUIRE_FALSE(first.duplicate);
    REQUIRE(first.message.seq == 1);
    f.must_append(f.text("dm:1:2", 2, "abc"));  // same client_msg_id, other sender: new

    // A retry with another body and even another conversation gets the original back.
    auto retry = f.text("group:9", 1, "abc", R"({"type":"text","text":"changed"})");
    const auto again = f.must_append(retry);
    REQUIRE(again.duplicate);
    REQUIRE(again.message.seq == first.message.seq);
    REQUIRE(again.message.message_id == first.message.message_id);
    REQUIRE(again.message.conversation_id == "dm:1:2");
    REQUIRE(again.message.ts_ms == first.message.ts_ms);
    REQUIRE(again.message.body == first.message.body);
    REQUIRE(f.log->last_seq("dm:1:2") == 2);
    REQUIRE(f.log->last_seq("group:9") == 0);

    if constexpr (TestType::durable) {
        f.reopen();
        const auto after_restart = f.must_append(retry);
        REQUIRE(after_restart.duplicate);
        REQUIRE(after_restart.message.seq == first.message.seq);
        REQUIRE(after_restart.message.message_id == first.message.message_id);
        REQUIRE(after_restart.message.body == first.message.body);
        REQUIRE(f.log->last_seq("dm:1:2") == 2);
    }
}

TEMPLATE_TEST_CASE("a lookup-only append answers a retry and otherwise writes nothing",
                   "[message_log]", ENGINES) {
    log_fixture<TestType> f;
    const auto first = f.must_append(f.text("dm:1:2", 1, "kept"));
    auto lookup = f.text("dm:1:2", 1, "kept");
    lookup.lookup_only = true;
    const auto hit = f.must_append(lookup);
    REQUIRE(hit.duplicate);
    REQUIRE(hit.message.message_id == first.message.message_id);

    auto miss = f.text("dm:1:2", 1, "never-sent");
    miss.lookup_only = true;
    const auto r = f.append(miss);
    REQUIRE_FALSE(r.has_value());
    REQUIRE(r.error().code == monochat::errc::not_found);
    REQUIRE(f.log->last_seq("dm:1:2") == 1);
    // The miss claimed nothing: a real send with that id is stored afterwards.
    REQUIRE_FALSE(f.must_append(f.text("dm:1:2", 1, "never-sent")).duplicate);
    REQUIRE(f.log->last_seq("dm:1:2") == 2);
}

TEMPLATE_TEST_CASE("two appends with one client_msg_id in the same batch store one message",
                   "[message_log]", ENGINES) {
    log_fixture<TestType> f;
    f.must_append(f.text("room", 1, "before"));
    f.hold_writer();
    auto a = f.append_later(f.text("room", 7, "same", R"({"type":"text","text":"one"})"));
    auto b = f.append_later(f.text("room", 7, "same", R"({"type":"text","text":"two"})"));
    auto c = f.append_later(f.text("room", 8, "other"));
    const auto committed_before = f.committed_copy().size();
    f.gate.release();

    const auto ra = a.get();
    const auto rb = b.get();
    const auto rc = c.get();
    REQUIRE(ra.has_value());
    REQUIRE(rb.has_value());
    REQUIRE(rc.has_value());
    REQUIRE_FALSE(ra->duplicate);
    REQUIRE(rb->duplicate);
    REQUIRE(rb->message.seq == ra->message.seq);
    REQUIRE(rb->message.message_id == ra->message.message_id);
    REQUIRE(rb->message.body == R"({"type":"text","text":"one"})");
    REQUIRE(ra->message.seq == 2);
    REQUIRE(rc->message.seq == 3);
    // Each answer is the whole message, also its strings (the writer moves them out of the
    // request and out of its staging).
    for (const auto* r : {&*ra, &*rb}) {
        REQUIRE(r->message.conversation_id == "room");
        REQUIRE(r->message.client_msg_id == "same");
        REQUIRE(r->message.sender_id == 7);
    }
    REQUIRE(rc->message.client_msg_id == "other");
    REQUIRE(rc->message.body == R"({"type":"text","text":"other"})");
    REQUIRE(f.log->last_seq("room") == 3);
    // One group: the listener saw the two new messages once each.
    const auto committed = f.committed_copy();
    REQUIRE(committed.size() == committed_before + 2);
    REQUIRE(committed[committed_before].seq == 2);
    REQUIRE(committed[committed_before + 1].seq == 3);
}

TEMPLATE_TEST_CASE("an idempotency entry holds for the whole window and then expires",
                   "[message_log]", ENGINES) {
    log_fixture<TestType> f;
    f.options.idempotency_window_s = 3600;
    if constexpr (TestType::durable) {
        f.reopen();
    } else {
        f.log.reset();
        f.open();
    }
    const auto first = f.must_append(f.text("room", 1, "k"));
    f.clock.advance(std::chrono::seconds(3600));
    REQUIRE(f.must_append(f.text("room", 1, "k")).duplicate);
    if constexpr (TestType::durable) {
        f.reopen();
        REQUIRE(f.must_append(f.text("room", 1, "k")).duplicate);
    }
    f.clock.advance(std::chrono::seconds(2));
    const auto late = f.must_append(f.text("room", 1, "k"));
    REQUIRE_FALSE(late.duplicate);
    REQUIRE(late.message.seq == first.message.seq + 1);
}

TEMPLATE_TEST_CASE("range reads at the edges", "[message_log]", ENGINES) {
    log_fixture<TestType> f;
    const std::string c = "group:1";

    SECTION("an empty conversation reads as empty") {
        auto p = f.page_after(c, 0, 10);
        REQUIRE(p.messages.empty());
        REQUIRE_FALSE(p.has_more);
        p = f.page_before(c, 100, 10);
        REQUIRE(p.messages.empty());
        REQUIRE_FALSE(p.has_more);
        p = f.page_latest(c, 10);
        REQUIRE(p.messages.empty());
        REQUIRE_FALSE(p.has_more);
        auto one = run(f.log->get(c, 1));
        REQUIRE_FALSE(one.has_value());
        REQUIRE(one.error().code == errc::not_found);
        REQUIRE(f.log->last_seq(c) == 0);
    }

    for (int i = 1; i <= 10; ++i) {
        f.must_append(f.text(c, 1, fmt::format("m{}", i)));
    }
    f.must_append(f.text("other", 1, "x"));
    auto check_reads = [&] {
        // First message, and has_more forwards.
        auto p = f.page_after(c, 0, 1);
        REQUIRE(seqs_of(p) == iota(1, 1));
        REQUIRE(p.has_more);
        REQUIRE(p.messages[0].client_msg_id == "m1");
        REQUIRE(p.messages[0].conversation_id == c);
        // A limit that ends exactly at the last message.
        p = f.page_after(c, 0, 10);
        REQUIRE(seqs_of(p) == iota(1, 10));
        REQUIRE_FALSE(p.has_more);
        p = f.page_after(c, 0, 9);
        REQUIRE(seqs_of(p) == iota(1, 9));
        REQUIRE(p.has_more);
        // Last message.
        p = f.page_after(c, 9, 5);
        REQUIRE(seqs_of(p) == iota(10, 10));
        REQUIRE_FALSE(p.has_more);
        REQUIRE(p.messages[0].client_msg_id == "m10");
        // After the last one, and far beyond.
        p = f.page_after(c, 10, 5);
        REQUIRE(p.messages.empty());
        REQUIRE_FALSE(p.has_more);
        p = f.page_after(c, 1000, 5);
        REQUIRE(p.messages.empty());
        REQUIRE_FALSE(p.has_more);
        // Backwards: ascending order, has_more towards older.
        p = f.page_before(c, 11, 3);
        REQUIRE(seqs_of(p) == iota(8, 10));
        REQUIRE(p.has_more);
        p = f.page_before(c, 1000, 3);
        REQUIRE(seqs_of(p) == iota(8, 10));
        REQUIRE(p.has_more);
        p = f.page_before(c, 4, 3);
        REQUIRE(seqs_of(p) == iota(1, 3));
        REQUIRE_FALSE(p.has_more);
        p = f.page_before(c, 2, 5);
        REQUIRE(seqs_of(p) == iota(1, 1));
        REQUIRE_FALSE(p.has_more);
        p = f.page_before(c, 1, 5);
        REQUIRE(p.messages.empty());
        REQUIRE_FALSE(p.has_more);
        p = f.page_before(c, 0, 5);
        REQUIRE(p.messages.empty());
        REQUIRE_FALSE(p.has_more);
        // Latest.
        p = f.page_latest(c, 3);
        REQUIRE(seqs_of(p) == iota(8, 10));
        REQUIRE(p.has_more);
        p = f.page_latest(c, 10);
        REQUIRE(seqs_of(p) == iota(1, 10));
        REQUIRE_FALSE(p.has_more);
        p = f.page_latest(c, 50);
        REQUIRE(seqs_of(p) == iota(1, 10));
        REQUIRE_FALSE(p.has_more);
        // Single messages.
        auto first = run(f.log->get(c, 1));
        REQUIRE(first.has_value());
        REQUIRE(first->client_msg_id == "m1");
        auto last = run(f.log->get(c, 10));
        REQUIRE(last.has_value());
        REQUIRE(last->seq == 10);
        auto none = run(f.log->get(c, 11));
        REQUIRE_FALSE(none.has_value());
        REQUIRE(none.error().code == errc::not_found);
        none = run(f.log->get(c, 0));
        REQUIRE_FALSE(none.has_value());
        REQUIRE(none.error().code == errc::not_found);
        // A zero limit is a caller bug.
        auto bad = run(f.log->read_after(c, 0, 0));
        REQUIRE_FALSE(bad.has_value());
        REQUIRE(bad.error().code == errc::invalid_argument);
    };
    check_reads();
    if constexpr (TestType::durable) {
        f.reopen();  // cold cache: the same answers from disk
        check_reads();
        check_reads();
    }
}

TEMPLATE_TEST_CASE("reads larger than max_read_limit are clamped and say has_more", "[message_log]",
                   ENGINES) {
    log_fixture<TestType> f;
    f.options.max_read_limit = 4;
    f.log.reset();
    f.open();
    for (int i = 0; i < 6; ++i) {
        f.must_append(f.text("c", 1, fmt::format("m{}", i)));
    }
    auto p = f.page_after("c", 0, 100);
    REQUIRE(seqs_of(p) == iota(1, 4));
    REQUIRE(p.has_more);
}

TEMPLATE_TEST_CASE("an operation updates its target's state in the same commit", "[message_log]",
                   ENGINES) {
    log_fixture<TestType> f;
    const auto target = f.must_append(f.text("group:5", 1, "t"));
    f.must_append(f.text("group:5", 2, "u"));

    auto op = f.text("group:5", 1, "edit-1", R"({"type":"edit","target_seq":1,"text":"new"})");
    op.target_seq = target.message.seq;
    std::string seen_body;
    op.update_target = [&](const stored_message& t) -> result<std::string> {
        seen_body = t.body;
        return std::string(R"({"edited_at":1,"text":"new"})");
    };
    const auto edit = f.must_append(std::move(op));
    REQUIRE(edit.message.seq == 3);
    REQUIRE(edit.message.target_seq == 1);
    REQUIRE(seen_body == target.message.body);

    auto check = [&] {
        auto t = run(f.log->get("group:5", 1));
        REQUIRE(t.has_value());
        REQUIRE(t->state == R"({"edited_at":1,"text":"new"})");
        REQUIRE(t->body == target.message.body);
        auto page = f.page_latest("group:5", 10);
        REQUIRE(seqs_of(page) == iota(1, 3));
        REQUIRE(page.messages[0].state == R"({"edited_at":1,"text":"new"})");
        REQUIRE(page.messages[1].state.empty());
        REQUIRE(page.messages[2].target_seq == 1);
    };
    check();
    const auto committed = f.committed_copy();
    REQUIRE(committed.back().seq == 3);
    REQUIRE(committed.back().target_seq == 1);
    if constexpr (TestType::durable) {
        f.reopen();
        check();
    }
}

TEMPLATE_TEST_CASE("operations on a target in one batch see each other's state", "[message_log]",
                   ENGINES) {
    log_fixture<TestType> f;
    f.must_append(f.text("c", 1, "first"));
    f.hold_writer();
    auto text = f.append_later(f.text("c", 1, "target"));  // will be seq 2
    std::vector<std::future<result<append_result>>> reactions;
    for (const char* emoji : {"a", "b", "c"}) {
        auto op = f.text("c", 2, fmt::format("react-{}", emoji));
        op.target_seq = 2;
        op.update_target = [emoji](const stored_message& t) -> result<std::string> {
            return t.state + emoji;
        };
        reactions.push_back(f.append_later(std::move(op)));
    }
    f.gate.release();
    REQUIRE(text.get().has_value());
    for (auto& r : reactions) {
        REQUIRE(r.get().has_value());
    }
    auto t = run(f.log->get("c", 2));
    REQUIRE(t.has_value());
    REQUIRE(t->state == "abc");
    REQUIRE(f.log->last_seq("c") == 5);
}

TEMPLATE_TEST_CASE("an operation on a missing target is not_found and consumes no seq",
                   "[message_log]", ENGINES) {
    log_fixture<TestType> f;
    auto op = [&](std::string c, std::uint64_t target) {
        auto r = f.text(std::move(c), 1, fmt::format("op-{}", f.next_message_id.load()));
        r.target_seq = target;
        r.update_target = [](const stored_message&) -> result<std::string> {
            return std::string("x");
        };
        return r;
    };
    auto missing = f.append(op("empty", 1));
    REQUIRE_FALSE(missing.has_value());
    REQUIRE(missing.error().code == errc::not_found);
    REQUIRE(f.log->last_seq("empty") == 0);

    f.must_append(f.text("a", 1, "a1"));
    f.must_append(f.text("a", 1, "a2"));
    f.must_append(f.text("b", 1, "b1"));
    missing = f.append(op("b", 2));  // seq 2 exists in "a" only
    REQUIRE_FALSE(missing.has_value());
    REQUIRE(missing.error().code == errc::not_found);
    missing = f.append(op("a", 3));
    REQUIRE_FALSE(missing.has_value());
    REQUIRE(missing.error().code == errc::not_found);
    REQUIRE(f.log->last_seq("a") == 2);
    REQUIRE(f.log->last_seq("b") == 1);
    REQUIRE(f.must_append(f.text("a", 1, "a3")).message.seq == 3);
}

TEMPLATE_TEST_CASE("an update_target error fails the append and consumes no seq", "[message_log]",
                   ENGINES) {
    log_fixture<TestType> f;
    f.must_append(f.text("c", 1, "t"));
    auto op = f.text("c", 2, "recall");
    op.target_seq = 1;
    op.update_target = [](const stored_message&) -> result<std::string> {
        return make_error(errc::forbidden, "not your message");
    };
    auto failed = f.append(std::move(op));
    REQUIRE_FALSE(failed.has_value());
    REQUIRE(failed.error().code == errc::forbidden);
    REQUIRE(failed.error().message == "not your message");
    REQUIRE(f.log->last_seq("c") == 1);
    auto t = run(f.log->get("c", 1));
    REQUIRE(t.has_value());
    REQUIRE(t->state.empty());

    // The failed key was not stored: the same client_msg_id may be used again.
    const auto next = f.must_append(f.text("c", 2, "recall"));
    REQUIRE_FALSE(next.duplicate);
    REQUIRE(next.message.seq == 2);
}

TEMPLATE_TEST_CASE("the commit listener sees each batch in commit order before the acks",
                   "[message_log]", ENGINES) {
    log_fixture<TestType> f;
    constexpr int threads = 6;
    constexpr int per_thread = 100;
    std::atomic<int> ack_before_commit{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                const std::string c = t % 2 == 0 ? "even" : "odd";
                auto out = f.append_later(f.text(c, 1, fmt::format("{}-{}", t, i))).get();
                REQUIRE(out.has_value());
                // The listener ran before this append was completed.
                const auto committed = f.committed_copy();
                bool seen = false;
                for (const auto& m : committed) {
                    if (m.conversation_id == c && m.seq == out->message.seq) {
                        seen = m.message_id == out->message.message_id;
                        break;
                    }
                }
                if (!seen) {
                    ++ack_before_commit;
                }
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    REQUIRE(ack_before_commit == 0);
    std::map<std::string, std::uint64_t> last;
    for (const auto& m : f.committed_copy()) {
        REQUIRE(m.seq == last[m.conversation_id] + 1);
        last[m.conversation_id] = m.seq;
    }
    REQUIRE(last["even"] + last["odd"] == threads * per_thread);
}

TEMPLATE_TEST_CASE("a failed write acknowledges nothing and consumes no seq", "[message_log]",
                   ENGINES) {
    log_fixture<TestType> f;
    f.must_append(f.text("c", 1, "ok-1"));
    f.must_append(f.text("c", 1, "ok-2"));
    f.must_append(f.text("d", 1, "dup-source"));

    // A whole group fails together; a retry of a committed message is still answered.
    f.hold_writer();
    f.faults->set_disk_full(true);
    auto a = f.append_later(f.text("c", 1, "lost-a"));
    auto b = f.append_later(f.text("c", 2, "lost-b"));
    auto b_again = f.append_later(f.text("c", 2, "lost-b"));
    auto e = f.append_later(f.text("e", 3, "lost-e"));
    auto dup = f.append_later(f.text("d", 1, "dup-source"));
    const auto committed_before = f.committed_copy().size();
    f.gate.release();
    for (auto* fut : {&a, &b, &b_again, &e}) {
        auto out = fut->get();
        REQUIRE_FALSE(out.has_value());
        REQUIRE(out.error().code == errc::unavailable);
    }
    const auto dup_out = dup.get();
    REQUIRE(dup_out.has_value());
    REQUIRE(dup_out->duplicate);
    REQUIRE(f.faults->injected() > 0);
    REQUIRE(f.log->last_seq("c") == 2);
    REQUIRE(f.log->last_seq("e") == 0);
    REQUIRE(f.committed_copy().size() == committed_before);

    // Space returns: the log works again (RocksDB recovers from its background error by
    // itself; until it has, appends keep failing with unavailable and consume nothing).
    f.faults->set_disk_full(false);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::optional<append_result> recovered;
    while (!recovered && std::chrono::steady_clock::now() < deadline) {
        auto out = f.append(f.text("c", 1, "lost-a"));
        if (out.has_value()) {
            recovered = std::move(*out);
        } else {
            REQUIRE(out.error().code == errc::unavailable);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    REQUIRE(recovered.has_value());
    REQUIRE_FALSE(recovered->duplicate);  // the failed append stored nothing, not even its key
    REQUIRE(recovered->message.seq == 3);
    REQUIRE(f.must_append(f.text("e", 3, "lost-e")).message.seq == 1);
    const auto all = read_all(f, "c");
    REQUIRE(all.size() == 3);
    REQUIRE(all[2].client_msg_id == "lost-a");

    if constexpr (TestType::durable) {
        f.reopen();
        REQUIRE(f.log->last_seq("c") == 3);
        REQUIRE(f.log->last_seq("e") == 1);
        REQUIRE(read_all(f, "c").size() == 3);
        REQUIRE(f.must_append(f.text("c", 9, "after-reopen")).message.seq == 4);
    }
}

TEMPLATE_TEST_CASE("a full append queue fails fast with unavailable", "[message_log]", ENGINES) {
    log_fixture<TestType> f(4);
    f.hold_writer();  // the gate append holds one slot
    std::vector<std::future<result<append_result>>> queued;
    for (int i = 0; i < 3; ++i) {
        queued.push_back(f.append_later(f.text("c", 1, fmt::format("q{}", i))));
    }
    auto refused = f.append_later(f.text("c", 1, "one-too-many"));
    REQUIRE(refused.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
    auto out = refused.get();
    REQUIRE_FALSE(out.has_value());
    REQUIRE(out.error().code == errc::unavailable);
    f.gate.release();
    for (auto& q : queued) {
        REQUIRE(q.get().has_value());
    }
    REQUIRE(f.log->last_seq("c") == 3);
}

TEMPLATE_TEST_CASE("invalid appends are refused before they reach the writer", "[message_log]",
                   ENGINES) {
    log_fixture<TestType> f;
    auto no_conversation = f.text("", 1, "x");
    auto out = f.append(no_conversation);
    REQUIRE_FALSE(out.has_value());
    REQUIRE(out.error().code == errc::invalid_argument);
    out = f.append(f.text("c", 1, ""));
    REQUIRE_FALSE(out.has_value());
    REQUIRE(out.error().code == errc::invalid_argument);
    out = f.append(f.text(std::string("a\0b", 3), 1, "x"));
    REQUIRE_FALSE(out.has_value());
    REQUIRE(out.error().code == errc::invalid_argument);
    auto op = f.text("c", 1, "y");
    op.update_target = [](const stored_message&) -> result<std::string> { return std::string(); };
    out = f.append(op);
    REQUIRE_FALSE(out.has_value());
    REQUIRE(out.error().code == errc::invalid_argument);
    REQUIRE(f.log->conversations().empty());
}

TEMPLATE_TEST_CASE("close completes pending appends and then refuses new ones", "[message_log]",
                   ENGINES) {
    log_fixture<TestType> f;
    std::atomic<int> ok{0};
    std::atomic<int> completed{0};
    for (int i = 0; i < 300; ++i) {
        f.log->append_async(f.text("c", 1, fmt::format("m{}", i)), [&](result<append_result> r) {
            if (r.has_value()) {
                ++ok;
            }
            ++completed;
        });
    }
    f.log->close();
    REQUIRE(completed == 300);
    REQUIRE(ok == 300);
    REQUIRE(f.log->last_seq("c") == 300);
    auto refused = f.append(f.text("c", 1, "late"));
    REQUIRE_FALSE(refused.has_value());
    REQUIRE(refused.error().code == errc::unavailable);
    // Reads keep working after close.
    REQUIRE(f.page_latest("c", 5).messages.size() == 5);
    if constexpr (TestType::durable) {
        f.reopen();
        REQUIRE(f.log->last_seq("c") == 300);
    }
}

TEMPLATE_TEST_CASE("the log exposes its metrics", "[message_log]", ENGINES) {
    log_fixture<TestType> f;
    for (int i = 0; i < 5; ++i) {
        f.must_append(f.text("c", 1, fmt::format("m{}", i)));
    }
    const std::string text = f.metrics.render();
    REQUIRE_THAT(text, Catch::Contains("monochat_storage_appends_total 5"));
    REQUIRE_THAT(text, Catch::Contains("monochat_storage_group_commit_size_count"));
    REQUIRE_THAT(text, Catch::Contains("monochat_storage_append_latency_seconds_count 5"));
    REQUIRE_THAT(text, Catch::Contains("monochat_queue_depth{queue=\"storage_append\"} 0"));
}

// ---- dropping a conversation (a deleted group) ----

namespace {

// Whether any file under `dir` holds `marker` (SST files, WAL files, anything).
bool files_hold(const fs::path& dir, const std::string& marker) {
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file()) {
            continue;
        }
        std::ifstream in(entry.path(), std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (bytes.find(marker) != std::string::npos) {
            return true;
        }
    }
    return false;
}

append_request reaction_on(append_request r, std::uint64_t target, std::string emoji) {
    r.target_seq = target;
    r.body = fmt::format(R"({{"type":"reaction","target_seq":{},"emoji":"{}"}})", target, emoji);
    r.reaction = reaction_change{std::move(emoji), true, 20};
    return r;
}

}  // namespace

TEMPLATE_TEST_CASE("a dropped conversation is gone and the others are intact", "[message_log]",
                   ENGINES) {
    log_fixture<TestType> f;
    for (int i = 0; i < 5; ++i) {
        f.must_append(f.text("group:7", 1, fmt::format("d{}", i),
                             fmt::format(R"({{"type":"text","text":"dropme-{}"}})", i)));
        f.must_append(f.text("group:70", 2, fmt::format("k{}", i),
                             fmt::format(R"({{"type":"text","text":"keepme-{}"}})", i)));
    }
    f.must_append(reaction_on(f.text("group:7", 2, "r1"), 1, "x"));
    f.must_append(reaction_on(f.text("group:70", 1, "r2"), 1, "y"));
    REQUIRE(f.log->last_seq("group:7") == 6);

    REQUIRE(run(f.log->drop_conversation("group:7")).has_value());

    CHECK(f.log->last_seq("group:7") == 0);
    CHECK(f.page_after("group:7", 0, 10).messages.empty());
    CHECK(f.page_latest("group:7", 10).messages.empty());
    auto gone = run(f.log->get("group:7", 1));
    REQUIRE_FALSE(gone.has_value());
    CHECK(gone.error().code == errc::not_found);
    auto reactors = run(f.log->reaction_users("group:7", 1, "x", 0, 10));
    REQUIRE(reactors.has_value());
    CHECK(reactors->user_ids.empty());
    for (const auto& [cid, last] : f.log->conversations()) {
        CHECK(cid != "group:7");
    }
    // Appends to it are refused from now on; a retry of a dropped message is no retry.
    auto late = f.append(f.text("group:7", 1, "late"));
    REQUIRE_FALSE(late.has_value());
    CHECK(late.error().code == errc::not_found);
    auto again = f.append(f.text("group:7", 1, "d0"));
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().code == errc::not_found);
    auto elsewhere = f.must_append(f.text("group:70", 1, "d1"));
    CHECK_FALSE(elsewhere.duplicate);
    CHECK(elsewhere.message.seq == 7);
    // A drop again (and of a conversation without messages) succeeds.
    CHECK(run(f.log->drop_conversation("group:7")).has_value());
    CHECK(run(f.log->drop_conversation("group:71")).has_value());
    CHECK(run(f.log->drop_conversation("")).error().code == errc::invalid_argument);

    // The neighbour is whole: its messages and reactions.
    auto kept = read_all(f, "group:70");
    REQUIRE(kept.size() == 7);
    CHECK(kept[0].body.find("keepme-0") != std::string::npos);
    auto kept_reactors = run(f.log->reaction_users("group:70", 1, "y", 0, 10));
    REQUIRE(kept_reactors.has_value());
    CHECK(kept_reactors->user_ids == std::vector<std::uint64_t>{1});

    if constexpr (TestType::durable) {
        // Gone from the files too (compacted and flushed when the drop completed), and after
        // a reopen.
        CHECK_FALSE(files_hold(f.options.path, "dropme-"));
        CHECK(files_hold(f.options.path, "keepme-"));
        f.reopen();
        CHECK(f.log->last_seq("group:7") == 0);
        CHECK(f.page_after("group:7", 0, 10).messages.empty());
        CHECK(read_all(f, "group:70").size() == 7);
        CHECK_FALSE(files_hold(f.options.path, "dropme-"));
    }
}

TEMPLATE_TEST_CASE("a drop is ordered with appends: before it dropped, after it not_found",
                   "[message_log]", ENGINES) {
    log_fixture<TestType> f;
    f.must_append(f.text("group:8", 1, "first"));
    auto& depth = f.metrics.get_gauge("monochat_queue_depth", "", {{"queue", "storage_append"}});
    const auto wait_depth = [&](double n) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (depth.value() < n && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        REQUIRE(depth.value() >= n);
    };
    f.hold_writer();  // one in the queue: the held append
    auto before = f.append_later(f.text("group:8", 1, "before"));
    wait_depth(2);
    auto dropped = std::async(std::launch::async,
                              [&] { return run(f.log->drop_conversation("group:8")); });
    wait_depth(3);
    auto after = f.append_later(f.text("group:8", 2, "after"));
    f.gate.release();
    auto b = before.get();
    REQUIRE(b.has_value());
    CHECK(b->message.seq == 2);  // committed, then dropped with the rest
    REQUIRE(dropped.get().has_value());
    auto a = after.get();
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::not_found);
    CHECK(f.log->last_seq("group:8") == 0);
    CHECK(f.page_after("group:8", 0, 10).messages.empty());
}

TEST_CASE("the RocksDB log keeps last_seq and messages across a reopen", "[message_log]") {
    log_fixture<rocksdb_engine> f;
    for (int i = 0; i < 3; ++i) {
        f.must_append(f.text("a", 1, fmt::format("a{}", i)));
    }
    f.must_append(f.text("b", 1, "b0"));
    f.must_append(f.text("b", 1, "b1"));
    f.reopen();
    REQUIRE(f.log->last_seq("a") == 3);
    REQUIRE(f.log->last_seq("b") == 2);
    auto convs = f.log->conversations();
    std::sort(convs.begin(), convs.end());
    REQUIRE(convs == std::vector<std::pair<std::string, std::uint64_t>>{{"a", 3}, {"b", 2}});
    REQUIRE(f.must_append(f.text("a", 1, "a3")).message.seq == 4);
    REQUIRE(f.must_append(f.text("c", 1, "c0")).message.seq == 1);
    f.reopen();
    REQUIRE(f.log->last_seq("a") == 4);
    REQUIRE(f.log->last_seq("c") == 1);
    REQUIRE(read_all(f, "a").size() == 4);
}

TEST_CASE("the RocksDB recent-message cache answers reads and counts hits and misses",
          "[message_log]") {
    log_fixture<rocksdb_engine> f;
    for (int i = 0; i < 10; ++i) {
        f.must_append(f.text("c", 1, fmt::format("m{}", i)));
    }
    auto& hits = f.metrics.get_counter("monochat_storage_cache_hits_total", "");
    auto& misses = f.metrics.get_counter("monochat_storage_cache_misses_total", "");
    auto& cached = f.metrics.get_gauge("monochat_storage_cache_messages", "");
    REQUIRE(cached.value() == 10);

    // Written messages are cached as they commit.
    REQUIRE(f.page_latest("c", 5).messages.size() == 5);
    REQUIRE(hits.value() == 1);
    REQUIRE(misses.value() == 0);

    // After a restart the first read misses and fills the cache; the next one hits.
    f.reopen();
    auto& hits2 = f.metrics.get_counter("monochat_storage_cache_hits_total", "");
    auto& misses2 = f.metrics.get_counter("monochat_storage_cache_misses_total", "");
    const auto hits_before = hits2.value();
    const auto misses_before = misses2.value();
    REQUIRE(seqs_of(f.page_latest("c", 4)) == iota(7, 10));
    REQUIRE(misses2.value() == misses_before + 1);
    REQUIRE(seqs_of(f.page_after("c", 7, 2)) == iota(8, 9));
    REQUIRE(hits2.value() == hits_before + 1);
    // A read below the cached run misses and extends it downwards.
    REQUIRE(seqs_of(f.page_before("c", 7, 6)) == iota(1, 6));
    REQUIRE(misses2.value() == misses_before + 2);
    REQUIRE(seqs_of(f.page_after("c", 0, 10)) == iota(1, 10));
    REQUIRE(hits2.value() == hits_before + 2);
    // A new message extends the cached run and is readable at once.
    f.must_append(f.text("c", 1, "m10"));
    REQUIRE(seqs_of(f.page_latest("c", 11)) == iota(1, 11));
    REQUIRE(hits2.value() == hits_before + 3);
}

TEST_CASE("the RocksDB cache stays within its bounds", "[message_log]") {
    log_fixture<rocksdb_engine> f;
    f.options.cache_conversations = 3;
    f.options.cache_messages_per_conversation = 4;
    f.reopen();
    for (int c = 0; c < 5; ++c) {
        for (int i = 0; i < 6; ++i) {
            f.must_append(f.text(fmt::format("c{}", c), 1, fmt::format("{}-{}", c, i)));
        }
    }
    auto& cached = f.metrics.get_gauge("monochat_storage_cache_messages", "");
    REQUIRE(cached.value() == 12);
    // Evicted and trimmed conversations still read correctly from disk.
    for (int c = 0; c < 5; ++c) {
        REQUIRE(seqs_of(f.page_latest(fmt::format("c{}", c), 6)) == iota(1, 6));
    }
    REQUIRE(cached.value() <= 12);
}

TEST_CASE("a RocksDB checkpoint opens as a log with the same messages", "[message_log]") {
    log_fixture<rocksdb_engine> f;
    for (int i = 0; i < 5; ++i) {
        f.must_append(f.text("c", 1, fmt::format("m{}", i)));
    }
    const auto copy = (f.dir.path / "backup").string();
    REQUIRE(f.log->checkpoint(copy).has_value());
    auto again = f.log->checkpoint(copy);
    REQUIRE_FALSE(again.has_value());
    REQUIRE(again.error().code == errc::invalid_argument);
    f.must_append(f.text("c", 1, "after-checkpoint"));

    auto options = f.options;
    options.path = copy;
    infra::metrics_registry other_metrics;
    options.metrics = &other_metrics;
    auto restored = open_rocksdb_message_log(options);
    REQUIRE(restored.has_value());
    REQUIRE((*restored)->last_seq("c") == 5);
    auto page = run((*restored)->read_after("c", 0, 10));
    REQUIRE(page.has_value());
    REQUIRE(seqs_of(*page) == iota(1, 5));
}

TEST_CASE("the memory log has no checkpoint", "[message_log]") {
    auto log = make_memory_message_log();
    auto out = log->checkpoint("/nonexistent/never-created");
    REQUIRE_FALSE(out.has_value());
    REQUIRE(out.error().code == errc::unavailable);
}

TEST_CASE("a second open of a RocksDB log directory fails with unavailable", "[message_log]") {
    log_fixture<rocksdb_engine> f;
    auto second = open_rocksdb_message_log(f.options);
    REQUIRE_FALSE(second.has_value());
    REQUIRE(second.error().code == errc::unavailable);
}

TEST_CASE("message log options come from the configuration", "[message_log]") {
    infra::storage_options storage;
    storage.data_dir = "/var/lib/monochat";
    storage.sync = "none";
    storage.max_batch = 77;
    storage.cache_conversations = 5;
    storage.cache_messages_per_conversation = 6;
    storage.block_cache_mb = 8;
    infra::policy_options policy;
    policy.idempotency_window_s = 42;
    infra::manual_clock clock;
    infra::metrics_registry metrics;
    auto o = message_log_options_from_config(storage, policy, clock, metrics);
    REQUIRE(o.has_value());
    REQUIRE(o->path == "/var/lib/monochat/messages");
    REQUIRE(o->sync == sync_mode::none);
    REQUIRE(o->max_batch == 77);
    REQUIRE(o->cache_conversations == 5);
    REQUIRE(o->cache_messages_per_conversation == 6);
    REQUIRE(o->block_cache_mb == 8);
    REQUIRE(o->idempotency_window_s == 42);
    REQUIRE(o->clock == &clock);
    REQUIRE(o->metrics == &metrics);

    storage.sync = "sometimes";
    auto bad = message_log_options_from_config(storage, policy, clock, metrics);
    REQUIRE_FALSE(bad.has_value());
    REQUIRE(bad.error().code == errc::invalid_argument);
    REQUIRE_THAT(bad.error().message, Catch::Contains("storage.sync"));
}
