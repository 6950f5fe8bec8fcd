#include "logic/token_cache.hpp"

#include <algorithm>

namespace monochat::logic {

token_cache::token_cache(std::size_t capacity) : capacity_(capacity) {}

std::optional<identity> token_cache::find(const std::string& token_hash, std::int64_t now_ms) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(token_hash);
    if (it == entries_.end()) {
        return std::nullopt;
    }
    if (it->second.expires_ms <= now_ms) {
        lru_.erase(it->second.lru);
        entries_.erase(it);
        return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    identity who = it->second.who;
    who.token_hash = it->first;
    return who;
}

std::uint64_t token_cache::epoch() const {
    std::lock_guard lock(mutex_);
    return epoch_;
}

void token_cache::insert(std::uint64_t seen_epoch, const identity& who, std::int64_t expires_ms) {
    std::lock_guard lock(mutex_);
    if (capacity_ == 0 || seen_epoch != epoch_) {
        return;
    }
    identity stored = who;
    stored.token_hash.clear();  // the key holds it
    if (auto it = entries_.find(who.token_hash); it != entries_.end()) {
        it->second.who = std::move(stored);
        it->second.expires_ms = expires_ms;
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        return;
    }
    while (entries_.size() >= capacity_) {
        const auto oldest = entries_.find(*lru_.back());
        lru_.pop_back();
        entries_.erase(oldest);
    }
    auto [it, inserted] = entries_.emplace(who.token_hash, entry{std::move(stored), expires_ms, {}});
    lru_.push_front(&it->first);
    it->second.lru = lru_.begin();
}

void token_cache::revoke(const std::string& token_hash) {
    std::lock_guard lock(mutex_);
    ++epoch_;
    if (auto it = entries_.find(token_hash); it != entries_.end()) {
        lru_.erase(it->second.lru);
        entries_.erase(it);
    }
}

void token_cache::revoke_user(std::uint64_t user_id) {
    std::lock_guard lock(mutex_);
    ++epoch_;
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->second.who.user_id == user_id) {
            lru_.erase(it->second.lru);
            it = entries_.erase(it);
        } else {
            ++it;
        }
    }
}

std::size_t token_cache::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace monochat::logic
