// libFuzzer target: the search query parser (storage/search_query.cpp), whose input is the
// `q` parameter of GET /api/v1/search/messages.
//
// Beyond "no crash": every query the parser accepts must become an FTS5 expression that SQLite
// accepts with the real `monochat` tokenizer ("no input can break the FTS5 expression"), and
// the parser's documented bounds must hold.

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "storage/search_fts5.hpp"
#include "storage/search_query.hpp"

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail) {
    std::fprintf(stderr, "fuzz_search_query: %s: %.*s\n", what, static_cast<int>(detail.size()),
                 detail.data());
    std::abort();
}

struct fts {
    sqlite3* db = nullptr;
    sqlite3_stmt* match = nullptr;

    fts() {
        if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
            fail("sqlite3_open", sqlite3_errmsg(db));
        }
        if (!monochat::storage::search::register_fts5_tokenizer(db)) {
            fail("register tokenizer", "");
        }
        const char* schema =
            "CREATE VIRTUAL TABLE t USING fts5(text, tokenize = 'monochat');"
            "INSERT INTO t(text) VALUES ('café new york 北京大学 e-mail hello world');";
        char* err = nullptr;
        if (sqlite3_exec(db, schema, nullptr, nullptr, &err) != SQLITE_OK) {
            fail("schema", err != nullptr ? err : "");
        }
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t WHERE t MATCH ?", -1, &match,
                               nullptr) != SQLITE_OK) {
            fail("prepare", sqlite3_errmsg(db));
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace monochat::storage;
    static fts f;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto q = parse_search_query(text);
    if (!q) {
        if (q.error().code != monochat::errc::invalid_argument) {
            fail("a refused query is not invalid_argument", q.error().message);
        }
        return 0;
    }
    if (q->terms.size() > max_search_terms) {
        fail("too many terms accepted", text);
    }
    const std::string expr = search::fts5_match(*q);
    if (expr.empty()) {
        return 0;  // nothing searchable: the service skips the query
    }
    sqlite3_reset(f.match);
    sqlite3_bind_text(f.match, 1, expr.data(), static_cast<int>(expr.size()), SQLITE_TRANSIENT);
    int rc = SQLITE_ROW;
    while (rc == SQLITE_ROW) {
        rc = sqlite3_step(f.match);
    }
    if (rc != SQLITE_DONE) {
        fail("SQLite refused the MATCH expression", expr + " <- " + sqlite3_errmsg(f.db));
    }
    return 0;
}
