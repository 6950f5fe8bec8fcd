#pragma once
// The social store as its five roles (user_store.hpp, relation_store.hpp, group_store.hpp,
// read_state_store.hpp, admin_store.hpp): the set the composition root builds and passes, the
// SQLite implementation that opens it, and the caches that wrap single roles of it.
//
// The roles share one SQLite database (one writer thread, a pool of readers, one schema); a
// change one role makes to what another role's cache holds reaches that cache through the
// set's change hub (social_changes.hpp).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <monochat/infra/result.hpp>
#include <monochat/storage/admin_store.hpp>
#include <monochat/storage/group_store.hpp>
#include <monochat/storage/read_state_store.hpp>
#include <monochat/storage/relation_store.hpp>
#include <monochat/storage/sent_record.hpp>
#include <monochat/storage/social_changes.hpp>
#include <monochat/storage/social_records.hpp>
#include <monochat/storage/user_store.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monochat::infra {
class clock;
class metrics_registry;
}  // namespace monochat::infra
namespace monochat::storage {
class message_log;
}

namespace monochat::storage {

// The five roles, each possibly behind its caches. Members are destroyed in reverse order:
// the roles first, then what they share.
struct social_stores {
    social_stores() = default;
    ~social_stores() = default;
    social_stores(social_stores&&) noexcept = default;
    // The roles held go before what they share, in reverse order, as in destruction.
    social_stores& operator=(social_stores&& other) noexcept {
        if (this != &other) {
            admin.reset();
            read_state.reset();
            groups.reset();
            relations.reset();
            users.reset();
            shared = std::move(other.shared);
            changes = other.changes;
            users = std::move(other.users);
            relations = std::move(other.relations);
            groups = std::move(other.groups);
            read_state = std::move(other.read_state);
            admin = std::move(other.admin);
        }
        return *this;
    }
    social_stores(const social_stores&) = delete;
    social_stores& operator=(const social_stores&) = delete;

