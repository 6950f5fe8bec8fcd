// Reactions in the message log (message_log.hpp, "Reactions"; reaction_index.hpp), run against
// both engines: the bounded summary next to the target, one index entry per reaction, the
// batch-local view of the writer, the kinds limit, clearing, durability and the migration of
// data dirs written before the index.

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/message_codec.hpp"
#include "storage/reaction_index.hpp"

#include "unit/storage/message_log_test_support.hpp"

namespace {

namespace net = boost::asio;
namespace fs = std::filesystem;
using namespace monochat;
using namespace monochat::storage;

// A scratch directory named for this suite.
struct temp_dir : test::scratch_dir {
    temp_dir() : test::scratch_dir("reactions") {}
};

using test::run;

struct memory_engine {
    static constexpr bool durable = false;
    static std::unique_ptr<message_log> open(const message_log_options& o) {
        return make_memory_message_log(o);
    }
};

struct rocksdb_engine {
    static constexpr bool durable = true;
    static std::unique_ptr<message_log> open(const message_log_options& o) {
        auto log = open_rocksdb_message_log(o);
        REQUIRE(log.has_value());
        return std::move(*log);
    }
};

// Holds the writer inside the commit listener so that appends queued meanwhile form one group.
struct writer_gate {
    std::mutex mutex;
    std::condition_variable cv;
    bool armed = false;
    bool entered = false;
    bool released = false;

    void pass() {
        std::unique_lock lock(mutex);
        if (!armed) {
            return;
        }
        armed = false;
        entered = true;
        cv.notify_all();
        cv.wait(lock, [&] { return released; });
    }
};

constexpr const char* thumbs = "\xF0\x9F\x91\x8D";         // U+1F44D
constexpr const char* heart = "\xE2\x9D\xA4\xEF\xB8\x8F";  // U+2764 U+FE0F

template <class Engine>
struct fixture {
    temp_dir dir;
    infra::manual_clock clock;
    infra::metrics_registry metrics;
    message_log_options options;
    std::unique_ptr<message_log> log;
    writer_gate gate;
    std::uint64_t next_id = 1;

    fixture() {
        options.path = (dir.path / "messages").string();
        options.clock = &clock;
        options.metrics = &metrics;
        open();
    }

    void open() {
        log = Engine::open(options);
        log->add_commit_listener([this](const commit_event&) { gate.pass(); });
    }

    void reopen() {
        log.reset();
        open();
    }

    append_request text(std::uint64_t sender) {
        append_request r;
        r.conversation_id = "group:1";
        r.sender_id = sender;
        r.client_msg_id = fmt::format("m-{}", next_id);
        r.message_id = next_id++;
        r.ts_ms = clock.now_ms();
        r.body = R"({"type":"text","text":"hi"})";
        return r;
    }

    append_request reaction(std::uint64_t user, std::uint64_t target, std::string emoji,
                            bool add = true, std::size_t max_kinds = 20) {
        append_request r = text(user);
        r.body = R"({"type":"reaction"})";
        r.target_seq = target;
        r.reaction = reaction_change{std::move(emoji), add, max_kinds};
        return r;
    }

    result<append_result> append(append_request r) { return run(log->append(std::move(r))); }

    void must(append_request r) { REQUIRE(append(std::move(r)).has_value()); }

    std::future<result<append_result>> later(append_request r) {
        auto promise = std::make_shared<std::promise<result<append_result>>>();
        auto future = promise->get_future();
        log->append_async(std::move(r), [promise](result<append_result> out) {
            promise->set_value(std::move(out));
        });
        return future;
    }

    void hold_writer() {
        {
            std::lock_guard lock(gate.mutex);
            gate.armed = true;
            gate.entered = false;
            gate.released = false;
        }
        log->append_async(text(999), [](result<append_result>) {});
        std::unique_lock lock(gate.mutex);
        REQUIRE(gate.cv.wait_for(lock, std::chrono::seconds(10), [&] { return gate.entered; }));
    }

    void release_writer() {
        std::lock_guard lock(gate.mutex);
        gate.released = true;
        gate.cv.notify_all();
    }

    stored_message get(std::uint64_t seq) {
        auto m = run(log->get("group:1", seq));
        REQUIRE(m.has_value());
        return std::move(*m);
    }

