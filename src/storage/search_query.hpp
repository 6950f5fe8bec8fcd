#pragma once
// From a parsed query (search_index.hpp, parse_search_query) to the FTS5 MATCH expression,
// which is then bound as a parameter: every term becomes one FTS5 string, so no user text is
// ever FTS5 syntax.
//
//   café "new york" caf*   ->   "café" AND "new york" AND "caf" *

#include <monochat/storage/search_index.hpp>
#include <string>

namespace monochat::storage::search {

// Empty when the query has no terms (which matches nothing: the caller skips the query).
std::string fts5_match(const search_query& query);

}  // namespace monochat::storage::search
