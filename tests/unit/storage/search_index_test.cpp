// The SQLite FTS5 search index: what is found (languages, phrases, prefixes), edits and
// recalls, scopes, order and limit, positions across a reopen, and all-or-nothing batches.

#include <catch2/catch.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/search_index.hpp>
#include <set>
#include <string>
#include <vector>

#include "unit/storage/social_test_support.hpp"

using namespace monochat;
using namespace monochat::storage;
using monochat::storage::test::scratch_dir;
using monochat::storage::test::value_of;

namespace {

struct index_fixture {
    scratch_dir dir;
    infra::metrics_registry metrics;
    std::unique_ptr<search_index> index;
    std::uint64_t next_id = 1000;

    index_fixture() { reopen(); }

    void reopen() {
        index.reset();
        sqlite_search_index_options o;
        o.path = dir.file("search.db");
        index = value_of(open_sqlite_search_index(o, metrics));
    }

    search_change add(const std::string& cid, std::uint64_t seq, const std::string& text) {
        return {search_change_kind::add, cid, seq, ++next_id, text};
    }

    void apply(search_batch b) { value_of(index->apply(b)); }

    // Adds each text as the next message of `cid` (seq 1, 2, ...), one batch.
    void add_all(const std::string& cid, const std::vector<std::string>& texts) {
        search_batch b;
        for (std::size_t i = 0; i < texts.size(); ++i) {
            b.changes.push_back(add(cid, i + 1, texts[i]));
        }
        b.positions.emplace_back(cid, texts.size());
        apply(std::move(b));
    }

    result<std::vector<search_hit>> search_in(const std::string& q, std::vector<std::string> scope,
                                              std::size_t limit = 50) {
        auto parsed = parse_search_query(q);
        if (!parsed) {
            return parsed.error();
        }
        search_request r;
        r.query = std::move(*parsed);
        r.scope.conversations = std::move(scope);
        r.scope.all = r.scope.conversations.empty();
        r.limit = limit;
        return test::run(index->search(std::move(r)));
    }

    // The seqs of `cid` matching `q` anywhere, newest first.
    std::vector<std::uint64_t> seqs(const std::string& q, const std::string& cid = "world") {
        std::vector<std::uint64_t> out;
        for (const auto& h : value_of(search_in(q, {cid}))) {
            out.push_back(h.seq);
        }
        return out;
    }
};

using seq_list = std::vector<std::uint64_t>;

}  // namespace

TEST_CASE("words are found case- and accent-insensitively", "[storage][search]") {
    index_fixture f;
    f.add_all("world", {"Hello World", "the café is open", "CAFE SOCIETY", "nothing here"});
    CHECK(f.seqs("hello") == seq_list{1});
    CHECK(f.seqs("WORLD") == seq_list{1});
    CHECK(f.seqs("cafe") == seq_list{3, 2});
    CHECK(f.seqs("CAFÉ") == seq_list{3, 2});
    CHECK(f.seqs("café open") == seq_list{2});
    CHECK(f.seqs("café missing") == seq_list{});
}

TEST_CASE("a two-character Chinese word is found inside a sentence without spaces",
          "[storage][search]") {
    index_fixture f;
    f.add_all("world", {"我们今天去北京旅游", "北方很冷", "我在上海", "京都は美しい"});
    CHECK(f.seqs("北京") == seq_list{1});
    CHECK(f.seqs("今天") == seq_list{1});
    CHECK(f.seqs("北京旅游") == seq_list{1});
    CHECK(f.seqs("去北京 旅游") == seq_list{1});
    CHECK(f.seqs("上海") == seq_list{3});
    CHECK(f.seqs("京都") == seq_list{4});
    CHECK(f.seqs("北京上海") == seq_list{});
    // One character: anywhere in a run, first, middle or last.
    CHECK(f.seqs("北") == seq_list{2, 1});
    CHECK(f.seqs("京") == seq_list{4, 1});
    CHECK(f.seqs("游") == seq_list{1});
    CHECK(f.seqs("海") == seq_list{3});
}