    std::vector<std::uint64_t> all_users(std::uint64_t seq, const std::string& emoji,
                                         std::size_t page_size = 7) {
        std::vector<std::uint64_t> out;
        std::uint64_t after = 0;
        for (;;) {
            auto page = run(log->reaction_users("group:1", seq, emoji, after, page_size));
            REQUIRE(page.has_value());
            out.insert(out.end(), page->user_ids.begin(), page->user_ids.end());
            if (!page->has_more) {
                return out;
            }
            REQUIRE_FALSE(page->user_ids.empty());
            after = page->user_ids.back();
        }
    }
};

std::vector<std::uint64_t> firsts(const reaction_kind& k) {
    std::vector<std::uint64_t> out;
    for (const auto& r : k.first) {
        out.push_back(r.user_id);
    }
    return out;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
    std::vector<std::uint64_t> out;
    for (auto u = first; u <= last; ++u) {
        out.push_back(u);
    }
    return out;
}

}  // namespace

TEMPLATE_TEST_CASE("a reaction is an index entry and the target keeps a bounded summary",
                   "[reactions]", memory_engine, rocksdb_engine) {
    fixture<TestType> f;
    f.must(f.text(1));
    // Users react in descending id order, so reaction order and id order differ.
    for (std::uint64_t u = 40; u >= 16; --u) {
        f.must(f.reaction(u, 1, thumbs));
    }
    f.must(f.reaction(7, 1, heart));

    const auto check = [&] {
        const auto m = f.get(1);
        REQUIRE(m.reactions.size() == 2);
        REQUIRE(m.reactions[0].emoji == thumbs);
        REQUIRE(m.reactions[0].count == 25);
        REQUIRE(firsts(m.reactions[0]) ==
                std::vector<std::uint64_t>{40, 39, 38, 37, 36, 35, 34, 33, 32, 31});
        REQUIRE(m.reactions[1].emoji == heart);
        REQUIRE(m.reactions[1].count == 1);
        REQUIRE(firsts(m.reactions[1]) == std::vector<std::uint64_t>{7});
        REQUIRE(f.all_users(1, thumbs) == range(16, 40));
        REQUIRE(f.all_users(1, heart) == std::vector<std::uint64_t>{7});
        REQUIRE(f.all_users(1, "\xF0\x9F\x98\x80").empty());

        auto mine = run(f.log->has_reacted("group:1", 20, {{1, thumbs}, {1, heart}, {2, thumbs}}));
        REQUIRE(mine.has_value());
        REQUIRE(*mine == std::vector<bool>{true, false, false});
        // The operation messages carry no summary of their own.
        REQUIRE(f.get(2).reactions.empty());
    };
    check();
    if constexpr (TestType::durable) {
        f.reopen();
        check();
    }
}

TEMPLATE_TEST_CASE("adding a reaction twice or removing an absent one changes nothing",
                   "[reactions]", memory_engine, rocksdb_engine) {
    fixture<TestType> f;
    f.must(f.text(1));
    f.must(f.reaction(5, 1, thumbs));
    f.must(f.reaction(5, 1, thumbs));
    f.must(f.reaction(6, 1, thumbs, false));
    f.must(f.reaction(6, 1, heart, false));
    auto m = f.get(1);
    REQUIRE(m.reactions.size() == 1);
    REQUIRE(m.reactions[0].count == 1);
    REQUIRE(firsts(m.reactions[0]) == std::vector<std::uint64_t>{5});
    // Every operation is still a message of its own.
    REQUIRE(f.log->last_seq("group:1") == 5);

    f.must(f.reaction(5, 1, thumbs, false));
    REQUIRE(f.get(1).reactions.empty());
    REQUIRE(f.all_users(1, thumbs).empty());
}

TEMPLATE_TEST_CASE("removing one of the first reactors moves the next one up", "[reactions]",
                   memory_engine, rocksdb_engine) {
    fixture<TestType> f;
    f.must(f.text(1));
    for (std::uint64_t u = 1; u <= 13; ++u) {
        f.must(f.reaction(u, 1, thumbs));
    }
    f.must(f.reaction(3, 1, thumbs, false));
    auto m = f.get(1);
    REQUIRE(m.reactions[0].count == 12);
    REQUIRE(firsts(m.reactions[0]) == std::vector<std::uint64_t>{1, 2, 4, 5, 6, 7, 8, 9, 10, 11});
    // A reactor beyond the first ten leaves: the list stays.
    f.must(f.reaction(12, 1, thumbs, false));
    m = f.get(1);
    REQUIRE(m.reactions[0].count == 11);
    REQUIRE(firsts(m.reactions[0]) == std::vector<std::uint64_t>{1, 2, 4, 5, 6, 7, 8, 9, 10, 11});
    // 3 comes back: last in reaction order now.
    f.must(f.reaction(3, 1, thumbs));
    f.must(f.reaction(1, 1, thumbs, false));
    f.must(f.reaction(2, 1, thumbs, false));
    m = f.get(1);
    REQUIRE(m.reactions[0].count == 10);
    REQUIRE(firsts(m.reactions[0]) == std::vector<std::uint64_t>{4, 5, 6, 7, 8, 9, 10, 11, 13, 3});
    REQUIRE(f.all_users(1, thumbs) == std::vector<std::uint64_t>{3, 4, 5, 6, 7, 8, 9, 10, 11, 13});
}

