#include "storage/sqlite_db.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>
#include <system_error>
#include <utility>

namespace monochat::storage::sqlite {

error make_error_from(int rc, sqlite3* db, std::string_view context) {
    // sqlite3_errmsg describes the connection's most recent failure, which is `rc` when the
    // caller passes the code it just got; without a connection only the generic text is known.
    const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    std::string message = fmt::format("{}: {} (sqlite code {})", context, detail, rc);
    switch (rc & 0xff) {
        case SQLITE_FULL:
        case SQLITE_IOERR:
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_NOMEM:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
            return monochat::make_error(errc::unavailable, std::move(message));
        case SQLITE_CONSTRAINT:
            switch (rc) {
                case SQLITE_CONSTRAINT_UNIQUE:
                case SQLITE_CONSTRAINT_PRIMARYKEY:
                    return monochat::make_error(errc::conflict, std::move(message));
                case SQLITE_CONSTRAINT_FOREIGNKEY:
                    return monochat::make_error(errc::not_found, std::move(message));
                default:
                    // CHECK and NOT NULL: the store validates first, so this is a bug.
                    return monochat::make_error(errc::internal, std::move(message));
            }
        default:
            return monochat::make_error(errc::internal, std::move(message));
    }
}

// ---- statement ----

statement::statement(statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), conn_(other.conn_), lease_(other.lease_) {}

statement::~statement() {
    if (stmt_ == nullptr) {
        return;
    }
    if (lease_ != nullptr) {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
        *lease_ = false;
    } else {
        sqlite3_finalize(stmt_);
    }
}

result<bool> statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    return conn_->make_error(rc, sqlite3_sql(stmt_));
}

status statement::run() {
    for (;;) {
        auto row = step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return {};
        }
    }
}

std::int64_t statement::column_int64(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string statement::column_text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
}

std::string statement::column_blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
}

bool statement::column_is_null(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

status statement::bind_int64(int index, std::int64_t v) {
    const int rc = sqlite3_bind_int64(stmt_, index, v);
    if (rc != SQLITE_OK) {
        return conn_->make_error(rc, "bind");
    }
    return {};
}

status statement::bind_text(int index, std::string_view v) {
    // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer may die before step().
    const int rc =
        sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) {
        return conn_->make_error(rc, "bind");
    }
    return {};
}

status statement::bind_blob(int index, std::string_view v) {
    const int rc = sqlite3_bind_blob64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) {
        return conn_->make_error(rc, "bind");
    }
    return {};
}

status statement::bind_null(int index) {
    const int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) {
        return conn_->make_error(rc, "bind");
    }
    return {};
}

// ---- connection ----

result<std::unique_ptr<connection>> connection::open(const std::string& path,
                                                     const open_options& options) {
    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        error e = make_error_from(rc, db, fmt::format("open {}", path));
        sqlite3_close_v2(db);  // also required when open failed but allocated a handle
        return e;
    }
    std::unique_ptr<connection> conn(new connection(db, path));
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout_ms));

    if (options.read_only) {
        // A reader never writes; query_only turns a bug that tries into an error.
        if (auto st = conn->exec("PRAGMA query_only = ON;"); !st) {
            return st.error();
        }
        return conn;
    }

    // journal_mode answers with the mode in effect: a file that cannot use WAL (some network
    // filesystems) answers something else, and then readers would block the writer.
    {
        auto stmt = conn->prepare("PRAGMA journal_mode = WAL;");
        if (!stmt) {
            return stmt.error();
        }
        auto row = stmt->step();
        if (!row) {
            return row.error();
        }
        if (!*row || stmt->column_text(0) != "wal") {
            return monochat::make_error(errc::unavailable,
                                        fmt::format("{}: cannot switch to WAL mode", path));
        }
    }
    const char* sync =
        options.synchronous_full ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;";
    if (auto st = conn->exec(sync); !st) {
        return st.error();
    }
    if (auto st = conn->exec("PRAGMA foreign_keys = ON;"); !st) {
        return st.error();
    }
    return conn;
}

