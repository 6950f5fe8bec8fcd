// The SQLite webhook store (storage/webhook_store.hpp): its own file, its own schema versions,
// one writer thread that group-commits (storage/sqlite_threads.hpp) and serves the few reads.

#include <monochat/infra/metrics.hpp>
#include <monochat/storage/webhook_store.hpp>

#include <array>
#include <limits>

#include "storage/sqlite_db.hpp"
#include "storage/sqlite_migrations.hpp"
#include "storage/sqlite_threads.hpp"

namespace monochat::storage {

namespace {

using sqlite::connection;
using sqlite::statement;

// A released migration is never edited: a schema change is a new migration at the end.
// Lists (events, conversation ids) are stored one item per line: neither can hold a line feed
// (logic validates both). conversation_ids NULL: every conversation.
constexpr const char* v1_webhooks = R"sql(
CREATE TABLE webhooks (
    id               INTEGER PRIMARY KEY,
    url              TEXT    NOT NULL,
    secret           TEXT    NOT NULL,
    events           TEXT    NOT NULL,
    conversation_ids TEXT,
    created_ms       INTEGER NOT NULL
);
CREATE TABLE webhook_cursors (
    webhook_id      INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    conversation_id TEXT    NOT NULL,
    seq             INTEGER NOT NULL CHECK (seq >= 0),
    PRIMARY KEY (webhook_id, conversation_id)
) WITHOUT ROWID;
)sql";

// Issue 21, membership events: each webhook's cursor in the social store's group event
// journal (the id of the last row it is done with).
constexpr const char* v2_journal_cursor = R"sql(
ALTER TABLE webhooks ADD COLUMN journal_cursor INTEGER NOT NULL DEFAULT 0 CHECK (journal_cursor >= 0);
)sql";

constexpr std::array<sqlite::migration, 2> webhook_migrations{{
    {1, "webhooks and their delivery cursors", v1_webhooks},
    {2, "group event journal cursor", v2_journal_cursor},
}};

constexpr std::uint64_t max_id =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
constexpr std::size_t max_write_batch = 256;

std::string join_lines(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) {
        if (!out.empty()) {
            out += '\n';
        }
        out += i;
    }
    return out;
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    if (text.empty()) {
        return out;
    }
    std::size_t start = 0;
    for (;;) {
        const auto nl = text.find('\n', start);
        out.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
        if (nl == std::string::npos) {
            return out;
        }
        start = nl + 1;
    }
}

bool has_line_feed(const std::vector<std::string>& items) {
    for (const auto& i : items) {
        if (i.find('\n') != std::string::npos || i.empty()) {
            return true;
        }
    }
    return false;
}

// A statement that returns no rows, as a status.
template <class... Args>
status run(connection& c, std::string_view sql, const Args&... args) {
    auto changed = sqlite::execute(c, sql, args...);
    if (!changed) {
        return changed.error();
    }
    return {};
}

class sqlite_webhook_store final : public webhook_store {
public:
    sqlite_webhook_store(std::unique_ptr<connection> conn, std::string path,
                         infra::metrics_registry& metrics)
        : metrics_(metrics),
          path_(std::move(path)),
          writer_(std::move(conn), max_write_batch, sqlite::thread_metrics{}) {
        metrics_.gauge_callback(
            "monochat_queue_depth", "Items waiting in a queue.", {{"queue", "webhook_store"}},
            [this] { return static_cast<double>(writer_.queue_depth()); }, this);
    }
    ~sqlite_webhook_store() override { metrics_.remove_callbacks(this); }

    task<void> create(webhook_record w, std::vector<webhook_cursor> cursors) override {
        return writer_.write<void>(
            [w = std::move(w), cursors = std::move(cursors)](connection& c) -> status {
                if (w.id == 0 || w.id > max_id) {
                    return make_error(errc::invalid_argument, "webhook id out of range");
                }
                if (has_line_feed(w.events) ||
                    (w.conversation_ids && has_line_feed(*w.conversation_ids))) {
                    return make_error(errc::invalid_argument,
                                      "events and conversation ids must be non-empty single lines");
                }
                auto exists = sqlite::query_one(c, "SELECT 1 FROM webhooks WHERE id = ?1",
                                                [](const statement&) { return true; }, w.id);
                if (!exists) {
                    return exists.error();
                }
                if (*exists) {
                    return make_error(errc::conflict, "webhook id exists");
                }
                std::optional<std::string> cids;
                if (w.conversation_ids) {
                    cids = join_lines(*w.conversation_ids);
                }
                if (auto st = run(c,
                                  "INSERT INTO webhooks (id, url, secret, events, conversation_ids,"
                                  " created_ms, journal_cursor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                  w.id, w.url, w.secret, join_lines(w.events), cids, w.created_ms,
                                  w.journal_cursor);
                    !st) {
                    return st;
                }
                for (const auto& [cid, seq] : cursors) {
                    if (auto st = run(c,
                                      "INSERT OR REPLACE INTO webhook_cursors (webhook_id,"
                                      " conversation_id, seq) VALUES (?1, ?2, ?3)",
                                      w.id, cid, seq);
                        !st) {
                        return st;
                    }
                }
                return {};
            });
    }

