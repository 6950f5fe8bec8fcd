// The SQLite FTS5 search index (search_index.hpp).
//
// Layout of search.db:
//   search_conversations  conversation id -> small integer key, and the position (last seq
//                         taken in), so that docs store 8 bytes instead of the id's text
//   search_docs           one row per indexed message: message id (the FTS rowid, so hits come
//                         newest first straight from the index), conversation key, seq, text
//   search_fts            FTS5 over search_docs.text (external content: the text is stored
//                         once), tokenized by our `monochat` tokenizer
//
// One writer connection (apply, serialized by a mutex) and a pool of reader connections with a
// thread each (search). WAL mode: readers never wait for the writer and see whole batches.

#include <monochat/infra/metrics.hpp>
#include <monochat/storage/search_index.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "storage/search_fts5.hpp"
#include "storage/search_query.hpp"
#include "storage/sqlite_db.hpp"
#include "storage/sqlite_migrations.hpp"
#include "storage/sqlite_threads.hpp"

namespace monochat::storage {

namespace {

using sqlite::connection;

// A released migration is never edited: a schema change is a new migration at the end.
constexpr const char* v1_search = R"sql(
CREATE TABLE search_conversations (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT    NOT NULL UNIQUE,
    last_seq        INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
);
CREATE TABLE search_docs (
    message_id   INTEGER PRIMARY KEY,
    conversation INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    text         TEXT    NOT NULL
);
-- Edits and recalls name their target by (conversation, seq).
CREATE UNIQUE INDEX search_docs_by_seq ON search_docs (conversation, seq);
CREATE VIRTUAL TABLE search_fts USING fts5(
    text, content = 'search_docs', content_rowid = 'message_id', tokenize = 'monochat');
)sql";

constexpr std::array<sqlite::migration, 1> search_migrations{{
    {1, "search index: conversations, documents, FTS5 table", v1_search},
}};

// CROSS JOIN keeps the FTS table as the outer loop, so rows come in rowid (message id) order
// from the index and LIMIT stops the scan early; without it the planner may start from the
// conversations and run the full-text query once per document.
constexpr const char* search_scoped_sql = R"sql(
SELECT c.conversation_id, d.seq, d.message_id
  FROM search_fts AS f
  CROSS JOIN search_docs AS d ON d.message_id = f.rowid
  CROSS JOIN search_conversations AS c ON c.id = d.conversation
 WHERE search_fts MATCH ?1
   AND d.conversation IN (SELECT id FROM search_conversations
                           WHERE conversation_id IN (SELECT value FROM json_each(?2)))
 ORDER BY f.rowid DESC
 LIMIT ?3
)sql";

constexpr const char* search_all_sql = R"sql(
SELECT c.conversation_id, d.seq, d.message_id
  FROM search_fts AS f
  CROSS JOIN search_docs AS d ON d.message_id = f.rowid
  CROSS JOIN search_conversations AS c ON c.id = d.conversation
 WHERE search_fts MATCH ?1
 ORDER BY f.rowid DESC
 LIMIT ?2
)sql";

constexpr std::size_t max_search_limit = 1000;
constexpr std::uint64_t max_message_id = static_cast<std::uint64_t>(INT64_MAX);

class sqlite_search_index final : public search_index {
public:
    sqlite_search_index(std::unique_ptr<connection> writer,
                        std::vector<std::unique_ptr<connection>> readers,
                        infra::metrics_registry& metrics)
        : writer_(std::move(writer)),
          readers_(std::move(readers), sqlite::thread_metrics{}),
          queries_(metrics.get_counter("monochat_search_queries_total", "Search queries run.")),
          query_seconds_(metrics.get_histogram("monochat_search_query_seconds",
                                               "Time of one full-text query in the index.",
                                               infra::latency_buckets())) {}

    status apply(const search_batch& batch) override {
        for (const auto& c : batch.changes) {
            if (c.kind == search_change_kind::add &&
                (c.message_id == 0 || c.message_id > max_message_id)) {
                return make_error(errc::invalid_argument,
                                  "search: message id " + std::to_string(c.message_id) +
                                      " is outside 1..2^63-1");
            }
        }
        std::lock_guard lock(write_mutex_);
        auto st = apply_locked(batch);
        if (!st) {
            // Keys created in the rolled-back transaction do not exist.
            keys_.clear();
        }
        return st;
    }

    result<std::vector<std::pair<std::string, std::uint64_t>>> positions() override {
        std::lock_guard lock(write_mutex_);
        return sqlite::query_all(
            *writer_, "SELECT conversation_id, last_seq FROM search_conversations WHERE last_seq > 0",
            [](const sqlite::statement& row) {
                return std::pair<std::string, std::uint64_t>(row.column_text(0), row.column_uint64(1));
            });
    }

