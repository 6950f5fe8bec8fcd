#include "storage/message_cache.hpp"

#include <functional>

namespace monochat::storage::detail {

message_cache::message_cache(const limits& bounds, infra::metrics_registry& metrics)
    : enabled_(bounds.conversations > 0 && bounds.messages_per_conversation > 0 &&
               bounds.bytes > 0),
      limits_(bounds),
      hits_(metrics.get_counter("monochat_storage_cache_hits_total",
                                "Message log reads answered from the recent-message cache.")),
      misses_(metrics.get_counter("monochat_storage_cache_misses_total",
                                  "Message log reads that went to disk.")),
      messages_gauge_(metrics.get_gauge("monochat_storage_cache_messages",
                                        "Messages held by the recent-message cache.")),
      bytes_gauge_(metrics.get_gauge("monochat_storage_cache_bytes",
                                     "Approximate bytes held by the recent-message cache.")) {}

message_cache::~message_cache() {
    // The gauges may be shared with other logs of the same registry: take back our share.
    messages_gauge_.add(-static_cast<double>(reported_messages_));
    bytes_gauge_.add(-static_cast<double>(reported_bytes_));
}

std::size_t message_cache::bucket_of(const std::string& conversation_id) {
    return std::hash<std::string>{}(conversation_id) % bucket_count;
}

std::size_t message_cache::size_of(const stored_message& m) {
    std::size_t reactions = 0;
    for (const auto& kind : m.reactions) {
        reactions += sizeof(reaction_kind) + kind.emoji.size() + kind.first.size() * sizeof(reactor);
    }
    return sizeof(stored_message) + m.conversation_id.size() + m.client_msg_id.size() +
           m.body.size() + m.state.size() + reactions;
}

std::optional<std::vector<stored_message>> message_cache::lookup(const std::string& conversation_id,
                                                                 std::uint64_t first,
                                                                 std::uint64_t last, ticket& miss) {
    {
        std::lock_guard lock(mutex_);
        if (entry* e = find(conversation_id); e != nullptr && !e->messages.empty() &&
                                              first >= e->messages.front().seq &&
                                              last <= e->messages.back().seq && first <= last) {
            const std::uint64_t base = e->messages.front().seq;
            std::vector<stored_message> out(
                e->messages.begin() + static_cast<long>(first - base),
                e->messages.begin() + static_cast<long>(last - base + 1));
            touch(*e);
            hits_.inc();
            return out;
        }
        miss.bucket = bucket_of(conversation_id);
        miss.generation = generations_[miss.bucket];
    }
    misses_.inc();
    return std::nullopt;
}

std::optional<stored_message> message_cache::peek(const std::string& conversation_id,
                                                  std::uint64_t seq) {
    std::lock_guard lock(mutex_);
    entry* e = find(conversation_id);
    if (e == nullptr || e->messages.empty() || seq < e->messages.front().seq ||
        seq > e->messages.back().seq) {
        return std::nullopt;
    }
    return e->messages[seq - e->messages.front().seq];
}

void message_cache::fill(const std::string& conversation_id,
                         const std::vector<stored_message>& messages, const ticket& t) {
    if (!enabled_ || messages.empty()) {
        return;
    }
    std::lock_guard lock(mutex_);
    if (generations_[t.bucket] != t.generation) {
        return;
    }
    entry& e = find_or_create(conversation_id);
    const std::uint64_t a = messages.front().seq;
    const std::uint64_t b = messages.back().seq;
    if (e.messages.empty()) {
        for (const auto& m : messages) {
            push_back(e, m);
        }
    } else {
        const std::uint64_t lo = e.messages.front().seq;
        const std::uint64_t hi = e.messages.back().seq;
        if (b + 1 < lo || a > hi + 1) {
            // Disjoint runs: keep the newer one.
            if (a > hi) {
                clear(e);
                for (const auto& m : messages) {
                    push_back(e, m);
                }
            }
        } else {
            // Overlapping or adjacent: extend downwards while the entry has room (the newest
            // messages matter most), then upwards.
            for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
                if (it->seq >= lo) {
                    continue;
                }
                if (e.messages.size() >= limits_.messages_per_conversation) {
                    break;
                }
                push_front(e, *it);
            }
            for (const auto& m : messages) {
                if (m.seq > hi) {
                    push_back(e, m);
                }
            }
        }
    }
    trim_front(e);
    evict();
    publish_sizes();
}

