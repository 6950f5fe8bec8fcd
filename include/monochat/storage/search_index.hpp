#pragma once
// The search index: full-text search over the text of messages, for every language, without
// Elasticsearch (issue 6; shared/architecture.md, "Send path", step 7). The durable
// implementation is SQLite FTS5 in its own file (`<data_dir>/search.db`), with a tokenizer of
// our own that indexes words of spaced languages case- and accent-insensitively and text written
// without spaces (Chinese, Japanese, Korean, Thai, ...) as overlapping character pairs (the
// rules: src/storage/search_tokenizer.hpp; for users: docs/protocol.md, "Search").
//
// The index is derived data: the message log is the truth, and the index can always be rebuilt
// from it. It remembers, per conversation, the last seq it has taken in (its position), in the
// same transaction as the entries themselves, so that after a crash the indexer resumes exactly
// where the index stops: nothing is indexed twice, nothing is missed.
//
// Hits are ordered newest first by message id (a snowflake: time-ordered across conversations).
//
// Thread-safety: apply() and positions() are blocking calls that do disk I/O: call them only
// from a task thread (the indexer), never from a network thread; apply() calls are serialized
// internally. search() may be called from any thread: it runs on the index's own reader threads
// and resumes on the awaiting coroutine's executor. Readers see each applied batch whole or not
// at all.
//
// Errors (monochat::errc): invalid_argument (a bad request or batch), unavailable (disk full,
// I/O error, locked by another process), internal (a bug or a corrupt file).

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <monochat/infra/result.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace monochat::infra {
class metrics_registry;
}

namespace monochat::storage {

// ---- queries ----

// One term of a query: a word or a quoted phrase. Every term of a query must match.
struct search_term {
    // The text as the user typed it (without the quotes): the tokenizer splits and folds it,
    // and a term of several tokens ("new york", "北京大学", "e-mail") matches them as a phrase.
    std::string text;
    // The term's last token is a prefix: "caf*" finds "café". Also set by the parser for one
    // character of an unspaced script, so that it is found inside runs.
    bool prefix = false;
};

struct search_query {
    std::vector<search_term> terms;  // empty: the query has nothing searchable; no hits
};

// Longest query text accepted, in bytes, and most terms.
inline constexpr std::size_t max_search_query_bytes = 1024;
inline constexpr std::size_t max_search_terms = 16;

// Parses the user's query syntax (docs/protocol.md, "Search"): words separated by white
// space; "double quotes" around a phrase (an unterminated quote runs to the end); a trailing
// `*` on a word or phrase makes its last word a prefix. Every other character is text, never
// syntax, so no input can break the FTS5 expression built from it. Terms with nothing
// searchable (punctuation, emoji alone) are dropped; duplicates collapse.
// Errors: invalid_argument (empty or blank, over max_search_query_bytes, not UTF-8, over
// max_search_terms terms).
[[nodiscard]] result<search_query> parse_search_query(std::string_view text);

// Where a search may look.
struct search_scope {
    // The conversations the caller may read; ignored when `all` is set.
    std::vector<std::string> conversations;
    // Every conversation (operators and tools, never a user request).
    bool all = false;
};

struct search_request {
    search_query query;
    search_scope scope;
    std::size_t limit = 50;  // 1..1000
};

struct search_hit {
    std::string conversation_id;
    std::uint64_t seq = 0;
    std::uint64_t message_id = 0;
};

// ---- indexing ----

enum class search_change_kind : std::uint8_t {
    add,      // a new message with text; a message already indexed is left as it is
    replace,  // an edit: the target's indexed text becomes `text` (nothing if not indexed)
    remove,   // a recall: the target is no longer found (nothing if not indexed)
};

struct search_change {
    search_change_kind kind = search_change_kind::add;
    std::string conversation_id;
    std::uint64_t seq = 0;         // add: the message's seq; replace, remove: the target's
    std::uint64_t message_id = 0;  // add: the message's id, 1..2^63-1
    std::string text;              // add, replace: the text to index (UTF-8)
};

// Everything one transaction writes.
struct search_batch {
    // Conversations whose entries and position are dropped first: the index was ahead of the
    // message log (a log restored from an older backup), so they are indexed again from 0.
    std::vector<std::string> forget;
    // Applied in order.
    std::vector<search_change> changes;
    // The new position (last seq taken in, whether it had text or not) of each conversation
    // the batch covers.
    std::vector<std::pair<std::string, std::uint64_t>> positions;
};

class search_index {
public:
    search_index() = default;
    virtual ~search_index() = default;
    search_index(const search_index&) = delete;
    search_index& operator=(const search_index&) = delete;

    // Writes the batch in ONE transaction: all of it or, on error, none of it. Blocking.
    // Errors: invalid_argument (a message id of 0 or above 2^63-1), unavailable.
    [[nodiscard]] virtual status apply(const search_batch& batch) = 0;

    // The position of every conversation the index has taken messages of. Blocking.
    [[nodiscard]] virtual result<std::vector<std::pair<std::string, std::uint64_t>>>
    positions() = 0;

    // The newest `limit` messages of the scope matching every term of the query.
    // Errors: invalid_argument (limit outside 1..1000), unavailable.
    virtual boost::asio::awaitable<result<std::vector<search_hit>>> search(
        search_request request) = 0;
};

struct sqlite_search_index_options {
    // The database file; created (with its schema) when missing. Default: none.
    std::string path;
    // Read connections, each with its own thread: searches that run at once. Default: 2.
    std::size_t readers = 2;
    // false: `synchronous=NORMAL`. A commit survives a crash of the process; one lost to a power
    // failure is lost together with its positions, and the indexer takes those messages in
    // again from the log. true: fsync every batch. Default: false.
    bool synchronous_full = false;
    // How long a statement waits for a lock held by another process. Default: 5000 ms.
    std::int64_t busy_timeout_ms = 5000;
};

// Opens (creating and migrating as needed) the SQLite FTS5 index. Errors: invalid_argument (no
// path, zero readers), unavailable (cannot open or write the file), internal (no FTS5 in this
// SQLite, a schema newer than this build, not a monochat search file). Metrics go to `metrics`,
// which must outlive the index.
[[nodiscard]] result<std::unique_ptr<search_index>> open_sqlite_search_index(
    const sqlite_search_index_options& options, infra::metrics_registry& metrics);

}  // namespace monochat::storage