    // Not a coroutine: the work is handed to a reader thread whole. (GCC 12 mishandles a
    // lambda with init-captures built inside a co_await expression: its strings were freed
    // from the coroutine frame.)
    boost::asio::awaitable<result<std::vector<search_hit>>> search(
        search_request request) override {
        return readers_.read<std::vector<search_hit>>(
            [this, request = std::move(request)](connection& conn) { return run_search(conn, request); });
    }

private:
    // On a reader thread, inside a read transaction.
    result<std::vector<search_hit>> run_search(connection& conn, const search_request& request) {
        if (request.limit == 0 || request.limit > max_search_limit) {
            return make_error(errc::invalid_argument, "search: limit must be 1 to 1000");
        }
        const std::string match = search::fts5_match(request.query);
        const bool all = request.scope.all;
        if (match.empty() || (!all && request.scope.conversations.empty())) {
            return std::vector<search_hit>{};
        }
        const auto started = std::chrono::steady_clock::now();
        const auto limit = static_cast<std::int64_t>(request.limit);
        const auto hit = [](const sqlite::statement& row) {
            return search_hit{row.column_text(0), row.column_uint64(1), row.column_uint64(2)};
        };
        auto out = all ? sqlite::query_all(conn, search_all_sql, hit, match, limit)
                       : sqlite::query_all(conn, search_scoped_sql, hit, match,
                                           nlohmann::json(request.scope.conversations).dump(),
                                           limit);
        if (!out) {
            return out.error();
        }
        queries_.inc();
        query_seconds_.observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        return out;
    }

    status apply_locked(const search_batch& batch) {
        auto tx = sqlite::transaction::begin(*writer_, true);
        if (!tx) {
            return tx.error();
        }
        for (const auto& cid : batch.forget) {
            if (auto st = forget(cid); !st) {
                return st;
            }
        }
        for (const auto& c : batch.changes) {
            auto key = key_of(c.conversation_id);
            if (!key) {
                return key.error();
            }
            status st;
            switch (c.kind) {
                case search_change_kind::add: st = add(*key, c); break;
                case search_change_kind::replace: st = replace(*key, c.seq, &c.text); break;
                case search_change_kind::remove: st = replace(*key, c.seq, nullptr); break;
            }
            if (!st) {
                return st;
            }
        }
        for (const auto& [cid, seq] : batch.positions) {
            auto key = key_of(cid);
            if (!key) {
                return key.error();
            }
            if (auto st = set_position(*key, seq); !st) {
                return st;
            }
        }
        return tx->commit();
    }

    // The key of a conversation, created on first use.
    result<std::int64_t> key_of(const std::string& cid) {
        if (auto it = keys_.find(cid); it != keys_.end()) {
            return it->second;
        }
        auto find = writer_->prepare("SELECT id FROM search_conversations WHERE conversation_id = ?1");
        if (!find) {
            return find.error();
        }
        if (auto st = find->bind(cid); !st) {
            return st.error();
        }
        auto row = find->step();
        if (!row) {
            return row.error();
        }
        std::int64_t key = 0;
        if (*row) {
            key = find->column_int64(0);
        } else {
            auto insert = writer_->prepare(
                "INSERT INTO search_conversations (conversation_id) VALUES (?1) RETURNING id");
            if (!insert) {
                return insert.error();
            }
            if (auto st = insert->bind(cid); !st) {
                return st.error();
            }
            auto inserted = insert->step();
            if (!inserted) {
                return inserted.error();
            }
            if (!*inserted) {
                return make_error(errc::internal, "search: INSERT ... RETURNING returned no row");
            }
            key = insert->column_int64(0);
            if (auto st = insert->run(); !st) {
                return st.error();
            }
        }
        keys_.emplace(cid, key);
        return key;
    }

    status add(std::int64_t key, const search_change& c) {
        // OR IGNORE: a message indexed before (an at-least-once redelivery) stays as it is.
        auto doc = writer_->prepare(
            "INSERT OR IGNORE INTO search_docs (message_id, conversation, seq, text) "
            "VALUES (?1, ?2, ?3, ?4)");
        if (!doc) {
            return doc.error();
        }
        if (auto st = doc->bind(c.message_id, key, c.seq, c.text); !st) {
            return st;
        }
        if (auto st = doc->run(); !st) {
            return st;
        }
        if (writer_->changes() == 0) {
            return {};
        }
        return fts_insert(static_cast<std::int64_t>(c.message_id), c.text);
    }

    // Replaces (text != nullptr) or removes the indexed text of (key, seq), if indexed.
    status replace(std::int64_t key, std::uint64_t seq, const std::string* text) {
        std::int64_t message_id = 0;
        std::string old_text;
        {
            auto find = writer_->prepare(
                "SELECT message_id, text FROM search_docs WHERE conversation = ?1 AND seq = ?2");
            if (!find) {
                return find.error();
            }
            if (auto st = find->bind(key, seq); !st) {
                return st;
            }
            auto row = find->step();
            if (!row) {
                return row.error();
            }
            if (!*row) {
                return {};  // never indexed (not text) or recalled before: nothing to change
            }
            message_id = find->column_int64(0);
            old_text = find->column_text(1);
        }
        if (auto st = fts_delete(message_id, old_text); !st) {
            return st;
        }
        if (text == nullptr) {
            auto del = writer_->prepare("DELETE FROM search_docs WHERE message_id = ?1");
            if (!del) {
                return del.error();
            }
            if (auto st = del->bind(message_id); !st) {
                return st;
            }
            return del->run();
        }
        auto update = writer_->prepare("UPDATE search_docs SET text = ?2 WHERE message_id = ?1");
        if (!update) {
            return update.error();
        }
        if (auto st = update->bind(message_id, *text); !st) {
            return st;
        }
        if (auto st = update->run(); !st) {
            return st;
        }
        return fts_insert(message_id, *text);
    }