void message_cache::apply(const std::vector<stored_message>& new_messages,
                          const std::vector<stored_message>& updated_targets) {
    if (!enabled_) {
        return;
    }
    std::lock_guard lock(mutex_);
    for (const auto& m : new_messages) {
        ++generations_[bucket_of(m.conversation_id)];
        entry& e = find_or_create(m.conversation_id);
        if (e.messages.empty() || m.seq == e.messages.back().seq + 1) {
            push_back(e, m);
        } else if (m.seq >= e.messages.front().seq && m.seq <= e.messages.back().seq) {
            // A fill raced with this commit and already read the message from disk.
            replace(e, m);
        } else if (m.seq > e.messages.back().seq + 1) {
            // The entry held an older run (a history read): the newest messages matter more.
            clear(e);
            push_back(e, m);
        }
        trim_front(e);
    }
    for (const auto& m : updated_targets) {
        ++generations_[bucket_of(m.conversation_id)];
        if (entry* e = find(m.conversation_id); e != nullptr && !e->messages.empty() &&
                                                m.seq >= e->messages.front().seq &&
                                                m.seq <= e->messages.back().seq) {
            replace(*e, m);
        }
    }
    evict();
    publish_sizes();
}

void message_cache::drop(const std::string& conversation_id) {
    if (!enabled_) {
        return;
    }
    std::lock_guard lock(mutex_);
    ++generations_[bucket_of(conversation_id)];
    const auto it = index_.find(conversation_id);
    if (it == index_.end()) {
        return;
    }
    clear(*it->second);
    lru_.erase(it->second);
    index_.erase(it);
    publish_sizes();
}

std::size_t message_cache::cached_messages(const std::string& conversation_id) {
    std::lock_guard lock(mutex_);
    const entry* e = find(conversation_id);
    return e == nullptr ? 0 : e->messages.size();
}

message_cache::entry* message_cache::find(const std::string& conversation_id) {
    const auto it = index_.find(conversation_id);
    return it == index_.end() ? nullptr : &*it->second;
}

message_cache::entry& message_cache::find_or_create(const std::string& conversation_id) {
    if (const auto it = index_.find(conversation_id); it != index_.end()) {
        touch(*it->second);
        return *it->second;
    }
    lru_.push_front(entry{conversation_id, {}, 0});
    index_.emplace(conversation_id, lru_.begin());
    return lru_.front();
}

void message_cache::touch(entry& e) {
    const auto it = index_.find(e.conversation_id);
    lru_.splice(lru_.begin(), lru_, it->second);
}

void message_cache::push_back(entry& e, const stored_message& m) {
    e.messages.push_back(m);
    const std::size_t n = size_of(m);
    e.bytes += n;
    bytes_ += n;
    ++messages_;
}

void message_cache::push_front(entry& e, const stored_message& m) {
    e.messages.push_front(m);
    const std::size_t n = size_of(m);
    e.bytes += n;
    bytes_ += n;
    ++messages_;
}

void message_cache::replace(entry& e, const stored_message& m) {
    stored_message& slot = e.messages[m.seq - e.messages.front().seq];
    const std::size_t old_size = size_of(slot);
    const std::size_t new_size = size_of(m);
    slot = m;
    e.bytes = e.bytes - old_size + new_size;
    bytes_ = bytes_ - old_size + new_size;
}

void message_cache::clear(entry& e) {
    messages_ -= e.messages.size();
    bytes_ -= e.bytes;
    e.messages.clear();
    e.bytes = 0;
}

void message_cache::trim_front(entry& e) {
    while (e.messages.size() > limits_.messages_per_conversation) {
        const std::size_t n = size_of(e.messages.front());
        e.messages.pop_front();
        e.bytes -= n;
        bytes_ -= n;
        --messages_;
    }
}

void message_cache::evict() {
    while (!lru_.empty() && (lru_.size() > limits_.conversations || bytes_ > limits_.bytes)) {
        entry& victim = lru_.back();
        if (lru_.size() == 1) {
            // One conversation over the byte bound by itself: keep its newest messages.
            while (!victim.messages.empty() && bytes_ > limits_.bytes) {
                const std::size_t n = size_of(victim.messages.front());
                victim.messages.pop_front();
                victim.bytes -= n;
                bytes_ -= n;
                --messages_;
            }
            if (!victim.messages.empty()) {
                break;
            }
        }
        clear(victim);
        index_.erase(victim.conversation_id);
        lru_.pop_back();
    }
}

void message_cache::publish_sizes() {
    messages_gauge_.add(static_cast<double>(messages_) - static_cast<double>(reported_messages_));
    bytes_gauge_.add(static_cast<double>(bytes_) - static_cast<double>(reported_bytes_));
    reported_messages_ = messages_;
    reported_bytes_ = bytes_;
}

}  // namespace monochat::storage::detail
