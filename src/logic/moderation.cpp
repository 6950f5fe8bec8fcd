#include <monochat/logic/moderation.hpp>

#include <algorithm>
#include <monochat/storage/admin_store.hpp>
#include <monochat/storage/group_store.hpp>
#include <monochat/storage/relation_store.hpp>

namespace monochat::logic {

namespace {

// The slow-mode table drops entries older than the window at most this often.
constexpr std::int64_t prune_every_ms = 60'000;

}  // namespace

boost::asio::awaitable<status> moderation_state::load(storage::admin_store& admin,
                                                      storage::group_store& groups,
                                                      storage::relation_store& relations) {
    auto mutes = co_await admin.world_mutes();
    if (!mutes) {
        co_return mutes.error();
    }
    auto blocked = co_await relations.all_blocks();
    if (!blocked) {
        co_return blocked.error();
    }
    auto in_groups = co_await groups.group_mutes();
    if (!in_groups) {
        co_return in_groups.error();
    }
    for (const auto& m : *in_groups) {
        mute_in_group(m.group_id, m.user_id, m.until_ms);
    }
    for (const auto& m : *mutes) {
        mute_in_world(m.user_id, m.until_ms);
    }
    for (const auto& b : *blocked) {
        block(b.user_id, b.blocked_id);
    }
    co_return status{};
}

void moderation_state::mute_in_world(std::uint64_t user_id, std::int64_t until_ms) {
    std::lock_guard lock(mutex_);
    world_mutes_[user_id] = until_ms;
    world_mute_count_.store(world_mutes_.size(), std::memory_order_relaxed);
}

void moderation_state::unmute_in_world(std::uint64_t user_id) {
    std::lock_guard lock(mutex_);
    world_mutes_.erase(user_id);
    world_mute_count_.store(world_mutes_.size(), std::memory_order_relaxed);
}

bool moderation_state::muted_in_world(std::uint64_t user_id, std::int64_t now_ms) const {
    if (world_mute_count_.load(std::memory_order_relaxed) == 0) {
        return false;
    }
    std::lock_guard lock(mutex_);
    const auto it = world_mutes_.find(user_id);
    return it != world_mutes_.end() && (it->second == 0 || it->second > now_ms);
}

std::vector<std::pair<std::uint64_t, std::int64_t>> moderation_state::world_mutes(
    std::int64_t now_ms) const {
    std::vector<std::pair<std::uint64_t, std::int64_t>> out;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [user, until] : world_mutes_) {
            if (until == 0 || until > now_ms) {
                out.emplace_back(user, until);
            }
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

void moderation_state::mute_in_group(std::uint64_t group_id, std::uint64_t user_id,
                                     std::int64_t until_ms) {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = group_mutes_[group_id].insert_or_assign(user_id, until_ms);
    (void)it;
    if (fresh) {
        group_mute_count_.fetch_add(1, std::memory_order_relaxed);
    }
}

void moderation_state::unmute_in_group(std::uint64_t group_id, std::uint64_t user_id) {
    std::lock_guard lock(mutex_);
    const auto it = group_mutes_.find(group_id);
    if (it == group_mutes_.end()) {
        return;
    }
    if (it->second.erase(user_id) > 0) {
        group_mute_count_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (it->second.empty()) {
        group_mutes_.erase(it);
    }
}

bool moderation_state::muted_in_group(std::uint64_t group_id, std::uint64_t user_id,
                                      std::int64_t now_ms) const {
    if (group_mute_count_.load(std::memory_order_relaxed) == 0) {
        return false;
    }
    std::lock_guard lock(mutex_);
    const auto group = group_mutes_.find(group_id);
    if (group == group_mutes_.end()) {
        return false;
    }
    const auto it = group->second.find(user_id);
    return it != group->second.end() && (it->second == 0 || it->second > now_ms);
}

std::vector<std::pair<std::uint64_t, std::int64_t>> moderation_state::group_mutes(
    std::uint64_t group_id, std::int64_t now_ms) const {
    std::vector<std::pair<std::uint64_t, std::int64_t>> out;
    {
        std::lock_guard lock(mutex_);
        const auto group = group_mutes_.find(group_id);
        if (group != group_mutes_.end()) {
            for (const auto& [user, until] : group->second) {
                if (until == 0 || until > now_ms) {
                    out.emplace_back(user, until);
                }
            }
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

void moderation_state::forget_group(std::uint64_t group_id) {
    std::lock_guard lock(mutex_);
    const auto it = group_mutes_.find(group_id);
    if (it != group_mutes_.end()) {
        group_mute_count_.fetch_sub(it->second.size(), std::memory_order_relaxed);
        group_mutes_.erase(it);
    }
}

void moderation_state::block(std::uint64_t user_id, std::uint64_t blocked_id) {
    std::lock_guard lock(mutex_);
    auto& list = blocks_[user_id];
    if (std::find(list.begin(), list.end(), blocked_id) == list.end()) {
        list.push_back(blocked_id);
        block_count_.fetch_add(1, std::memory_order_relaxed);
    }
}

void moderation_state::unblock(std::uint64_t user_id, std::uint64_t blocked_id) {
    std::lock_guard lock(mutex_);
    const auto it = blocks_.find(user_id);
    if (it == blocks_.end()) {
        return;
    }
    if (std::erase(it->second, blocked_id) > 0) {
        block_count_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (it->second.empty()) {
        blocks_.erase(it);
    }
}

bool moderation_state::blocks(std::uint64_t user_id, std::uint64_t blocked_id) const {
    if (block_count_.load(std::memory_order_relaxed) == 0) {
        return false;
    }
    std::lock_guard lock(mutex_);
    const auto it = blocks_.find(user_id);
    return it != blocks_.end() &&
           std::find(it->second.begin(), it->second.end(), blocked_id) != it->second.end();
}

std::int64_t moderation_state::take_world_slot(std::uint64_t user_id, std::int64_t now_ms,
                                               std::int64_t window_ms, std::int64_t& taken) {
    taken = 0;
    if (window_ms <= 0) {
        return 0;
    }
    std::lock_guard lock(mutex_);
    if (now_ms - pruned_at_ms_ >= prune_every_ms) {
        // Entries past the window answer "send now" anyway: dropping them bounds the table by
        // the users who sent within one window.
        std::erase_if(last_world_send_,
                      [&](const auto& e) { return now_ms - e.second >= window_ms; });
        pruned_at_ms_ = now_ms;
    }
    auto [it, fresh] = last_world_send_.try_emplace(user_id, now_ms);
    if (!fresh) {
        const std::int64_t wait = it->second + window_ms - now_ms;
        if (wait > 0) {
            return wait;
        }
        taken = it->second;
        it->second = now_ms;
    }
    return 0;
}

void moderation_state::give_back_world_slot(std::uint64_t user_id, std::int64_t previous) {
    std::lock_guard lock(mutex_);
    if (previous == 0) {
        last_world_send_.erase(user_id);
    } else {
        last_world_send_[user_id] = previous;
    }
}

}  // namespace monochat::logic
