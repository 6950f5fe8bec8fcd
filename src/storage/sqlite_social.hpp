#pragma once
// The SQLite social store's shared core, private to storage: one database (the writer thread,
// the reader pool, the migrations done at open) that every role implementation
// (sqlite_user_store.cpp, sqlite_relation_store.cpp, sqlite_group_store.cpp,
// sqlite_read_state_store.cpp, sqlite_admin_store.cpp) runs its transactions on, and the
// row mappings they share (the statement helpers are sqlite_db.hpp's).
//
// Thread-safety: social_db's write() and read() may be called from any thread; each runs its
// function on the store's own threads (sqlite_threads.hpp) and completes on the awaiting
// coroutine's executor.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <monochat/infra/metrics.hpp>
#include <monochat/infra/result.hpp>
#include <monochat/storage/social_changes.hpp>
#include <monochat/storage/social_stores.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/sqlite_db.hpp"
#include "storage/sqlite_threads.hpp"

namespace monochat::storage::social_sql {

using sqlite::connection;
using sqlite::statement;

constexpr std::uint64_t max_id =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// Ids are stored as SQLite INTEGER (int64): valid ones are 1..2^63-1.
inline bool valid_id(std::uint64_t id) { return id != 0 && id <= max_id; }

inline std::int64_t to_limit(std::size_t limit) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(limit, max_id));
}

// The database every role shares. Destroying it completes pending writes, then joins its
// threads.
class social_db {
public:
    social_db(std::unique_ptr<connection> writer_conn,
              std::vector<std::unique_ptr<connection>> reader_conns, std::size_t max_batch,
              infra::metrics_registry& metrics);
    ~social_db();
    social_db(const social_db&) = delete;
    social_db& operator=(const social_db&) = delete;

    // Runs `fn(connection&) -> result<T>` in the writer's next group-committed transaction.
    template <class T, class F>
    store_task<T> write(F fn) {
        return writer_.write<T>(std::move(fn));
    }
    // Runs `fn(connection&) -> result<T>` on a reader connection (a snapshot of the last commit).
    template <class T, class F>
    store_task<T> read(F fn) {
        return readers_.read<T>(std::move(fn));
    }
    sqlite::reader_pool& readers() { return readers_; }
    // Where a role tells, after its commit, a change that another role's cache holds.
    social_change_hub& changes() { return changes_; }

private:
    infra::metrics_registry& metrics_;
    social_change_hub changes_;
    sqlite::reader_pool readers_;
    // Declared last: destroyed first, so pending writes complete while readers still exist.
    sqlite::writer writer_;
};

// Opens (creating and migrating as needed) the database of `options`; the errors of
// open_sqlite_social_stores.
[[nodiscard]] result<std::unique_ptr<social_db>> open_social_db(
    const sqlite_social_store_options& options, infra::metrics_registry& metrics);

// The roles, each on the shared database, which must outlive them.
std::unique_ptr<user_store> make_sqlite_user_store(social_db& db);
std::unique_ptr<relation_store> make_sqlite_relation_store(social_db& db);
// `journal_clock` and `group_last_seq`: sqlite_social_store_options' clock and group_last_seq.
std::unique_ptr<group_store> make_sqlite_group_store(
    social_db& db, const infra::clock* journal_clock,
    std::function<std::uint64_t(std::uint64_t)> group_last_seq);
std::unique_ptr<read_state_store> make_sqlite_read_state_store(social_db& db);
std::unique_ptr<admin_store> make_sqlite_admin_store(social_db& db);

// The statement helpers (bound, execute, query_one, query_all) are sqlite_db.hpp's.
using sqlite::bound;
using sqlite::execute;
using sqlite::query_all;
using sqlite::query_one;

// ---- row mappings and checks shared by the roles (sqlite_social_core.cpp) ----
// The column lists are macros only so that they concatenate with the constant SQL around them.

#define MONOCHAT_USER_INSERT_COLUMNS "id, username, display_name, password_hash, guest, created_ms"
#define MONOCHAT_USER_COLUMNS MONOCHAT_USER_INSERT_COLUMNS ", suspended, bot, avatar_file_id"
#define MONOCHAT_TOKEN_COLUMNS \
    "token_hash, user_id, created_ms, expires_ms, session_id, last_used_ms, user_agent"
#define MONOCHAT_GROUP_COLUMNS "id, name, owner_id, public, member_count, created_ms"
// What get_group and the directory read: the columns above and the description.
#define MONOCHAT_GROUP_FULL_COLUMNS MONOCHAT_GROUP_COLUMNS ", description"
#define MONOCHAT_REQUEST_COLUMNS \
    "id, from_user_id, to_user_id, note, status, created_ms, updated_ms"

user_record user_from(const statement& s, int first = 0);
std::uint64_t id_from(const statement& s);
bool true_from(const statement&);
error user_not_found(std::uint64_t id);
// The user's guest flag; not_found when the user does not exist.
result<bool> is_guest(connection& c, std::uint64_t id);
// not_found when the user does not exist.
status require_user(connection& c, std::uint64_t id);

}  // namespace monochat::storage::social_sql
