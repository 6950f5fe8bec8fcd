#include "logic/typing_throttle.hpp"

#include <algorithm>
#include <functional>
#include <limits>

namespace monochat::logic {

bool typing_throttle::admit(std::uint64_t user_id, std::string_view conversation_id,
                            std::int64_t interval_ms, std::size_t max_entries) {
    if (interval_ms <= 0) {
        return true;
    }
    const std::int64_t now = clock_.now_ms();
    std::string key;
    key.reserve(conversation_id.size() + 21);
    key.append(std::to_string(user_id)).push_back('/');
    key.append(conversation_id);
    auto& s = shards_[std::hash<std::string>{}(key) % shard_count];
    const std::size_t per_shard = std::max<std::size_t>(max_entries / shard_count, 1);

    std::lock_guard lock(s.mutex);
    if (auto it = s.last_ms.find(key); it != s.last_ms.end()) {
        if (now - it->second < interval_ms) {
            return false;
        }
        it->second = now;
        return true;
    }
    if (s.last_ms.size() >= per_shard) {
        if (now < s.next_expiry_ms) {
            return false;  // full of live entries, and none can have expired yet
        }
        std::int64_t oldest = std::numeric_limits<std::int64_t>::max();
        std::erase_if(s.last_ms, [&](const auto& kv) {
            if (now - kv.second >= interval_ms) {
                return true;
            }
            oldest = std::min(oldest, kv.second);
            return false;
        });
        if (oldest != std::numeric_limits<std::int64_t>::max()) {
            s.next_expiry_ms = oldest + interval_ms;
        }
        if (s.last_ms.size() >= per_shard) {
            return false;
        }
    }
    s.last_ms.emplace(std::move(key), now);
    return true;
}

std::size_t typing_throttle::size() {
    std::size_t n = 0;
    for (auto& s : shards_) {
        std::lock_guard lock(s.mutex);
        n += s.last_ms.size();
    }
    return n;
}

}  // namespace monochat::logic
