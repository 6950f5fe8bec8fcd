// The search indexer over the real pieces (memory message log, SQLite index):
// live events, edits and recalls, catch-up from the log after a "crash", gaps, a full queue,
// an index ahead of its log, and the batch delay.

#include <catch2/catch.hpp>
#include <future>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include <monochat/storage/search_index.hpp>
#include <monochat/task/search_indexer.hpp>
#include <string>
#include <thread>
#include <vector>

#include "unit/storage/social_test_support.hpp"

using namespace monochat;
using namespace std::chrono_literals;
using storage::test::scratch_dir;
using storage::test::value_of;

namespace {

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) {
            return true;
        }
        std::this_thread::sleep_for(5ms);
    }
    return pred();
}

std::string text_body(const std::string& text) {
    return R"({"type":"text","text":")" + text + R"("})";
}

struct indexer_fixture {
    scratch_dir dir;
    infra::system_clock clock;
    infra::metrics_registry metrics;
    std::unique_ptr<storage::message_log> log = storage::make_memory_message_log();
    std::unique_ptr<storage::search_index> index;
    std::unique_ptr<task::search_indexer> indexer;
    std::uint64_t next_id = 1;
    int cmid = 0;

    indexer_fixture() {
        open_index();
    }
    ~indexer_fixture() {
        if (indexer) {
            indexer->stop();
        }
    }

    void open_index() {
        storage::sqlite_search_index_options o;
        o.path = dir.file("search.db");
        index = value_of(storage::open_sqlite_search_index(o, metrics));
    }

    void start(task::search_indexer_options o = {}) {
        indexer = std::make_unique<task::search_indexer>(*log, *index, clock, metrics, o);
        value_of(indexer->start());
    }

    void stop() {
        indexer->stop();
        indexer.reset();
    }

    storage::stored_message append(const std::string& cid, std::string body,
                                   std::uint64_t target_seq = 0) {
        storage::append_request r;
        r.conversation_id = cid;
        r.sender_id = 1;
        // Not "m" + std::to_string(): GCC 12 at -O3 warns on it (-Wrestrict, a false positive).
        r.client_msg_id = std::to_string(++cmid);
        r.client_msg_id.insert(0, 1, 'm');
        r.message_id = next_id++;
        r.ts_ms = clock.now_ms();
        r.body = std::move(body);
        r.target_seq = target_seq;
        if (target_seq != 0) {
            const bool recall = r.body.find("recall") != std::string::npos;
            r.update_target = [recall, text = r.body](const storage::stored_message&)
                -> result<std::string> {
                if (recall) {
                    return std::string(R"({"recalled":true})");
                }
                const auto at = text.find(R"("text":")");
                return R"({"edited_at":1,"text":")" + text.substr(at + 8, text.size() - at - 10) +
                       R"("})";
            };
        }
        std::promise<result<storage::append_result>> p;
        auto f = p.get_future();
        log->append_async(std::move(r), [&p](result<storage::append_result> res) {
            p.set_value(std::move(res));
        });
        return value_of(f.get()).message;
    }

    std::vector<std::uint64_t> seqs(const std::string& q, const std::string& cid = "world") {
        storage::search_request r;
        r.query = value_of(storage::parse_search_query(q));
        r.scope.conversations = {cid};
        // On the shared long-lived io_context: a per-test one could be destroyed while a reader
        // thread is still returning from posting the completion to it.
        auto hits = storage::test::run(index->search(std::move(r)));
        std::vector<std::uint64_t> out;
        for (const auto& h : value_of(std::move(hits))) {
            out.push_back(h.seq);
        }
        return out;
    }

    std::uint64_t indexed_total() {
        return metrics.get_counter("monochat_search_indexed_total", "").value();
    }

    bool caught_up() { return indexer->caught_up(); }
};

using seq_list = std::vector<std::uint64_t>;

}  // namespace

TEST_CASE("persisted text messages become searchable", "[task][search]") {
    indexer_fixture f;
    f.start();
    f.append("world", text_body("hello search"));
    f.append("world", R"({"type":"reaction","target_seq":1,"emoji":"x","op":"add"})", 0);
    f.append("group:5", text_body("hello group"));
    REQUIRE(eventually([&] { return f.caught_up(); }));
    CHECK(f.seqs("hello") == seq_list{1});
    CHECK(f.seqs("hello", "group:5") == seq_list{1});
    CHECK(f.indexed_total() == 3);
    // The reaction moved the position without an entry.
    auto p = value_of(f.index->positions());
    CHECK(std::find(p.begin(), p.end(), std::pair<std::string, std::uint64_t>{"world", 2}) != p.end());
}