TEST_CASE("Japanese and Korean phrases are found", "[storage][search]") {
    index_fixture f;
    f.add_all("world", {"昨日、東京タワーに行きました。", "タワーレコード", "서울에서 만나요"});
    CHECK(f.seqs("東京タワー") == seq_list{1});
    CHECK(f.seqs("タワー") == seq_list{2, 1});
    CHECK(f.seqs("行きました") == seq_list{1});
    CHECK(f.seqs("서울") == seq_list{3});
    CHECK(f.seqs("만나요") == seq_list{3});
}

TEST_CASE("a quoted phrase needs its words together and in order", "[storage][search]") {
    index_fixture f;
    f.add_all("world", {"I love New York in June", "new shoes from york", "York, new town"});
    CHECK(f.seqs("\"new york\"") == seq_list{1});
    CHECK(f.seqs("new york") == seq_list{3, 2, 1});
    CHECK(f.seqs("\"york new\"") == seq_list{3});
}

TEST_CASE("a trailing star finds words by prefix", "[storage][search]") {
    index_fixture f;
    f.add_all("world", {"the café", "cafeteria food", "a cab"});
    CHECK(f.seqs("caf*") == seq_list{2, 1});
    CHECK(f.seqs("ca*") == seq_list{3, 2, 1});
}

TEST_CASE("hits come newest first, limited, from the scope only", "[storage][search]") {
    index_fixture f;
    f.add_all("group:1", {"apple one", "apple two"});
    f.add_all("group:2", {"apple three"});
    f.add_all("world", {"apple four"});
    auto hits = value_of(f.search_in("apple", {"group:1", "group:2", "world"}));
    REQUIRE(hits.size() == 4);
    // Message ids grow in the order of the batches above.
    CHECK(hits[0].conversation_id == "world");
    CHECK(hits[1].conversation_id == "group:2");
    CHECK(hits[2].conversation_id == "group:1");
    CHECK(hits[2].seq == 2);
    CHECK(hits[0].message_id > hits[1].message_id);

    CHECK(value_of(f.search_in("apple", {"group:1", "world"}, 2)).size() == 2);
    CHECK(f.seqs("apple", "group:2") == seq_list{1});
    CHECK(f.seqs("apple", "group:3") == seq_list{});
    // Every conversation.
    CHECK(value_of(f.search_in("apple", {})).size() == 4);
}

TEST_CASE("an edit replaces the indexed text and a recall removes it", "[storage][search]") {
    index_fixture f;
    f.add_all("world", {"original words", "keep me"});
    search_batch b;
    b.changes.push_back({search_change_kind::replace, "world", 1, 0, "edited text"});
    b.changes.push_back({search_change_kind::remove, "world", 2, 0, ""});
    // Targets that were never indexed change nothing.
    b.changes.push_back({search_change_kind::replace, "world", 9, 0, "ghost"});
    b.changes.push_back({search_change_kind::remove, "world", 8, 0, ""});
    b.positions.emplace_back("world", 4);
    f.apply(std::move(b));
    CHECK(f.seqs("original") == seq_list{});
    CHECK(f.seqs("edited") == seq_list{1});
    CHECK(f.seqs("keep") == seq_list{});
    CHECK(f.seqs("ghost") == seq_list{});
    // The FTS index agrees with its content table (an external-content delete with the wrong
    // text would leave stale terms behind that this check reports).
    f.reopen();
    CHECK(f.seqs("words") == seq_list{});
    CHECK(f.seqs("text") == seq_list{1});
}

TEST_CASE("an edit in the same batch as its target applies in order", "[storage][search]") {
    index_fixture f;
    search_batch b;
    b.changes.push_back(f.add("world", 1, "first draft"));
    b.changes.push_back({search_change_kind::replace, "world", 1, 0, "final version"});
    b.changes.push_back(f.add("world", 3, "to be recalled"));
    b.changes.push_back({search_change_kind::remove, "world", 3, 0, ""});
    b.positions.emplace_back("world", 4);
    f.apply(std::move(b));
    CHECK(f.seqs("draft") == seq_list{});
    CHECK(f.seqs("final") == seq_list{1});
    CHECK(f.seqs("recalled") == seq_list{});
}