    // What the roles share (the SQLite database and the change hub), opaque.
    std::shared_ptr<void> shared;
    // Where changes that cross roles are told; owned by `shared`.
    social_change_hub* changes = nullptr;
    std::unique_ptr<user_store> users;
    std::unique_ptr<relation_store> relations;
    std::unique_ptr<group_store> groups;
    std::unique_ptr<read_state_store> read_state;
    std::unique_ptr<admin_store> admin;
};

struct sqlite_social_store_options {
    // The database file; created (with the current schema) when missing. Default: none.
    std::string path;
    // Read connections, each with its own thread (storage.sqlite_readers). Default: 4.
    std::size_t readers = 4;
    // true: `synchronous=FULL`, every committed write is fsync'ed before it completes, so it
    // survives power loss like an acknowledged message (storage.sync = always). false:
    // `synchronous=NORMAL`, a commit survives a process crash but the last ones may be lost on
    // power loss (storage.sync = none). Writes are group-committed either way. Default: true.
    bool synchronous_full = true;
    // How long a statement waits for a lock held by another process (a backup tool, the sqlite3
    // shell) before failing with unavailable. Default: 5000 ms.
    std::int64_t busy_timeout_ms = 5000;
    // Most write operations committed in one transaction. Default: 256.
    std::size_t max_write_batch = 256;
    // The group event journal's clock (the one time the store reads itself: remove_member and
    // update_group are given none). Default: none, the system clock.
    const infra::clock* clock = nullptr;
    // The group conversation's last_seq for a group id (a journal row's after_seq), read inside
    // the change's transaction. Must not block. Default: none, after_seq 0.
    std::function<std::uint64_t(std::uint64_t group_id)> group_last_seq;
};

// Opens (creating and migrating as needed) the SQLite store: one database, its five roles.
// Errors: invalid_argument (no path, zero readers), unavailable (cannot open or write the
// file), internal (the file's schema is newer than this build knows, or it is not a monochat
// database). Metrics are registered in `metrics`, which must outlive the store. Destroying the
// set completes pending writes, then joins its threads; no operation may be started after
// destruction begins.
[[nodiscard]] result<social_stores> open_sqlite_social_stores(
    const sqlite_social_store_options& options, infra::metrics_registry& metrics);

// The bounded membership cache of hot groups (shared/architecture.md, "Caches ... membership of
// hot groups", the Redis of the original design). Wraps the groups role only: member_role_of,
// member_ids and member_count of a cached group are answered from memory; every call that
// changes a membership (add_members, join_group, join_by_invite, remove_member, ban_member,
// set_member_role, create_group) updates or evicts the group. Deleting users (the users role)
// evicts every group, through `changes` (social_changes.hpp). Everything else goes straight to
// the wrapped store.
struct membership_cache_options {
    // Groups kept, least recently used evicted first. Default: 4096.
    std::size_t max_groups = 4096;
    // Member ids kept over all groups. Default: 2,000,000 (about 32 MB).
    std::size_t max_members = 2'000'000;
    // Groups larger than this are never cached (their fan-out reads shards anyway).
    // Default: 200,000.
    std::size_t max_group_size = 200'000;
};

// The member lists the membership cache holds, read without waiting: the delivery router reads
// them on the storage writer thread, where it must not wait for SQLite.
class member_snapshots {
public:
    virtual ~member_snapshots() = default;
    // The group's member ids, ascending, shared with the cache (never copied); null when the
    // group is not cached now, or too large to be. Counts as a use (LRU) but never fills.
    virtual std::shared_ptr<const std::vector<std::uint64_t>> cached_member_ids(
        std::uint64_t group_id) = 0;
};

// `snapshots`, when given, receives the cache's member_snapshots (owned by the returned store).
// `changes` must outlive the cache.
std::unique_ptr<group_store> make_membership_cache(std::unique_ptr<group_store> inner,
                                                   social_change_hub& changes,
                                                   membership_cache_options options,
                                                   infra::metrics_registry& metrics,
                                                   member_snapshots** snapshots = nullptr);

// The directory cache (src/storage/directory_cache.cpp): user records by id (get_user,
// get_users) and friendships (are_friends) from memory, so that a direct chat's access check
// reads no SQLite. Wraps the users and relations roles: every call there that changes a user
// record or a friendship evicts it; a suspension (the administration role) and deleting users
// reach it through `changes` (social_changes.hpp).
struct directory_cache_options {
    // User records kept, least recently used evicted first (storage.cache_users). 0: none.
    std::size_t max_users = 100'000;
    // Friendship answers kept, yes or no, per pair (storage.cache_friendships). 0: none.
    std::size_t max_friendships = 200'000;
};

// Where the send path hands a sent record (src/storage/read_state_buffer.cpp).
class sent_recorder {
public:
    virtual ~sent_recorder() = default;
    // Never blocks and never fails: the record is durable already in the message log's queue
    // (append_request::record_sent); this only makes the social store learn it soon, and every
    // read of read state or direct chats through the buffer wait for it.
    virtual void record(sent_record r) = 0;
};

struct read_state_buffer_options {
    // Longest a record waits in memory when no read asks for it (storage.read_state_flush_ms).
    // Default: 1 s.
    std::chrono::milliseconds flush_delay{1000};
    // (user, conversation) rows merged in memory past which a flush starts at once. Default:
    // 100,000.
    std::size_t max_pending = 100'000;
};

struct buffered_read_state {
    // Reads here reflect every record made before them.
    std::unique_ptr<read_state_store> read_state;
    // Its backup_to waits for the records made before it too. Destroy it before `read_state`.
    std::unique_ptr<admin_store> admin;
    sent_recorder* recorder = nullptr;  // owned by `read_state`
};

// The read-state buffer in front of the read-state role `inner`: the send path records sent
// records into memory (recorder), a background flush writes them in batches (record_sent) and
// drops them from the log's queue (settle_sent); set_read_position, get_read_position,
// read_positions, conversation_readers, add_mentions, unread_mentions and direct_conversations
// wait for every record made before them, and so does the backup_to of the administration role
// `admin`, which the buffer wraps for that call alone (a backup holds every recorded send).
// Writes the log's unsettled records first (a crash's). Errors: from the log's queue or the
// store. The log must outlive the buffer.
[[nodiscard]] result<buffered_read_state> make_read_state_buffer(
    std::unique_ptr<read_state_store> inner, std::unique_ptr<admin_store> admin, message_log& log,
    read_state_buffer_options options, infra::metrics_registry& metrics);

// What the directory cache holds, read without waiting: the send path's access check answers
// from it without a coroutine or a thread hop when both users (and their friendship) are
// cached, and asks the cache's awaitable calls otherwise.
class directory_snapshots {
public:
    virtual ~directory_snapshots() = default;
    // Whether the user is a guest, when its record is cached; nullopt: not cached.
    virtual std::optional<bool> cached_guest(std::uint64_t user_id) = 0;
    // Whether the two users are friends, when cached; nullopt: not cached.
    virtual std::optional<bool> cached_friendship(std::uint64_t a, std::uint64_t b) = 0;
};

struct directory_cached_stores {
    std::unique_ptr<user_store> users;
    std::unique_ptr<relation_store> relations;
    // Owned by `users` and `relations` together: valid while either lives.
    directory_snapshots* snapshots = nullptr;
};

// `changes` must outlive the cache.
directory_cached_stores make_directory_cache(std::unique_ptr<user_store> users,
                                             std::unique_ptr<relation_store> relations,
                                             social_change_hub& changes,
                                             directory_cache_options options,
                                             infra::metrics_registry& metrics);

}  // namespace monochat::storage