#pragma once
// The WebSocket half of gateway (shared/protocol.md, "WebSocket"): authenticates the upgrade,
// answers it, and runs one session per connection on the connection's strand over the raw
// socket with gateway's own frame codec (ws_codec.hpp; completion handlers for reading,
// writing and the heartbeat, a coroutine only per request that waits on logic), parses client
// frames and calls logic. Pushes arrive through the connection registry.
//
// Bounds, all from config: the largest client frame (`limits.max_frame_bytes`, 1009 above it),
// the outgoing queue per session (`limits.outbox_frames` / `limits.outbox_bytes`, 4008 past
// either), requests in progress per session (`limits.ws_inflight`), heartbeat
// (`server.heartbeat_ms`: a ping every interval, 4002 after three silent ones), client frames
// per second (`limits.ws_message_rate` / `ws_message_burst`: a frame past the bucket gets a
// `rate_limited` error frame, a client that keeps flooding is closed with 1008), and the
// opening and closing handshakes (`server.handshake_timeout_ms`). A close the client may not
// have read to the end of (1009 for a frame too large) is followed by a lingering close
// (`server.linger_ms` / `server.linger_bytes`, see ws_coalescing_stream.hpp).
//
// Upgrades: an `Origin` header other than the server's own and `server.allowed_origins` is
// refused with 403. The token comes from the subprotocol `monochat.token.<token>` (offered
// with `monochat.v1`, which the server then selects), else `Authorization: Bearer`, else
// `?token=`; a missing or bad one is 401. A session closes with 4001 when its token expires
// (checked with the heartbeat's timer, no timer of its own) or is revoked (a `close_token`
// delivery).
// Thread-safety: every member may be called from any thread.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <monochat/gateway/connection_registry.hpp>
#include <monochat/gateway/http_server.hpp>
#include <monochat/infra/result.hpp>
#include <monochat/logic/access.hpp>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::infra {
class clock;
class metrics_registry;
struct config;
}  // namespace monochat::infra
namespace monochat::logic {
class messaging_service;
}

namespace monochat::gateway {

struct ws_limits {
    std::atomic<std::int64_t> heartbeat_ms{30000};
    std::atomic<std::int64_t> max_frame_bytes{65536};
    std::atomic<std::int64_t> outbox_frames{4096};
    std::atomic<std::int64_t> outbox_bytes{4 << 20};
    std::atomic<std::int64_t> inflight{256};
    std::atomic<double> message_rate{100};  // client frames per second; 0: unlimited
    std::atomic<std::int64_t> message_burst{200};
    std::atomic<std::int64_t> handshake_timeout_ms{10000};
    std::atomic<std::int64_t> linger_ms{5000};
    std::atomic<std::int64_t> linger_bytes{4LL << 20};

    void apply(const infra::config& cfg);
    // server.allowed_origins (a copy: a reload may replace it at any time).
    std::vector<std::string> allowed_origins() const;

private:
    mutable std::mutex origins_mutex_;
    std::vector<std::string> allowed_origins_;
};

// What the WebSocket gateway needs from logic besides messaging.
struct ws_dependencies {
    // Resolves a bearer token. Errors: unauthenticated.
    std::function<boost::asio::awaitable<result<logic::identity>>(std::string token)> authenticate;
    // `read` frames: moves the read position and pushes receipts to everyone concerned except
    // `session_id`, the connection that read.
    std::function<boost::asio::awaitable<status>(logic::identity who, std::string conversation_id,
                                                 std::uint64_t seq, std::uint64_t session_id)>
        mark_read;
    logic::messaging_service* messaging = nullptr;
};

class websocket_gateway {
public:
    websocket_gateway(connection_registry& registry, ws_dependencies deps, const ws_limits& limits,
                      infra::metrics_registry& metrics, const infra::clock& clock);
    ~websocket_gateway();
    websocket_gateway(const websocket_gateway&) = delete;
    websocket_gateway& operator=(const websocket_gateway&) = delete;

    // For http_server::set_upgrade_handler.
    upgrade_handler handler();

    // Refuses new upgrades from now on and closes every session with `code` (1001 at shutdown).
    void close_all(std::uint16_t code);
    std::size_t sessions() const;

    // The shared state of every session (defined in websocket_gateway.cpp).
    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace monochat::gateway
