#pragma once
// Registers the search tokenizer (search_tokenizer.hpp) as the FTS5 tokenizer `monochat` on one
// SQLite connection. Every connection that creates, writes or queries the search table must
// call it first: FTS5 looks tokenizers up per connection.

#include <monochat/infra/result.hpp>

struct sqlite3;

namespace monochat::storage::search {

inline constexpr const char* fts5_tokenizer_name = "monochat";

// Errors: internal (SQLite was built without FTS5).
[[nodiscard]] status register_fts5_tokenizer(sqlite3* db);

}  // namespace monochat::storage::search