TEMPLATE_TEST_CASE("a new emoji past max_kinds is conflict and consumes no seq", "[reactions]",
                   memory_engine, rocksdb_engine) {
    fixture<TestType> f;
    f.must(f.text(1));
    f.must(f.reaction(5, 1, thumbs, true, 2));
    f.must(f.reaction(5, 1, heart, true, 2));
    const auto last = f.log->last_seq("group:1");
    auto refused = f.append(f.reaction(6, 1, "\xF0\x9F\x98\x80", true, 2));
    REQUIRE_FALSE(refused.has_value());
    REQUIRE(refused.error().code == errc::conflict);
    REQUIRE(f.log->last_seq("group:1") == last);
    // An emoji the message already has is still welcome.
    f.must(f.reaction(6, 1, heart, true, 2));
    const auto m = f.get(1);
    REQUIRE(m.reactions.size() == 2);
    REQUIRE(m.reactions[1].count == 2);
    REQUIRE(f.all_users(1, "\xF0\x9F\x98\x80").empty());
}

TEMPLATE_TEST_CASE("reactions in one group commit see each other", "[reactions]", memory_engine,
                   rocksdb_engine) {
    fixture<TestType> f;
    f.must(f.text(1));
    for (std::uint64_t u = 1; u <= 11; ++u) {
        f.must(f.reaction(u, 1, thumbs));
    }
    f.hold_writer();
    std::vector<std::future<result<append_result>>> pending;
    // In one group: 1 and 2 leave (11 and 12 move up), 12 and 13 join, 13 leaves again, 12
    // adds twice, and a kind is added and removed.
    pending.push_back(f.later(f.reaction(1, 1, thumbs, false)));
    pending.push_back(f.later(f.reaction(12, 1, thumbs)));
    pending.push_back(f.later(f.reaction(2, 1, thumbs, false)));
    pending.push_back(f.later(f.reaction(13, 1, thumbs)));
    pending.push_back(f.later(f.reaction(13, 1, thumbs, false)));
    pending.push_back(f.later(f.reaction(12, 1, thumbs)));
    pending.push_back(f.later(f.reaction(4, 1, heart)));
    pending.push_back(f.later(f.reaction(4, 1, heart, false)));
    f.release_writer();
    for (auto& p : pending) {
        REQUIRE(p.get().has_value());
    }
    const auto check = [&] {
        const auto m = f.get(1);
        REQUIRE(m.reactions.size() == 1);
        REQUIRE(m.reactions[0].count == 10);
        REQUIRE(firsts(m.reactions[0]) == range(3, 12));
        REQUIRE(f.all_users(1, thumbs) == range(3, 12));
    };
    check();
    if constexpr (TestType::durable) {
        f.reopen();
        check();
    }
}

TEMPLATE_TEST_CASE("clear_reactions drops every reaction of the target", "[reactions]",
                   memory_engine, rocksdb_engine) {
    fixture<TestType> f;
    f.must(f.text(1));
    f.must(f.text(1));
    for (std::uint64_t u = 1; u <= 30; ++u) {
        f.must(f.reaction(u, 1, thumbs));
        f.must(f.reaction(u, 2, thumbs));
    }
    auto recall = f.text(1);
    recall.target_seq = 1;
    recall.clear_reactions = true;
    f.must(std::move(recall));
    REQUIRE(f.get(1).reactions.empty());
    REQUIRE(f.all_users(1, thumbs).empty());
    // The neighbour keeps its own.
    REQUIRE(f.get(2).reactions[0].count == 30);
    REQUIRE(f.all_users(2, thumbs) == range(1, 30));
    // A reaction after the clear starts afresh.
    f.must(f.reaction(9, 1, thumbs));
    REQUIRE(f.get(1).reactions[0].count == 1);
    REQUIRE(f.all_users(1, thumbs) == std::vector<std::uint64_t>{9});
}

