#include "storage/search_fts5.hpp"

#include <sqlite3.h>

#include <exception>

#include "storage/search_tokenizer.hpp"

namespace monochat::storage::search {

namespace {

// FTS5 wants a non-null tokenizer instance; the tokenizer has no state or options, so every
// table shares this one.
struct instance {};
instance the_instance;

int x_create(void* /*user*/, const char** /*args*/, int /*nargs*/, Fts5Tokenizer** out) {
    *out = reinterpret_cast<Fts5Tokenizer*>(&the_instance);
    return SQLITE_OK;
}

void x_delete(Fts5Tokenizer* /*t*/) {}

using fts5_token_fn = int (*)(void*, int, const char*, int, int, int);

int x_tokenize(Fts5Tokenizer* /*t*/, void* fts_ctx, int flags, const char* text, int size,
               fts5_token_fn emit) {
    // Only FTS5_TOKENIZE_QUERY changes the output (pairs only: see token_mode). Prefix queries
    // need nothing special: FTS5 matches the last token as a prefix itself.
    const token_mode mode =
        (flags & FTS5_TOKENIZE_QUERY) != 0 ? token_mode::query : token_mode::document;
    // No exception may cross into SQLite's C frames.
    try {
        return tokenize(std::string_view(text, size > 0 ? static_cast<std::size_t>(size) : 0),
                        mode, [&](const token& t) {
                            return emit(fts_ctx, t.colocated ? FTS5_TOKEN_COLOCATED : 0,
                                        t.text.data(), static_cast<int>(t.text.size()),
                                        static_cast<int>(t.start), static_cast<int>(t.end));
                        });
    } catch (const std::exception&) {
        return SQLITE_NOMEM;
    }
}

fts5_tokenizer the_tokenizer{x_create, x_delete, x_tokenize};

// The documented way to reach the FTS5 API of a connection: `SELECT fts5(?1)` with a pointer
// bound under the type name "fts5_api_ptr".
fts5_api* fts5_api_of(sqlite3* db) {
    fts5_api* api = nullptr;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, nullptr) != SQLITE_OK) {
        return nullptr;
    }
    sqlite3_bind_pointer(stmt, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
    sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return api;
}

}  // namespace

status register_fts5_tokenizer(sqlite3* db) {
    fts5_api* api = fts5_api_of(db);
    if (api == nullptr || api->iVersion < 2) {
        return make_error(errc::internal, "search: this SQLite has no FTS5 (version 2 API)");
    }
    const int rc = api->xCreateTokenizer(api, fts5_tokenizer_name, nullptr, &the_tokenizer, nullptr);
    if (rc != SQLITE_OK) {
        return make_error(errc::internal, "search: cannot register the FTS5 tokenizer");
    }
    return {};
}

}  // namespace monochat::storage::search