TEST_CASE("an edit replaces its target's text and a recall removes it", "[task][search]") {
    indexer_fixture f;
    f.start();
    f.append("world", text_body("first draft"));
    f.append("world", text_body("secret message"));
    f.append("world", R"({"type":"edit","target_seq":1,"text":"final version"})", 1);
    f.append("world", R"({"type":"recall","target_seq":2})", 2);
    REQUIRE(eventually([&] { return f.caught_up(); }));
    CHECK(f.seqs("draft").empty());
    CHECK(f.seqs("final") == seq_list{1});
    CHECK(f.seqs("secret").empty());
}

TEST_CASE("messages committed while the indexer was down are read from the log at start",
          "[task][search]") {
    indexer_fixture f;
    f.start();
    f.append("world", text_body("before the crash"));
    REQUIRE(eventually([&] { return f.caught_up(); }));
    f.stop();

    // The process "dies" between the commits and the indexing of these (no indexer listens):
    f.append("world", text_body("lost in the bus one"));
    f.append("group:1", text_body("lost in the bus two"));
    f.append("world", text_body("edited later"));
    f.append("world", R"({"type":"edit","target_seq":3,"text":"edited while down"})", 3);
    f.append("world", text_body("recalled while down"));
    f.append("world", R"({"type":"recall","target_seq":5})", 5);
    f.open_index();  // a reopened file, as after a restart
    const auto before = f.indexed_total();
    f.start();
    REQUIRE(eventually([&] { return f.caught_up(); }));
    CHECK(f.seqs("lost") == seq_list{2});
    CHECK(f.seqs("lost", "group:1") == seq_list{1});
    CHECK(f.seqs("edited") == seq_list{3});
    CHECK(f.seqs("while") == seq_list{3});
    CHECK(f.seqs("later").empty());
    CHECK(f.seqs("recalled").empty());
    CHECK(f.seqs("before") == seq_list{1});
    // Only what was missing was read: seqs 2..6 of world and 1 of group:1.
    CHECK(f.indexed_total() - before == 6);
}

// The overflow also makes gaps in the live messages (seq past position + 1), which are filled
// from the log.
TEST_CASE("a full queue loses nothing: the overflow is read from the log", "[task][search]") {
    indexer_fixture f;
    task::search_indexer_options o;
    o.queue_capacity = 2;
    o.max_batch = 3;
    f.start(o);
    for (int i = 0; i < 200; ++i) {
        f.append(i % 2 == 0 ? "world" : "group:9", text_body("flood " + std::to_string(i)));
    }
    REQUIRE(eventually([&] { return f.caught_up(); }));
    CHECK(f.seqs("flood").size() == 50);  // the index caps nothing, the default limit does
    CHECK(f.seqs("199", "group:9") == seq_list{100});
    CHECK(f.seqs("0") == seq_list{1});
    CHECK(f.indexed_total() == 200);
}

TEST_CASE("an index ahead of its log forgets those conversations and reindexes them",
          "[task][search]") {
    indexer_fixture f;
    storage::search_batch stale;
    stale.changes.push_back({storage::search_change_kind::add, "world", 7, 999, "stale entry"});
    stale.positions.emplace_back("world", 7);
    value_of(f.index->apply(stale));
    f.append("world", text_body("the real first message"));  // before the indexer starts
    f.start();
    REQUIRE(eventually([&] { return f.caught_up(); }));
    CHECK(f.seqs("stale").empty());
    CHECK(f.seqs("real") == seq_list{1});
}

TEST_CASE("the batch delay holds a batch back, stop writes what is queued", "[task][search]") {
    indexer_fixture f;
    task::search_indexer_options o;
    o.batch_delay = 60000ms;
    f.start(o);
    f.append("world", text_body("delayed words"));
    std::this_thread::sleep_for(200ms);
    CHECK(f.seqs("delayed").empty());
    f.stop();
    CHECK(f.seqs("delayed") == seq_list{1});
}

TEST_CASE("a batch reaching max_batch does not wait for the delay", "[task][search]") {
    indexer_fixture f;
    task::search_indexer_options o;
    o.batch_delay = 60000ms;
    o.max_batch = 4;
    f.start(o);
    for (int i = 0; i < 4; ++i) {
        f.append("world", text_body("full batch"));
    }
    REQUIRE(eventually([&] { return f.seqs("full").size() == 4; }));
}

TEST_CASE("the indexer reports its metrics", "[task][search]") {
    indexer_fixture f;
    f.start();
    f.append("world", text_body("measured"));
    REQUIRE(eventually([&] { return f.caught_up(); }));
    const auto text = f.metrics.render();
    CHECK(text.find("monochat_search_indexed_total 1") != std::string::npos);
    CHECK(text.find("monochat_search_index_lag_seconds 0") != std::string::npos);
    CHECK(text.find("monochat_search_batch_size_count 1") != std::string::npos);
    CHECK(text.find(R"(monochat_queue_depth{queue="search_indexer"} 0)") != std::string::npos);
}