    task<std::vector<webhook_record>> list() override {
        return writer_.write<std::vector<webhook_record>>(
            [](connection& c) -> result<std::vector<webhook_record>> {
                return sqlite::query_all(
                    c,
                    "SELECT id, url, secret, events, conversation_ids, created_ms, journal_cursor"
                    " FROM webhooks ORDER BY id",
                    [](const statement& row) {
                        webhook_record w;
                        w.id = row.column_uint64(0);
                        w.url = row.column_text(1);
                        w.secret = row.column_text(2);
                        w.events = split_lines(row.column_text(3));
                        if (!row.column_is_null(4)) {
                            w.conversation_ids = split_lines(row.column_text(4));
                        }
                        w.created_ms = row.column_int64(5);
                        w.journal_cursor = row.column_uint64(6);
                        return w;
                    });
            });
    }

    task<void> remove(std::uint64_t id) override {
        return writer_.write<void>([id](connection& c) -> status {
            if (auto st = run(c, "DELETE FROM webhooks WHERE id = ?1", id); !st) {
                return st;
            }
            if (c.changes() == 0) {
                return make_error(errc::not_found, "no webhook with that id");
            }
            return {};
        });
    }

    task<std::vector<webhook_cursor>> cursors(std::uint64_t id) override {
        return writer_.write<std::vector<webhook_cursor>>(
            [id](connection& c) -> result<std::vector<webhook_cursor>> {
                return sqlite::query_all(
                    c,
                    "SELECT conversation_id, seq FROM webhook_cursors WHERE webhook_id = ?1"
                    " ORDER BY conversation_id",
                    [](const statement& row) {
                        return webhook_cursor(row.column_text(0), row.column_uint64(1));
                    },
                    id);
            });
    }

    task<void> advance(std::uint64_t id, std::string conversation_id,
                       std::uint64_t seq) override {
        return writer_.write<void>([id, cid = std::move(conversation_id), seq](connection& c) {
            // The SELECT keeps a removed webhook from getting cursors back; MAX keeps a cursor
            // from moving back.
            return run(c,
                       "INSERT INTO webhook_cursors (webhook_id, conversation_id, seq)"
                       " SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?1)"
                       " ON CONFLICT (webhook_id, conversation_id)"
                       " DO UPDATE SET seq = MAX(seq, excluded.seq)",
                       id, cid, seq);
        });
    }

    task<void> forget_conversation(std::string conversation_id) override {
        return writer_.write<void>([cid = std::move(conversation_id)](connection& c) {
            return run(c, "DELETE FROM webhook_cursors WHERE conversation_id = ?1", cid);
        });
    }

    task<void> advance_journal(std::uint64_t id, std::uint64_t journal_id) override {
        return writer_.write<void>([id, journal_id](connection& c) {
            return run(c, "UPDATE webhooks SET journal_cursor = MAX(journal_cursor, ?2) WHERE id = ?1",
                       id, journal_id);
        });
    }

    task<void> backup_to(std::string path) override {
        // On the writer thread, so that no write is half done, but through a connection of its
        // own: the writer's is inside its batch's transaction, where SQLite refuses a backup.
        return writer_.write<void>([p = std::move(path), src = path_](connection&) -> status {
            sqlite::open_options o;
            o.read_only = true;
            auto reader = connection::open(src, o);
            if (!reader) {
                return reader.error();
            }
            return sqlite::backup_database(**reader, p);
        });
    }

private:
    infra::metrics_registry& metrics_;
    const std::string path_;
    sqlite::writer writer_;
};

}  // namespace

result<std::unique_ptr<webhook_store>> open_sqlite_webhook_store(
    const sqlite_webhook_store_options& options, infra::metrics_registry& metrics) {
    if (options.path.empty()) {
        return make_error(errc::invalid_argument, "storage: the webhook store path is empty");
    }
    sqlite::open_options o;
    o.synchronous_full = options.synchronous_full;
    auto conn = connection::open(options.path, o);
    if (!conn) {
        return conn.error();
    }
    if (auto migrated = sqlite::migrate(**conn, webhook_migrations); !migrated) {
        return migrated.error();
    }
    return std::unique_ptr<webhook_store>(new sqlite_webhook_store(std::move(*conn), options.path, metrics));
}

}  // namespace monochat::storage
