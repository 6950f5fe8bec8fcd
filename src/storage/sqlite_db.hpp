#pragma once
// A small RAII layer over the SQLite C API, private to storage. It forward-declares the SQLite
// handles so that its users (the social store, the migrations, their tests) never include
// <sqlite3.h>.
//
// Thread-safety: none. A connection and its statements belong to one thread at a time (the
// writer thread, or the reader thread that leased it); connections are opened with
// SQLITE_OPEN_NOMUTEX accordingly.
//
// Statements are prepared once per connection and cached by their SQL text; a `statement` is a
// lease on the cached one that resets it and clears its bindings when it goes away. SQL is
// always a constant; values are bound (no string-built SQL anywhere).

#include <cstdint>
#include <memory>
#include <monochat/infra/result.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace monochat::storage::sqlite {

// Converts an SQLite result code into the protocol's vocabulary, with `context` (what was
// being done) and SQLite's message. SQLITE_FULL, IOERR, BUSY, LOCKED, NOMEM, CANTOPEN and
// READONLY are unavailable (the environment, maybe transient); a UNIQUE or PRIMARY KEY
// constraint is conflict, a FOREIGN KEY constraint not_found; anything else is internal.
[[nodiscard]] error make_error_from(int rc, sqlite3* db, std::string_view context);

// Bytes bound as a BLOB (a plain string_view binds as TEXT).
struct blob {
    std::string_view bytes;
};

class connection;

class statement {
public:
    statement(statement&& other) noexcept;
    statement& operator=(statement&&) = delete;
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    ~statement();

    // Binds arguments to parameters 1..n. Supported: integers (unsigned ones are stored as
    // their two's-complement int64, so ids must stay below 2^63), bool, std::string_view /
    // std::string / const char* (TEXT), blob (BLOB), std::nullopt (NULL), std::optional<T>.
    template <class... Args>
    [[nodiscard]] status bind(const Args&... args) {
        int index = 0;
        status st;
        ((st.has_value() ? (st = bind_one(++index, args), 0) : 0), ...);
        return st;
    }

    // Steps once: true when a row is available, false when done.
    [[nodiscard]] result<bool> step();
    // Steps to the end, ignoring rows (INSERT, UPDATE, DELETE).
    [[nodiscard]] status run();

    std::int64_t column_int64(int col) const;
    std::uint64_t column_uint64(int col) const {
        return static_cast<std::uint64_t>(column_int64(col));
    }
    bool column_bool(int col) const { return column_int64(col) != 0; }
    std::string column_text(int col) const;
    std::string column_blob(int col) const;
    bool column_is_null(int col) const;

private:
    friend class connection;
    // `lease`: the cache entry's flag, cleared when this lease ends; null for an uncached
    // statement, finalized instead.
    statement(sqlite3_stmt* stmt, connection& conn, bool* lease) noexcept
        : stmt_(stmt), conn_(&conn), lease_(lease) {}

    status bind_int64(int index, std::int64_t v);
    status bind_text(int index, std::string_view v);
    status bind_blob(int index, std::string_view v);
    status bind_null(int index);

    template <class T>
    status bind_one(int index, const T& v) {
        if constexpr (std::is_same_v<T, bool>) {
            return bind_int64(index, v ? 1 : 0);
        } else if constexpr (std::is_integral_v<T>) {
            return bind_int64(index, static_cast<std::int64_t>(v));
        } else if constexpr (std::is_same_v<T, blob>) {
            return bind_blob(index, v.bytes);
        } else if constexpr (std::is_same_v<T, std::nullopt_t>) {
            return bind_null(index);
        } else if constexpr (requires {
                                 v.has_value();
                                 *v;
                             }) {
            return v.has_value() ? bind_one(index, *v) : bind_null(index);
        } else {
            return bind_text(index, std::string_view(v));
        }
    }

    sqlite3_stmt* stmt_;
    connection* conn_;
    bool* lease_;
};

struct open_options {
    // Read connections set `query_only` and skip the journal-mode and synchronous pragmas,
    // which belong to the writer.
    bool read_only = false;
    bool synchronous_full = true;
    std::int64_t busy_timeout_ms = 5000;
};

