// Rewrites for good (issue 17, message_log.hpp "Rewrites for good"): an operation rewrites its
// target and related messages in the same commit, a failed one changes nothing, and a RocksDB
// checkpoint taken after the commit holds only the rewritten forms, even when older SST files
// held the old ones.

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include <optional>
#include <string>
#include <vector>

#include "unit/storage/message_log_test_support.hpp"

namespace {

namespace net = boost::asio;
namespace fs = std::filesystem;
using namespace monochat;
using namespace monochat::storage;

// A scratch directory named for this suite.
struct scratch_dir : test::scratch_dir {
    scratch_dir() : test::scratch_dir("rewrite") {}
};

using test::run;

append_request text(const std::string& cmid, const std::string& body) {
    append_request a;
    a.conversation_id = "dm:1:2";
    a.sender_id = 1;
    a.client_msg_id = cmid;
    a.message_id = 1000 + std::hash<std::string>{}(cmid) % 1000;
    a.ts_ms = 1;
    a.body = body;
    return a;
}

// An "edit" that the target remembers (state = the op seqs so far, comma-separated).
append_request remembered_edit(const std::string& cmid, const std::string& body) {
    auto a = text(cmid, body);
    a.target_seq = 1;
    a.update_target_at = [](const stored_message& t, std::uint64_t op_seq) -> result<std::string> {
        return t.state + (t.state.empty() ? "" : ",") + std::to_string(op_seq);
    };
    return a;
}

std::vector<std::uint64_t> seqs_in(const std::string& state) {
    std::vector<std::uint64_t> out;
    std::size_t at = 0;
    while (at < state.size()) {
        const auto comma = state.find(',', at);
        out.push_back(std::stoull(state.substr(at, comma - at)));
        at = comma == std::string::npos ? state.size() : comma + 1;
    }
    return out;
}

append_request scrubbing_recall(const std::string& cmid) {
    auto a = text(cmid, "recall");
    a.target_seq = 1;
    a.update_target = [](const stored_message&) -> result<std::string> {
        return std::string("recalled");
    };
    a.related = [](const stored_message& t) { return seqs_in(t.state); };
    a.rewrite = [](stored_message& m) {
        m.body = "gone";
        m.state = "recalled";
    };
    return a;
}

bool tree_contains(const fs::path& dir, const std::string& needle) {
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file()) {
            continue;
        }
        std::ifstream in(entry.path(), std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (bytes.find(needle) != std::string::npos) {
            return true;
        }
    }
    return false;
}

void check_rewritten(message_log& log) {
    for (const std::uint64_t seq : {1, 2, 3}) {
        INFO("seq " << seq);
        auto m = run(log.get("dm:1:2", seq));
        REQUIRE(m.has_value());
        CHECK(m->body == "gone");
        CHECK(m->state == "recalled");
    }
    auto page = run(log.read_latest("dm:1:2", 10));
    REQUIRE(page.has_value());
    REQUIRE(page->messages.size() == 5);
    CHECK(page->messages[0].body == "gone");
    CHECK(page->messages[2].body == "gone");
    CHECK(page->messages[3].body == "zq81untouched");  // not an edit of the target
    CHECK(page->messages[4].body == "recall");
}

void write_history(message_log& log, const std::function<void()>& between = [] {}) {
    REQUIRE(run(log.append(text("t", "kx93original"))).has_value());
    between();
    auto e1 = run(log.append(remembered_edit("e1", "vb27alpha")));
    REQUIRE(e1.has_value());
    CHECK(e1->message.seq == 2);
    auto e2 = run(log.append(remembered_edit("e2", "pq55omega")));
    REQUIRE(e2.has_value());
    REQUIRE(run(log.append(text("o", "zq81untouched"))).has_value());
    between();
    auto t = run(log.get("dm:1:2", 1));
    REQUIRE(t.has_value());
    CHECK(t->state == "2,3");  // each edit was told its own seq
}

}  // namespace

TEST_CASE("a rewriting operation rewrites its target and the messages it names, in one commit",
          "[message_log][rewrite]") {
    auto log = make_memory_message_log();
    write_history(*log);
    auto r = run(log->append(scrubbing_recall("r")));
    REQUIRE(r.has_value());
    CHECK(r->message.seq == 5);
    check_rewritten(*log);
}

TEST_CASE("a rewriting operation that fails changes nothing", "[message_log][rewrite]") {
    auto log = make_memory_message_log();
    write_history(*log);
    auto failing = scrubbing_recall("r");
    failing.update_target = [](const stored_message&) -> result<std::string> {
        return make_error(errc::forbidden, "no");
    };
    CHECK(run(log->append(std::move(failing))).error().code == errc::forbidden);
    auto throwing = scrubbing_recall("r2");
    throwing.related = [](const stored_message&) -> std::vector<std::uint64_t> {
        throw std::runtime_error("bad state");
    };
    CHECK(run(log->append(std::move(throwing))).error().code == errc::internal);
    CHECK(log->last_seq("dm:1:2") == 4);
    auto edit = run(log->get("dm:1:2", 2));
    REQUIRE(edit.has_value());
    CHECK(edit->body == "vb27alpha");
    // Both update functions at once, or a rewrite without one, are refused.
    auto both = remembered_edit("b", "x");
    both.update_target = [](const stored_message&) -> result<std::string> { return std::string(); };
    CHECK(run(log->append(std::move(both))).error().code == errc::invalid_argument);
    auto bare = text("c", "x");
    bare.target_seq = 1;
    bare.rewrite = [](stored_message&) {};
    CHECK(run(log->append(std::move(bare))).error().code == errc::invalid_argument);
}

TEST_CASE("a checkpoint after a rewrite holds no old version, even one an older file held",
          "[message_log][rewrite][rocksdb]") {
    scratch_dir dir;
    message_log_options options;
    options.path = (dir.path / "db").string();
    options.sync = sync_mode::none;
    std::optional<fs::path> early;
    int checkpoints = 0;
    {
        auto opened = open_rocksdb_message_log(options);
        REQUIRE(opened.has_value());
        auto& log = **opened;
        // Each checkpoint flushes: the old versions land in SST files that outlive the rewrite
        // unless the log compacts them away.
        write_history(log, [&] {
            const auto cp = dir.path / fmt::format("cp{}", checkpoints++);
            REQUIRE(log.checkpoint(cp.string()).has_value());
            early = cp;
        });
        REQUIRE(early);
        // The check below can see text: the early checkpoint shows every old version.
        for (const char* old : {"kx93original", "vb27alpha", "pq55omega"}) {
            INFO(old);
            CHECK(tree_contains(*early, old));
        }
        REQUIRE(run(log.append(scrubbing_recall("r"))).has_value());
        check_rewritten(log);
        const auto after = dir.path / "after";
        REQUIRE(log.checkpoint(after.string()).has_value());
        for (const char* old : {"kx93original", "vb27alpha", "pq55omega"}) {
            INFO(old);
            CHECK_FALSE(tree_contains(after, old));
        }
        CHECK(tree_contains(after, "zq81untouched"));
    }
    // Reopened, the log reads the rewritten forms.
    auto reopened = open_rocksdb_message_log(options);
    REQUIRE(reopened.has_value());
    check_rewritten(**reopened);
}
