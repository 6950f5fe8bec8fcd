#pragma once
// Connection-level limits that need bookkeeping, kept free of Asio and Beast so that they
// compile fast and are unit-tested alone:
//  - `address_admission`: open connections per client address and a token bucket of new
//    connections per client address, for the listener;
//  - `frame_bucket`: a WebSocket session's token bucket of client frames per second.
// Settings are passed per call, so a configuration reload applies to the next connection or
// frame. A limit of 0 means unlimited.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <monochat/infra/clock.hpp>
#include <monochat/logic/rate_limit.hpp>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace monochat::gateway {

struct address_settings {
    std::int64_t max_per_address = 0;  // limits.max_connections_per_address; 0: unlimited
    double rate = 0;                   // limits.connection_rate per second; 0: unlimited
    std::int64_t burst = 1;            // limits.connection_burst
};

// Thread-safety: every member may be called from any thread (one mutex each; no I/O inside).
// Memory: the open-count map holds only addresses with an open connection (so it is bounded by
// limits.max_connections); the rate map holds at most `max_rate_keys` addresses, idle (full)
// buckets dropped first.
class address_admission {
public:
    explicit address_admission(const infra::clock& clock, std::size_t max_rate_keys = 100000);

    enum class verdict { admitted, too_many_from_address, rate_limited };
    struct decision {
        verdict outcome = verdict::admitted;
        int retry_after_s = 0;  // for rate_limited: seconds until the next token (at least 1)
    };

    // Every attempt takes a token from the address's bucket, then the open-connection cap is
    // checked. An admitted connection counts as open until release(address).
    [[nodiscard]] decision admit(const std::string& address, const address_settings& s);
    void release(const std::string& address);

    [[nodiscard]] std::size_t open_from(const std::string& address) const;
    [[nodiscard]] std::size_t rate_keys() const { return rate_.size(); }

private:
    logic::keyed_rate_limiter rate_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::size_t> open_;
};

// The key that per-address limits count under: the IPv4 address, or an IPv6 address's /64
// prefix (one subscriber usually holds a whole /64, so counting single IPv6 addresses would
// give each client 2^64 budgets). IPv4-mapped IPv6 addresses count as IPv4. `bytes16` is the
// address in network order when `is_v6`, else the first 4 bytes are the IPv4 address.
std::string address_key(bool is_v6, const unsigned char* bytes);
// The same key from an address's text ("2001:db8::1", "192.0.2.7"); text that is no address is
// its own key.
std::string address_key(std::string_view address);

// A token bucket on one WebSocket session's strand (not thread-safe). Frames past the rate are
// refused; every refusal also draws from a second bucket of the same size and rate, and when
// that one is empty too the client is flooding and is closed. A client sending at up to twice
// the rate is thus answered with errors but never closed.
class frame_bucket {
public:
    enum class verdict { accepted, refused, flooding };
    struct decision {
        verdict outcome = verdict::accepted;
        int retry_after_s = 0;  // for refused: seconds until the next token (at least 1)
    };

    // `rate` frames per second, `burst` bucket size; rate 0 accepts everything.
    decision take(std::chrono::steady_clock::time_point now, double rate, double burst);

private:
    struct bucket {
        double tokens = -1;  // below 0: not started (starts full)
        std::chrono::steady_clock::time_point last;
        bool take(std::chrono::steady_clock::time_point now, double rate, double burst);
    };
    bucket frames_;
    bucket refusals_;
};

}  // namespace monochat::gateway