TEMPLATE_TEST_CASE("a failed target check stages no reaction", "[reactions]", memory_engine,
                   rocksdb_engine) {
    fixture<TestType> f;
    f.must(f.text(1));
    auto r = f.reaction(5, 1, thumbs);
    r.update_target = [](const stored_message&) -> result<std::string> {
        return make_error(errc::forbidden, "recalled");
    };
    auto refused = f.append(std::move(r));
    REQUIRE_FALSE(refused.has_value());
    REQUIRE(refused.error().code == errc::forbidden);
    REQUIRE(f.get(1).reactions.empty());
    REQUIRE(f.all_users(1, thumbs).empty());
}

TEST_CASE("the message codec keeps a reaction summary and still reads v1 values", "[reactions]") {
    stored_message m;
    m.conversation_id = "group:1";
    m.seq = 3;
    m.message_id = 77;
    m.sender_id = 5;
    m.client_msg_id = "c";
    m.body = R"({"type":"text","text":"hi"})";
    const std::string v1 = codec::encode_message(m);
    REQUIRE(v1.front() == 1);
    m.reactions.push_back(reaction_kind{thumbs, 12, {{4, 1}, {9, 2}}, 13});
    const std::string v2 = codec::encode_message(m);
    REQUIRE(v2.front() == 2);
    auto back = codec::decode_message(v2, "group:1", 3);
    REQUIRE(back.has_value());
    REQUIRE(back->reactions == m.reactions);
    auto old = codec::decode_message(v1, "group:1", 3);
    REQUIRE(old.has_value());
    REQUIRE(old->reactions.empty());
    // A truncated summary is corrupt, never a crash or a huge allocation.
    for (std::size_t n = v1.size(); n < v2.size(); ++n) {
        REQUIRE_FALSE(codec::decode_message(v2.substr(0, n), "group:1", 3).has_value());
    }
}

TEST_CASE("a data dir from before the reaction index migrates at open", "[reactions]") {
    fixture<rocksdb_engine> f;
    f.must(f.text(1));
    f.must(f.text(1));
    // The old shape: reactions inside the state, as the previous operation rules wrote it.
    auto legacy = f.text(1);
    legacy.target_seq = 1;
    legacy.update_target = [](const stored_message&) -> result<std::string> {
        return std::string(R"({"edited_at":5,"reactions":{"\u2764\ufe0f":["8"],)"
                           R"("\ud83d\udc4d":["3","1","2","4","5","6","7","8","9","10","11"]},)"
                           R"("text":"new"})");
    };
    f.must(std::move(legacy));
    f.log.reset();
    {
        // Forget that this data dir was migrated (the marker the first open wrote).
        rocksdb::DB* raw = nullptr;
        rocksdb::Options o;
        std::vector<rocksdb::ColumnFamilyDescriptor> families;
        for (const char* name :
             {"default", "messages", "idempotency", "conversations", "reactions", "sent"}) {
            families.emplace_back(name, rocksdb::ColumnFamilyOptions());
        }
        std::vector<rocksdb::ColumnFamilyHandle*> handles;
        REQUIRE(rocksdb::DB::Open(o, f.options.path, families, &handles, &raw).ok());
        REQUIRE(raw->Delete(rocksdb::WriteOptions(), handles[0], "reactions_index_v1").ok());
        for (auto* h : handles) {
            REQUIRE(raw->DestroyColumnFamilyHandle(h).ok());
        }
        delete raw;
    }
    f.open();
    auto m = f.get(1);
    REQUIRE(m.state == R"({"edited_at":5,"text":"new"})");
    REQUIRE(m.reactions.size() == 2);
    const auto& thumb_kind = m.reactions[0].emoji == thumbs ? m.reactions[0] : m.reactions[1];
    REQUIRE(thumb_kind.count == 11);
    REQUIRE(firsts(thumb_kind) == std::vector<std::uint64_t>{3, 1, 2, 4, 5, 6, 7, 8, 9, 10});
    REQUIRE(f.all_users(1, thumbs) == range(1, 11));
    // The migrated reactions behave like new ones.
    f.must(f.reaction(3, 1, thumbs, false));
    f.must(f.reaction(12, 1, thumbs));
    m = f.get(1);
    const auto& after = m.reactions[0].emoji == thumbs ? m.reactions[0] : m.reactions[1];
    REQUIRE(after.count == 11);
    REQUIRE(firsts(after) == std::vector<std::uint64_t>{1, 2, 4, 5, 6, 7, 8, 9, 10, 11});
    REQUIRE(f.get(2).reactions.empty());
}
