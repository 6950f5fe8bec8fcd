#include <monochat/infra/message_traces.hpp>

#include <algorithm>
#include <chrono>

namespace monochat::infra {

std::string_view to_string(trace_stage s) noexcept {
    switch (s) {
        case trace_stage::received: return "received";
        case trace_stage::stored: return "stored";
        case trace_stage::fanout: return "fanout";
        case trace_stage::pushed: return "pushed";
    }
    return "unknown";
}

std::int64_t trace_now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

message_traces::message_traces(std::size_t capacity, std::size_t max_events)
    : capacity_(capacity), max_events_(std::max<std::size_t>(1, max_events)) {}

void message_traces::set_capacity(std::size_t messages) {
    capacity_.store(messages, std::memory_order_relaxed);
}

void message_traces::begin(std::uint64_t message_id, std::string_view trace_id,
                           std::string_view conversation_id) {
    const std::size_t cap = capacity_.load(std::memory_order_relaxed);
    if (cap == 0) {
        return;
    }
    // Each shard holds its share of the capacity: eviction stays a local, O(1) decision.
    const std::size_t per_shard = std::max<std::size_t>(1, (cap + shard_count - 1) / shard_count);
    auto& s = shard_of(message_id);
    std::lock_guard lock(s.mutex);
    auto [it, fresh] = s.traces.try_emplace(message_id);
    if (fresh) {
        s.order.push_back(message_id);
    }
    it->second.message_id = message_id;
    it->second.trace_id.assign(trace_id);
    it->second.conversation_id.assign(conversation_id);
    it->second.events.clear();
    it->second.dropped_events = 0;
    while (s.traces.size() > per_shard && !s.order.empty()) {
        const auto victim = s.order.front();
        s.order.pop_front();
        if (victim != message_id) {
            s.traces.erase(victim);
        } else {
            s.order.push_back(victim);
        }
    }
}

void message_traces::add(std::uint64_t message_id, trace_stage stage, std::uint64_t a,
                         std::uint64_t b) {
    if (!enabled()) {
        return;
    }
    const auto at = trace_now_us();
    auto& s = shard_of(message_id);
    std::lock_guard lock(s.mutex);
    auto it = s.traces.find(message_id);
    if (it == s.traces.end()) {
        return;
    }
    auto& t = it->second;
    if (t.events.size() >= max_events_) {
        ++t.dropped_events;
        return;
    }
    t.events.push_back({stage, at, a, b});
}

void message_traces::add_pushed(std::uint64_t message_id,
                                std::span<const std::pair<std::uint64_t, std::uint64_t>> recipients) {
    if (!enabled() || recipients.empty()) {
        return;
    }
    const auto at = trace_now_us();
    auto& s = shard_of(message_id);
    std::lock_guard lock(s.mutex);
    auto it = s.traces.find(message_id);
    if (it == s.traces.end()) {
        return;
    }
    auto& t = it->second;
    const std::size_t room = max_events_ > t.events.size() ? max_events_ - t.events.size() : 0;
    const std::size_t kept = std::min(room, recipients.size());
    for (std::size_t i = 0; i < kept; ++i) {
        t.events.push_back({trace_stage::pushed, at, recipients[i].first, recipients[i].second});
    }
    t.dropped_events += recipients.size() - kept;
}

std::string message_traces::trace_id_of(std::uint64_t message_id) const {
    if (!enabled()) {
        return {};
    }
    const auto& s = shard_of(message_id);
    std::lock_guard lock(s.mutex);
    auto it = s.traces.find(message_id);
    return it == s.traces.end() ? std::string() : it->second.trace_id;
}

std::optional<message_trace> message_traces::find(std::uint64_t message_id) const {
    const auto& s = shard_of(message_id);
    std::lock_guard lock(s.mutex);
    auto it = s.traces.find(message_id);
    if (it == s.traces.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::size_t message_traces::size() const {
    std::size_t n = 0;
    for (const auto& s : shards_) {
        std::lock_guard lock(s.mutex);
        n += s.traces.size();
    }
    return n;
}

void message_traces::clear() {
    for (auto& s : shards_) {
        std::lock_guard lock(s.mutex);
        s.traces.clear();
        s.order.clear();
    }
}

message_traces& traces() {
    static message_traces instance;
    return instance;
}

}  // namespace monochat::infra
