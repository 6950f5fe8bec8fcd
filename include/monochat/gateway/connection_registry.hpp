#pragma once
// The connection registry: user -> live WebSocket sessions, the world room's subscribers, and
// token -> sessions for logout (the "user -> live sessions" map of shared/architecture.md; in a
// cluster it becomes a directory in Redis).
//
// Sharded by user id and by session id so that fan-out from several bus consumer threads and
// connects/disconnects on network threads rarely meet on one lock. A push only queues bytes on
// the session (ws_connection::push never blocks), so holding a shard lock while pushing is
// cheap and keeps a session from being removed half-way through a delivery.
// Thread-safety: every member may be called from any thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <monochat/logic/presence.hpp>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace monochat::gateway {

// A live WebSocket session as the registry sees it.
class ws_connection {
public:
    virtual ~ws_connection() = default;
    virtual std::uint64_t session_id() const = 0;
    virtual std::uint64_t user_id() const = 0;
    virtual const std::string& token_hash() const = 0;
    // Queues a text frame. Never blocks; a full outbox closes the session with 4008.
    // Returns false when the frame was not queued (closing, or overflow).
    virtual bool push(const std::shared_ptr<const std::string>& frame) = 0;
    // Queues a text frame like push(), but leaves the wake-up to the caller: when the frame is
    // the first in an empty queue, the connection appends itself to `wake_later`, and the caller
    // calls wake() once it has queued everything it has for it, so that several frames cost the
    // connection one wake-up and one write. This default pushes and wakes at once.
    virtual bool push_held(const std::shared_ptr<const std::string>& frame,
                           std::vector<std::shared_ptr<ws_connection>>& wake_later) {
        (void)wake_later;
        return push(frame);
    }
    // Writes what push_held() queued. Any thread.
    virtual void wake() {}
    // Like wake(), called on an I/O thread: the write may run right here, before this returns,
    // when nothing else holds the connection. This default is wake().
    virtual void wake_here() { wake(); }
    // Starts a close handshake with `code`; idempotent.
    virtual void close(std::uint16_t code, std::string reason) = 0;
};

class connection_registry final : public logic::presence_view {
public:
    connection_registry() = default;

    // Returns true when this is the user's first live session (the user came online).
    bool add(const std::shared_ptr<ws_connection>& c);
    // Returns true when this was the user's last live session (the user went offline).
    // Also drops a world subscription.
    bool remove(const ws_connection& c);

    void subscribe_world(const std::shared_ptr<ws_connection>& c);
    void unsubscribe_world(const ws_connection& c);

    // Pushes to every session of `user_id` except `exclude_session`; returns how many got it.
    // With `traced_message`, each session reached is recorded in the trace buffer.
    std::size_t push_to_user(std::uint64_t user_id, const std::shared_ptr<const std::string>& frame,
                             std::uint64_t exclude_session = 0, std::uint64_t traced_message = 0);
    // A large group's share of `lane` (of `lanes`): pushes to every session of the users in
    // `members` (ids ascending) whose registry shard is the lane's (shard % lanes == lane),
    // except `exclude_session` and the sessions of `exclude_user`; returns how many got it.
    // Walks the members, with a lookup each, or, when fewer users are online than there are
    // members, merges each shard's ascending online users into `members`. A user's
    // sessions are always in one lane, so calls made lane by lane in sequence reach each session
    // in that sequence. With `wake_later`, the connections are pushed with push_held() and
    // those to wake are appended there (see ws_connection::push_held).
    std::size_t push_to_members(std::span<const std::uint64_t> members,
                                const std::shared_ptr<const std::string>& frame,
                                std::uint64_t exclude_session, std::uint64_t exclude_user,
                                std::uint64_t traced_message, std::size_t lane, std::size_t lanes,
                                std::vector<std::shared_ptr<ws_connection>>* wake_later = nullptr);
    // Pushes to every world subscriber except `exclude_session` and the sessions of
    // `exclude_user`; returns how many got it.
    std::size_t push_to_world(const std::shared_ptr<const std::string>& frame,
                              std::uint64_t exclude_session = 0, std::uint64_t exclude_user = 0,
                              std::uint64_t traced_message = 0);

    void close_token(const std::string& token_hash, std::uint16_t code, const std::string& reason);
    void close_user(std::uint64_t user_id, std::uint16_t code, const std::string& reason);
    void close_all(std::uint16_t code, const std::string& reason);

    std::size_t connections() const { return connections_.load(std::memory_order_relaxed); }
    std::size_t world_subscribers() const;

    bool is_online(std::uint64_t user_id) const override;
    std::uint64_t online_users() const override { return online_users_.load(std::memory_order_relaxed); }

private:
    static constexpr std::size_t shard_count = 32;
    using conn_list = std::vector<std::shared_ptr<ws_connection>>;

    struct user_shard {
        mutable std::mutex mutex;
        std::unordered_map<std::uint64_t, conn_list> users;
        // The keys of `users`, ascending, each with its value (a map node's, so it stays put
        // until the key is erased): the large-group walk needs no lookup per user.
        std::vector<std::pair<std::uint64_t, const conn_list*>> online;
    };
    struct world_shard {
        mutable std::mutex mutex;
        std::unordered_map<std::uint64_t, std::shared_ptr<ws_connection>> sessions;
    };

    user_shard& shard_of_user(std::uint64_t user_id) { return users_[user_id % shard_count]; }
    const user_shard& shard_of_user(std::uint64_t user_id) const { return users_[user_id % shard_count]; }
    world_shard& shard_of_session(std::uint64_t id) { return world_[id % shard_count]; }

    // Calls f on every session (a snapshot taken shard by shard, called without locks).
    void for_each(const std::function<void(ws_connection&)>& f);

    std::array<user_shard, shard_count> users_;
    std::array<world_shard, shard_count> world_;
    std::atomic<std::size_t> connections_{0};
    std::atomic<std::uint64_t> online_users_{0};
};

}  // namespace monochat::gateway
