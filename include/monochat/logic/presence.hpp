#pragma once
// Presence as logic needs it: whether a user has a live connection right now, for the `online`
// field of user objects. Gateway's connection registry implements it (it knows the sessions);
// logic only reads it, so logic never depends on gateway.
//
// Thread-safety: is_online may be called from any thread, often (once per user object written),
// so implementations answer from memory without blocking.

#include <cstdint>

namespace monochat::logic {

class presence_view {
public:
    presence_view() = default;
    virtual ~presence_view() = default;
    presence_view(const presence_view&) = delete;
    presence_view& operator=(const presence_view&) = delete;

    [[nodiscard]] virtual bool is_online(std::uint64_t user_id) const = 0;
    // Users with at least one live connection (the world room's online count).
    [[nodiscard]] virtual std::uint64_t online_users() const = 0;
};

// Everyone offline: the stand-in until a connection registry is wired, and for tests.
class no_presence final : public presence_view {
public:
    [[nodiscard]] bool is_online(std::uint64_t /*user_id*/) const override { return false; }
    [[nodiscard]] std::uint64_t online_users() const override { return 0; }
};

}  // namespace monochat::logic
