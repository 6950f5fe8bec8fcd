#pragma once
// Who is online, as logic sees it. Gateway's connection registry implements it (a user is
// online while at least one of their WebSocket connections is open); logic reads it for the
// `online` field of user objects and for `/conversations/{cid}/online`.
// Thread-safety: implementations answer from any thread.

#include <cstdint>

namespace monochat::logic {

class presence_view {
public:
    virtual ~presence_view() = default;
    virtual bool is_online(std::uint64_t user_id) const = 0;
    // Connected users in all (for the world room's online count).
    virtual std::uint64_t online_users() const = 0;
};

}  // namespace monochat::logic
