#include <monochat/bus/delivery_guard.hpp>

namespace monochat::bus {

void delivery_guard::set_lost_handler(lost_handler h) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(h);
}

void delivery_guard::report_lost(const lost_push& p) {
    lost_handler h;
    {
        std::lock_guard lock(mutex_);
        ++lost_;
        h = handler_;
    }
    // Called without the lock: the handler closes sessions, which may take other locks.
    if (h) {
        h(p);
    }
}

std::uint64_t delivery_guard::lost_reports() const {
    std::lock_guard lock(mutex_);
    return lost_;
}

void delivery_guard::fanout_queued(std::string_view conversation_id) {
    std::lock_guard lock(mutex_);
    ++pending_[std::string(conversation_id)];
}

void delivery_guard::fanout_done(std::string_view conversation_id) {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(std::string(conversation_id));
    if (it == pending_.end()) {
        return;
    }
    if (--it->second == 0) {
        pending_.erase(it);
    }
}

bool delivery_guard::fanout_pending(std::string_view conversation_id) const {
    std::lock_guard lock(mutex_);
    return pending_.count(std::string(conversation_id)) != 0;
}

std::size_t delivery_guard::pending_conversations() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
}

}  // namespace monochat::bus
