#include "gateway/connection_limits.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cmath>
#include <cstdio>

namespace monochat::gateway {

address_admission::address_admission(const infra::clock& clock, std::size_t max_rate_keys)
    : rate_(clock, max_rate_keys) {}

address_admission::decision address_admission::admit(const std::string& address,
                                                     const address_settings& s) {
    if (s.rate > 0) {
        const double burst = static_cast<double>(std::max<std::int64_t>(1, s.burst));
        auto st = rate_.acquire(address, burst, s.rate);
        if (!st) {
            return {verdict::rate_limited, st.error().retry_after_s};
        }
    }
    std::lock_guard lock(mutex_);
    auto& n = open_[address];
    if (s.max_per_address > 0 && n >= static_cast<std::size_t>(s.max_per_address)) {
        if (n == 0) {
            open_.erase(address);
        }
        return {verdict::too_many_from_address, 1};
    }
    ++n;
    return {};
}

void address_admission::release(const std::string& address) {
    std::lock_guard lock(mutex_);
    auto it = open_.find(address);
    if (it == open_.end()) {
        return;
    }
    if (--it->second == 0) {
        open_.erase(it);
    }
}

std::size_t address_admission::open_from(const std::string& address) const {
    std::lock_guard lock(mutex_);
    auto it = open_.find(address);
    return it == open_.end() ? 0 : it->second;
}

std::string address_key(bool is_v6, const unsigned char* b) {
    char out[64];
    if (!is_v6) {
        std::snprintf(out, sizeof out, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        return out;
    }
    const bool v4_mapped = std::all_of(b, b + 10, [](unsigned char c) { return c == 0; }) &&
                           b[10] == 0xff && b[11] == 0xff;
    if (v4_mapped) {
        return address_key(false, b + 12);
    }
    std::snprintf(out, sizeof out, "%x:%x:%x:%x::/64", (b[0] << 8) | b[1], (b[2] << 8) | b[3],
                  (b[4] << 8) | b[5], (b[6] << 8) | b[7]);
    return out;
}

std::string address_key(std::string_view address) {
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(address, ec);
    if (ec) {
        return std::string(address);
    }
    if (a.is_v6()) {
        const auto b = a.to_v6().to_bytes();
        return address_key(true, b.data());
    }
    const auto b = a.to_v4().to_bytes();
    return address_key(false, b.data());
}

bool frame_bucket::bucket::take(std::chrono::steady_clock::time_point now, double rate,
                                double burst) {
    if (tokens < 0) {
        tokens = burst;
        last = now;
    }
    const double elapsed = std::max(0.0, std::chrono::duration<double>(now - last).count());
    tokens = std::min(burst, tokens + elapsed * rate);
    last = now;
    if (tokens >= 1) {
        tokens -= 1;
        return true;
    }
    return false;
}

frame_bucket::decision frame_bucket::take(std::chrono::steady_clock::time_point now, double rate,
                                          double burst) {
    if (rate <= 0) {
        return {};
    }
    burst = std::max(1.0, burst);
    if (frames_.take(now, rate, burst)) {
        return {};
    }
    if (!refusals_.take(now, rate, burst)) {
        return {verdict::flooding, 0};
    }
    const double wait_s = std::ceil((1 - frames_.tokens) / rate);
    return {verdict::refused, static_cast<int>(std::clamp(wait_s, 1.0, 86400.0))};
}

}  // namespace monochat::gateway
