#pragma once
// What the send path needs to know about moderation, held in memory so that a send never reads
// SQLite for it (contract v1.1, "Admin additions", "Blocking", "Groups"):
//
//   world mutes     an admin's mute of a user in world, until a time or until lifted
//   group mutes     a group owner's or admin's mute of a member in that group, likewise
//   blocks          who blocks whom (a blocked user cannot send to the blocker's direct chat)
//   slow mode       each user's last new message in world (policy.world_slow_mode_s)
//
// The store is the record; the services that change it (admin, social) write the store first
// and then this. load() reads the store once at start-up.
//
// Thread-safety: every member may be called from any thread. The queries the send path asks are
// one relaxed load when there is nothing to find (no mutes, no blocks, slow mode off).

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <monochat/infra/result.hpp>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace monochat::storage {
class admin_store;
class group_store;
class relation_store;
}

namespace monochat::logic {

class moderation_state {
public:
    moderation_state() = default;
    moderation_state(const moderation_state&) = delete;
    moderation_state& operator=(const moderation_state&) = delete;

    // Reads every world mute, group mute and block from the store (start-up). Errors: the
    // store's.
    boost::asio::awaitable<status> load(storage::admin_store& admin, storage::group_store& groups,
                                        storage::relation_store& relations);

    // ---- world mutes ----

    // until_ms 0: until lifted.
    void mute_in_world(std::uint64_t user_id, std::int64_t until_ms);
    void unmute_in_world(std::uint64_t user_id);
    // Whether the user is muted in world at `now_ms`.
    bool muted_in_world(std::uint64_t user_id, std::int64_t now_ms) const;
    // Every current mute (user id, until_ms), ascending by user id.
    std::vector<std::pair<std::uint64_t, std::int64_t>> world_mutes(std::int64_t now_ms) const;

    // ---- group mutes ----

    // until_ms 0: until lifted.
    void mute_in_group(std::uint64_t group_id, std::uint64_t user_id, std::int64_t until_ms);
    void unmute_in_group(std::uint64_t group_id, std::uint64_t user_id);
    // Whether the user is muted in the group at `now_ms`.
    bool muted_in_group(std::uint64_t group_id, std::uint64_t user_id, std::int64_t now_ms) const;
    // The group's current mutes (user id, until_ms), ascending by user id.
    std::vector<std::pair<std::uint64_t, std::int64_t>> group_mutes(std::uint64_t group_id,
                                                                    std::int64_t now_ms) const;
    // Forgets every mute of a deleted group.
    void forget_group(std::uint64_t group_id);

    // ---- blocks ----

    void block(std::uint64_t user_id, std::uint64_t blocked_id);
    void unblock(std::uint64_t user_id, std::uint64_t blocked_id);
    // Whether `user_id` blocks `blocked_id`.
    bool blocks(std::uint64_t user_id, std::uint64_t blocked_id) const;

    // ---- slow mode in world ----

    // How long (ms) the user must wait before its next new message in world, with one message
    // per `window_ms`; 0: it may send now, and this send is counted (then `taken` is the time of
    // the user's previous counted send, 0 if none, for give_back_world_slot).
    std::int64_t take_world_slot(std::uint64_t user_id, std::int64_t now_ms,
                                 std::int64_t window_ms, std::int64_t& taken);
    // Undoes a take_world_slot whose send did not happen (refused later, or a retry).
    void give_back_world_slot(std::uint64_t user_id, std::int64_t previous);

private:

    mutable std::mutex mutex_;
    std::unordered_map<std::uint64_t, std::int64_t> world_mutes_;  // user -> until_ms
    std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> blocks_;  // blocker -> blocked
    // group -> user -> until_ms
    std::unordered_map<std::uint64_t, std::unordered_map<std::uint64_t, std::int64_t>> group_mutes_;
    std::unordered_map<std::uint64_t, std::int64_t> last_world_send_;
    std::int64_t pruned_at_ms_ = 0;
    std::atomic<std::size_t> world_mute_count_{0};
    std::atomic<std::size_t> block_count_{0};
    std::atomic<std::size_t> group_mute_count_{0};
};

}  // namespace monochat::logic