connection::~connection() {
    for (auto& [sql, entry] : cache_) {
        sqlite3_finalize(entry.stmt);
    }
    sqlite3_close_v2(db_);
}

status connection::exec(const char* sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        sqlite3_free(message);  // sqlite3_errmsg(db_) still holds the same text
        return make_error(rc, std::string_view(sql).substr(0, 60));
    }
    return {};
}

result<statement> connection::prepare(std::string_view sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end() && !it->second.leased) {
        it->second.leased = true;
        return statement(it->second.stmt, *this, &it->second.leased);
    }
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        return make_error(rc, fmt::format("prepare {}", sql));
    }
    if (it != cache_.end()) {
        return statement(stmt, *this, nullptr);
    }
    // Node-based map: the entry (and its `leased` flag) keeps its address while others are added.
    auto entry = cache_.emplace(std::string(sql), cached{stmt, true}).first;
    return statement(stmt, *this, &entry->second.leased);
}

std::int64_t connection::changes() const { return sqlite3_changes64(db_); }

bool connection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

// ---- transaction ----

result<transaction> transaction::begin(connection& conn, bool immediate) {
    if (auto st = conn.exec(immediate ? "BEGIN IMMEDIATE;" : "BEGIN DEFERRED;"); !st) {
        return st.error();
    }
    return transaction(conn);
}

transaction::~transaction() {
    if (conn_ != nullptr && conn_->in_transaction()) {
        // Deliberately dropped: a failed rollback leaves nothing more to do, and the
        // transaction's error is already being returned.
        (void)conn_->exec("ROLLBACK;");
    }
}

status transaction::commit() {
    connection* conn = std::exchange(conn_, nullptr);
    if (auto st = conn->exec("COMMIT;"); !st) {
        if (conn->in_transaction()) {
            (void)conn->exec("ROLLBACK;");  // deliberately dropped: the COMMIT error wins
        }
        return st.error();
    }
    return {};
}

// ---- backup ----

status backup_database(connection& source, const std::string& dest_path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(dest_path, ec)) {
        return monochat::make_error(errc::conflict, fmt::format("backup: {} exists", dest_path));
    }
    // Written under a temporary name and renamed when complete, so `dest_path` never names a
    // partial copy.
    const std::string partial = dest_path + ".partial";
    fs::remove(partial, ec);

    sqlite3* dest = nullptr;
    int rc =
        sqlite3_open_v2(partial.c_str(), &dest,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        error e = make_error_from(rc, dest, fmt::format("backup: open {}", partial));
        sqlite3_close_v2(dest);
        return e;
    }
    sqlite3_backup* backup = sqlite3_backup_init(dest, "main", source.handle(), "main");
    if (backup == nullptr) {
        error e = make_error_from(sqlite3_errcode(dest), dest, "backup: init");
        sqlite3_close_v2(dest);
        fs::remove(partial, ec);
        return e;
    }
    // -1: every page in one step, under one read snapshot of the source.
    rc = sqlite3_backup_step(backup, -1);
    const int finish_rc = sqlite3_backup_finish(backup);
    if (rc == SQLITE_DONE) {
        rc = finish_rc;
    }
    if (rc != SQLITE_OK) {
        error e = make_error_from(rc, dest, "backup: copy");
        sqlite3_close_v2(dest);
        fs::remove(partial, ec);
        return e;
    }
    rc = sqlite3_close_v2(dest);
    if (rc != SQLITE_OK) {
        fs::remove(partial, ec);
        return make_error_from(rc, nullptr, "backup: close");
    }
    fs::rename(partial, dest_path, ec);
    if (ec) {
        error e = monochat::make_error(
            errc::unavailable, fmt::format("backup: rename to {}: {}", dest_path, ec.message()));
        fs::remove(partial, ec);
        return e;
    }
    return {};
}

}  // namespace monochat::storage::sqlite
