// The SQLite social store's shared core (sqlite_social.hpp): the database every role runs on,
// the row mappings and checks the roles share, and open_sqlite_social_stores, which puts the
// five roles on one database.

#include <fmt/format.h>

#include <utility>

#include "storage/sqlite_migrations.hpp"
#include "storage/sqlite_social.hpp"

namespace monochat::storage::social_sql {

namespace {

sqlite::thread_metrics make_thread_metrics(infra::metrics_registry& m) {
    return sqlite::thread_metrics{
        &m.get_counter("monochat_sqlite_write_batches_total",
                       "SQLite write transactions committed by the group-commit writer."),
        &m.get_counter("monochat_sqlite_writes_total", "SQLite write operations."),
        &m.get_counter("monochat_sqlite_write_errors_total",
                       "SQLite write operations that failed (their changes rolled back)."),
        &m.get_counter("monochat_sqlite_reads_total", "SQLite read operations."),
        &m.get_histogram("monochat_sqlite_commit_seconds",
                         "Time to run and commit one SQLite write batch.",
                         infra::latency_buckets()),
    };
}

}  // namespace

social_db::social_db(std::unique_ptr<connection> writer_conn,
                     std::vector<std::unique_ptr<connection>> reader_conns, std::size_t max_batch,
                     infra::metrics_registry& metrics)
    : metrics_(metrics),
      readers_(std::move(reader_conns), make_thread_metrics(metrics)),
      writer_(std::move(writer_conn), max_batch, make_thread_metrics(metrics)) {
    metrics_.gauge_callback(
        "monochat_queue_depth", "Items waiting in a queue.", {{"queue", "sqlite_writer"}},
        [this] { return static_cast<double>(writer_.queue_depth()); }, this);
}

social_db::~social_db() { metrics_.remove_callbacks(this); }

result<std::unique_ptr<social_db>> open_social_db(const sqlite_social_store_options& options,
                                                  infra::metrics_registry& metrics) {
    if (options.path.empty()) {
        return make_error(errc::invalid_argument, "storage: the SQLite path is empty");
    }
    if (options.readers == 0) {
        return make_error(errc::invalid_argument, "storage.sqlite_readers: must be at least 1");
    }
    sqlite::open_options writer_options;
    writer_options.synchronous_full = options.synchronous_full;
    writer_options.busy_timeout_ms = options.busy_timeout_ms;
    auto writer_conn = connection::open(options.path, writer_options);
    if (!writer_conn) {
        return writer_conn.error();
    }
    if (auto migrated = sqlite::migrate(**writer_conn, sqlite::social_migrations()); !migrated) {
        return migrated.error();
    }
    sqlite::open_options reader_options = writer_options;
    reader_options.read_only = true;
    std::vector<std::unique_ptr<connection>> readers;
    for (std::size_t i = 0; i < options.readers; ++i) {
        auto conn = connection::open(options.path, reader_options);
        if (!conn) {
            return conn.error();
        }
        readers.push_back(std::move(*conn));
    }
    return std::make_unique<social_db>(std::move(*writer_conn), std::move(readers),
                                       options.max_write_batch, metrics);
}

// ---- row mappings and checks shared by the roles ----

user_record user_from(const statement& s, int first) {
    user_record u{s.column_uint64(first),   s.column_text(first + 1), s.column_text(first + 2),
                  s.column_text(first + 3), s.column_bool(first + 4), s.column_int64(first + 5)};
    u.suspended = s.column_bool(first + 6);
    u.bot = s.column_bool(first + 7);
    if (!s.column_is_null(first + 8)) {
        u.avatar_file_id = s.column_uint64(first + 8);
    }
    return u;
}

std::uint64_t id_from(const statement& s) { return s.column_uint64(0); }
bool true_from(const statement&) { return true; }

error user_not_found(std::uint64_t id) {
    return make_error(errc::not_found, fmt::format("user {} not found", id));
}

// The user's guest flag; not_found when the user does not exist.
result<bool> is_guest(connection& c, std::uint64_t id) {
    auto row = query_one(
        c, "SELECT guest FROM users WHERE id = ?1",
        [](const statement& s) { return s.column_bool(0); }, id);
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return user_not_found(id);
    }
    return **row;
}

status require_user(connection& c, std::uint64_t id) {
    auto guest = is_guest(c, id);
    if (!guest) {
        return guest.error();
    }
    return {};
}

}  // namespace monochat::storage::social_sql

namespace monochat::storage {

result<social_stores> open_sqlite_social_stores(const sqlite_social_store_options& options,
                                                infra::metrics_registry& metrics) {
    auto opened = social_sql::open_social_db(options, metrics);
    if (!opened) {
        return opened.error();
    }
    std::shared_ptr<social_sql::social_db> db = std::move(*opened);
    social_stores out;
    out.changes = &db->changes();
    out.users = social_sql::make_sqlite_user_store(*db);
    out.relations = social_sql::make_sqlite_relation_store(*db);
    out.groups = social_sql::make_sqlite_group_store(*db, options.clock, options.group_last_seq);
    out.read_state = social_sql::make_sqlite_read_state_store(*db);
    out.admin = social_sql::make_sqlite_admin_store(*db);
    out.shared = std::move(db);
    return out;
}

}  // namespace monochat::storage