    status forget(const std::string& cid) {
        auto key = key_of(cid);
        if (!key) {
            return key.error();
        }
        auto docs = sqlite::query_all(
            *writer_, "SELECT message_id, text FROM search_docs WHERE conversation = ?1",
            [](const sqlite::statement& row) {
                return std::pair<std::int64_t, std::string>(row.column_int64(0), row.column_text(1));
            },
            *key);
        if (!docs) {
            return docs.error();
        }
        for (const auto& [id, text] : *docs) {
            if (auto st = fts_delete(id, text); !st) {
                return st;
            }
        }
        auto del = writer_->prepare("DELETE FROM search_docs WHERE conversation = ?1");
        if (!del) {
            return del.error();
        }
        if (auto st = del->bind(*key); !st) {
            return st;
        }
        if (auto st = del->run(); !st) {
            return st;
        }
        return set_position(*key, 0);
    }

    status set_position(std::int64_t key, std::uint64_t seq) {
        auto stmt = writer_->prepare("UPDATE search_conversations SET last_seq = ?2 WHERE id = ?1");
        if (!stmt) {
            return stmt.error();
        }
        if (auto st = stmt->bind(key, seq); !st) {
            return st;
        }
        return stmt->run();
    }

    status fts_insert(std::int64_t message_id, const std::string& text) {
        auto stmt = writer_->prepare("INSERT INTO search_fts (rowid, text) VALUES (?1, ?2)");
        if (!stmt) {
            return stmt.error();
        }
        if (auto st = stmt->bind(message_id, text); !st) {
            return st;
        }
        return stmt->run();
    }

    // An external-content FTS5 table forgets a row only when told its old text, which must be
    // exactly what was indexed: it comes from search_docs in the same transaction.
    status fts_delete(std::int64_t message_id, const std::string& old_text) {
        auto stmt = writer_->prepare(
            "INSERT INTO search_fts (search_fts, rowid, text) VALUES ('delete', ?1, ?2)");
        if (!stmt) {
            return stmt.error();
        }
        if (auto st = stmt->bind(message_id, old_text); !st) {
            return st;
        }
        return stmt->run();
    }

    std::mutex write_mutex_;  // guards writer_ and keys_
    std::unique_ptr<connection> writer_;
    std::unordered_map<std::string, std::int64_t> keys_;
    sqlite::reader_pool readers_;
    infra::counter& queries_;
    infra::histogram& query_seconds_;
};

result<std::unique_ptr<connection>> open_connection(const std::string& path,
                                                    const sqlite::open_options& options) {
    auto conn = connection::open(path, options);
    if (!conn) {
        return conn.error();
    }
    if (auto st = search::register_fts5_tokenizer((*conn)->handle()); !st) {
        return st.error();
    }
    return conn;
}

}  // namespace

result<std::unique_ptr<search_index>> open_sqlite_search_index(
    const sqlite_search_index_options& options, infra::metrics_registry& metrics) {
    if (options.path.empty()) {
        return make_error(errc::invalid_argument, "search: the index path is empty");
    }
    if (options.readers == 0) {
        return make_error(errc::invalid_argument, "search: at least one reader is needed");
    }
    sqlite::open_options writer_options;
    writer_options.synchronous_full = options.synchronous_full;
    writer_options.busy_timeout_ms = options.busy_timeout_ms;
    auto writer = open_connection(options.path, writer_options);
    if (!writer) {
        return writer.error();
    }
    // FTS5 merges rewrite its segment b-trees batch after batch: 16 MiB of page cache (SQLite's
    // default is 2 MiB) keeps the hot ones in memory. Readers rely on the OS page cache.
    if (auto st = (*writer)->exec("PRAGMA cache_size = -16384;"); !st) {
        return st.error();
    }
    if (auto migrated = sqlite::migrate(**writer, search_migrations); !migrated) {
        return migrated.error();
    }
    sqlite::open_options reader_options = writer_options;
    reader_options.read_only = true;
    std::vector<std::unique_ptr<connection>> readers;
    for (std::size_t i = 0; i < options.readers; ++i) {
        auto conn = open_connection(options.path, reader_options);
        if (!conn) {
            return conn.error();
        }
        readers.push_back(std::move(*conn));
    }
    return std::unique_ptr<search_index>(
        new sqlite_search_index(std::move(*writer), std::move(readers), metrics));
}

}  // namespace monochat::storage