class connection {
public:
    // Opens (creating when missing) the database file and applies the pragmas: WAL journal,
    // synchronous, foreign keys, busy timeout; extended result codes on.
    [[nodiscard]] static result<std::unique_ptr<connection>> open(const std::string& path,
                                                                  const open_options& options);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Runs constant SQL (pragmas, migration scripts, transaction control), possibly several
    // statements. Never pass text that contains values: bind them with prepare().
    [[nodiscard]] status exec(const char* sql);

    // A lease on the cached prepared statement for `sql`. If that statement is already leased
    // (a nested use), a fresh uncached one is prepared for this lease.
    [[nodiscard]] result<statement> prepare(std::string_view sql);

    // Rows changed by the last INSERT, UPDATE or DELETE.
    std::int64_t changes() const;
    // True inside BEGIN ... COMMIT. SQLite rolls a transaction back by itself on some errors
    // (SQLITE_FULL, IOERR, NOMEM, BUSY): this tells whether that happened.
    bool in_transaction() const;

    [[nodiscard]] error make_error(int rc, std::string_view context) const {
        return make_error_from(rc, db_, context);
    }

    sqlite3* handle() const noexcept { return db_; }
    const std::string& path() const noexcept { return path_; }

private:
    connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

    struct cached {
        sqlite3_stmt* stmt = nullptr;
        bool leased = false;
    };
    struct text_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    sqlite3* db_;
    std::string path_;
    std::unordered_map<std::string, cached, text_hash, std::equal_to<>> cache_;
};

// A transaction that rolls back unless committed. `immediate` takes the write lock at once
// (the writer); deferred starts a read snapshot at the first read (readers).
class transaction {
public:
    [[nodiscard]] static result<transaction> begin(connection& conn, bool immediate);
    transaction(transaction&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
    transaction& operator=(transaction&&) = delete;
    ~transaction();

    [[nodiscard]] status commit();

private:
    explicit transaction(connection& conn) : conn_(&conn) {}
    connection* conn_;
};

// ---- statement helpers: prepare, bind, step, map rows (every SQLite store's) ----

template <class... Args>
result<statement> bound(connection& c, std::string_view sql, const Args&... args) {
    auto stmt = c.prepare(sql);
    if (!stmt) {
        return stmt.error();
    }
    if (auto st = stmt->bind(args...); !st) {
        return st.error();
    }
    return stmt;
}

// Runs a statement that returns no rows; answers how many rows it changed.
template <class... Args>
result<std::int64_t> execute(connection& c, std::string_view sql, const Args&... args) {
    auto stmt = bound(c, sql, args...);
    if (!stmt) {
        return stmt.error();
    }
    if (auto st = stmt->run(); !st) {
        return st.error();
    }
    return c.changes();
}

template <class Map, class... Args>
auto query_one(connection& c, std::string_view sql, Map map, const Args&... args)
    -> result<std::optional<decltype(map(std::declval<const statement&>()))>> {
    auto stmt = bound(c, sql, args...);
    if (!stmt) {
        return stmt.error();
    }
    auto row = stmt->step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return std::nullopt;
    }
    return std::optional(map(*stmt));
}

template <class Map, class... Args>
auto query_all(connection& c, std::string_view sql, Map map, const Args&... args)
    -> result<std::vector<decltype(map(std::declval<const statement&>()))>> {
    std::vector<decltype(map(std::declval<const statement&>()))> rows;
    auto stmt = bound(c, sql, args...);
    if (!stmt) {
        return stmt.error();
    }
    for (;;) {
        auto row = stmt->step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return rows;
        }
        rows.push_back(map(*stmt));
    }
}

// Copies the database of `source` into a new file `dest_path` with the online backup API, in
// one step, so the copy is one consistent snapshot (in WAL mode the writer is not blocked).
// Errors: conflict (`dest_path` exists), unavailable (cannot write it).
[[nodiscard]] status backup_database(connection& source, const std::string& dest_path);

}  // namespace monochat::storage::sqlite
