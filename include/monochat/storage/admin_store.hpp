#pragma once
// The administration role of the social store: the user listing, suspension, world mutes and
// the online backup.
//
// The contract every role of the social store shares (ids, times, thread-safety, completion,
// errors) is stated in social_records.hpp.

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <monochat/infra/result.hpp>
#include <monochat/storage/social_records.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monochat::storage {

class admin_store {
public:
    admin_store() = default;
    virtual ~admin_store() = default;
    admin_store(const admin_store&) = delete;
    admin_store& operator=(const admin_store&) = delete;

    template <class T>
    using task = store_task<T>;

    // ---- administration ----

    // Users (guests included) with ids above `after`, ascending, at most `limit`.
    virtual task<std::vector<user_record>> list_users(std::uint64_t after, std::size_t limit) = 0;
    // Errors: not_found.
    virtual task<void> set_suspended(std::uint64_t user_id, bool suspended) = 0;

    // ---- world moderation ----

    // Mutes the user in world until `until_ms` (0: until lifted), replacing an earlier mute;
    // mutes that ended before `now_ms` are forgotten on the way. Errors: not_found (no user).
    virtual task<void> set_world_mute(std::uint64_t user_id, std::int64_t until_ms,
                                      std::int64_t now_ms) = 0;
    // Errors: not_found (not muted).
    virtual task<void> lift_world_mute(std::uint64_t user_id) = 0;
    // Every world mute, ended ones included (the caller compares with its clock).
    virtual task<std::vector<world_mute_record>> world_mutes() = 0;

    // ---- operations ----

    // Writes a consistent copy of the database into the file `path` (SQLite online backup),
    // while reads and writes go on. The copy appears under `path` only when complete.
    // Errors: conflict (`path` exists), unavailable (cannot write it).
    virtual task<void> backup_to(std::string path) = 0;
};

}  // namespace monochat::storage