TEST_CASE("positions survive a reopen with the entries of the same batch", "[storage][search]") {
    index_fixture f;
    f.add_all("world", {"one", "two"});
    f.add_all("group:7", {"three"});
    search_batch only_position;
    only_position.positions.emplace_back("dm:1:2", 5);  // five messages, none with text
    f.apply(std::move(only_position));
    f.reopen();
    auto p = value_of(f.index->positions());
    std::set<std::pair<std::string, std::uint64_t>> got(p.begin(), p.end());
    CHECK(got == std::set<std::pair<std::string, std::uint64_t>>{
                     {"world", 2}, {"group:7", 1}, {"dm:1:2", 5}});
    CHECK(f.seqs("two") == seq_list{2});
}

TEST_CASE("a failed batch writes nothing, positions included", "[storage][search]") {
    index_fixture f;
    search_batch b;
    b.changes.push_back(f.add("world", 1, "fine"));
    b.changes.push_back({search_change_kind::add, "world", 2, 0, "message id zero"});
    b.positions.emplace_back("world", 2);
    auto st = f.index->apply(b);
    REQUIRE_FALSE(st.has_value());
    CHECK(st.error().code == errc::invalid_argument);
    CHECK(f.seqs("fine") == seq_list{});
    CHECK(value_of(f.index->positions()).empty());
}

TEST_CASE("adding a message twice keeps one entry", "[storage][search]") {
    index_fixture f;
    auto once = f.add("world", 1, "duplicate delivery");
    search_batch b;
    b.changes = {once, once};
    b.positions.emplace_back("world", 1);
    f.apply(b);
    f.apply(b);
    CHECK(f.seqs("duplicate") == seq_list{1});
}

TEST_CASE("forgetting a conversation drops its entries and its position", "[storage][search]") {
    index_fixture f;
    f.add_all("group:1", {"alpha", "beta"});
    f.add_all("group:2", {"alpha"});
    search_batch b;
    b.forget.push_back("group:1");
    b.changes.push_back(f.add("group:1", 1, "gamma"));
    b.positions.emplace_back("group:1", 1);
    f.apply(std::move(b));
    CHECK(f.seqs("alpha", "group:1") == seq_list{});
    CHECK(f.seqs("gamma", "group:1") == seq_list{1});
    CHECK(f.seqs("alpha", "group:2") == seq_list{1});
    auto p = value_of(f.index->positions());
    CHECK(std::set<std::pair<std::string, std::uint64_t>>(p.begin(), p.end()) ==
          std::set<std::pair<std::string, std::uint64_t>>{{"group:1", 1}, {"group:2", 1}});
}

TEST_CASE("no query text breaks the FTS5 expression", "[storage][search]") {
    index_fixture f;
    f.add_all("world", {"and or not near", "quote \" star * caret ^ colon : paren ( )"});
    const std::vector<std::string> hostile = {
        "\"", "*", "AND(", "AND", "OR", "NOT", "NEAR", "NEAR(", ")", "(", "^", ":", "-", "+",
        "{", "}", "\"\"\"", "* * *", "a AND", "OR b", "(a OR b)", "text:and", "col : x",
        "NEAR(and or, 2)", "\"unterminated", "*prefix", "^and", "a\"b\"c\"", "'", "';--",
        "\\", "\\\"", "%", "_", "and*", "\"and\"*", "𝕒𝕟𝕕", "ａｎｄ", "AND\u3000OR"};
    for (const auto& q : hostile) {
        INFO("query: " << q);
        auto hits = f.search_in(q, {"world"});
        if (!hits.has_value()) {
            CHECK(hits.error().code == errc::invalid_argument);
        }
    }
    // Operators are words like any other.
    CHECK(f.seqs("AND") == seq_list{1});
    CHECK(f.seqs("NEAR(") == seq_list{1});
    CHECK(f.seqs("and*") == seq_list{1});
    // Every printable ASCII character alone and in pairs.
    for (char a = 0x21; a < 0x7F; ++a) {
        for (char b = 0x20; b < 0x7F; ++b) {
            const std::string q{a, b};
            auto hits = f.search_in(q, {"world"});
            if (!hits.has_value()) {
                INFO("query: " << q);
                CHECK(hits.error().code == errc::invalid_argument);
            }
        }
    }
}

TEST_CASE("a limit outside 1..1000 is invalid", "[storage][search]") {
    index_fixture f;
    auto r = f.search_in("x", {"world"}, 0);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_argument);
    r = f.search_in("x", {"world"}, 1001);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_argument);
}
