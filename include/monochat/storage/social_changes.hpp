#pragma once
// Changes that one role of the social store makes to what another role's cache holds: the
// explicit dependency between the roles (docs/architecture.md, "Storage layout").
//
// Deleting users (user_store: delete_user, delete_account, purge_guests) removes their
// memberships and friendships in the same transaction, which the membership cache (group_store)
// and the directory cache (friendships) hold; a suspension (admin_store: set_suspended) changes
// a user record the directory cache holds. The SQLite roles tell the hub after each such change
// has committed, before the call completes; the caches listen and evict.
//
// Thread-safety: subscribe and unsubscribe only while nothing calls the store (wiring and
// teardown); the notifications may come from any thread, concurrently, and a listener's
// handlers must be thread-safe and must not wait.

#include <algorithm>
#include <cstdint>
#include <vector>

namespace monochat::storage {

class social_change_listener {
public:
    virtual ~social_change_listener() = default;
    // Users were deleted, and with them their memberships, friendships and friend requests.
    virtual void users_removed() noexcept = 0;
    // A user record changed through another role than the users role (a suspension).
    virtual void user_changed(std::uint64_t user_id) noexcept = 0;
};

class social_change_hub {
public:
    social_change_hub() = default;
    social_change_hub(const social_change_hub&) = delete;
    social_change_hub& operator=(const social_change_hub&) = delete;

    void subscribe(social_change_listener& l) { listeners_.push_back(&l); }
    void unsubscribe(social_change_listener& l) {
        listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), &l), listeners_.end());
    }

    void users_removed() const noexcept {
        for (auto* l : listeners_) {
            l->users_removed();
        }
    }
    void user_changed(std::uint64_t user_id) const noexcept {
        for (auto* l : listeners_) {
            l->user_changed(user_id);
        }
    }

private:
    std::vector<social_change_listener*> listeners_;
};

}  // namespace monochat::storage
