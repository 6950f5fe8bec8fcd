#pragma once
// The listener: accepts TCP connections, reads HTTP/1.1 requests with size limits and
// deadlines, dispatches them through a `router`, and hands WebSocket upgrades to the upgrade
// handler. One coroutine per connection on its own strand.
//
// Limits (from `infra::server_options` and `infra::limits_options`): header block
// (431), body (413), the bytes of all request bodies being received or handled at once
// (`max_body_bytes_in_flight`: past it 503 `unavailable` with Retry-After, counted as
// `reason="body_budget"`), a deadline for a whole request once its first byte arrived
// (`request_timeout_ms`, so a client holding half a request is dropped) and for keep-alive
// idleness (`idle_timeout_ms`). Past `max_connections` a new connection gets 503 and is closed;
// past `max_connections_per_address` or the per-address `connection_rate` it gets 429 with
// Retry-After. Every refusal is counted in `monochat_connections_refused_total{reason}`.
// A refusal that leaves part of a request unread is answered, then the connection is
// half-closed and the rest is read and dropped for at most `linger_ms` / `linger_bytes`
// (a lingering close): closing a socket with unread bytes sends a reset, which can destroy the
// answer before the client has read it.
//
// Thread-safety: listen/stop_accepting/close_idle may be called from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <monochat/gateway/http.hpp>
#include <monochat/infra/config.hpp>
#include <monochat/infra/result.hpp>
#include <string>

namespace boost::asio {
class io_context;
}
namespace monochat::infra {
class metrics_registry;
}

namespace monochat::gateway {

// An HTTP request asking for a WebSocket upgrade, with the connection it came on (defined in
// src/gateway/upgrade.hpp; only gateway code looks inside).
struct upgrade_request;
using upgrade_handler = std::function<void(std::unique_ptr<upgrade_request>)>;

// Settings read per request, so a reload can change them (see infra::config live keys).
struct http_limits {
    std::atomic<std::int64_t> max_body_bytes{64 * 1024};
    std::atomic<std::int64_t> max_body_bytes_in_flight{64LL << 20};
    std::atomic<std::int64_t> linger_ms{5000};
    std::atomic<std::int64_t> linger_bytes{4LL << 20};
    std::atomic<std::int64_t> max_header_bytes{16 * 1024};
    std::atomic<std::int64_t> request_timeout_ms{10000};
    std::atomic<std::int64_t> idle_timeout_ms{60000};
    std::atomic<std::int64_t> max_connections{100000};
    std::atomic<std::int64_t> max_connections_per_address{1000};  // 0: unlimited
    std::atomic<double> connection_rate{50};                       // per address; 0: unlimited
    std::atomic<std::int64_t> connection_burst{200};
    std::atomic<std::int64_t> handshake_timeout_ms{10000};

    void apply(const infra::config& cfg);
};

class http_server {
public:
    http_server(boost::asio::io_context& ioc, const http_limits& limits, const router& routes,
                infra::metrics_registry& metrics);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    // Paths `/api/v1/ws` with an Upgrade header go here; without a handler they get 404.
    void set_upgrade_handler(upgrade_handler handler);

    // Binds and starts accepting. Returns the bound address as "host:port".
    [[nodiscard]] result<std::string> listen(const std::string& host, std::uint16_t port);

    // Stops accepting new connections; running requests finish, later keep-alive requests are
    // answered with `Connection: close`.
    void stop_accepting();
    // Closes connections that are waiting for their next request.
    void close_idle();
    // Connections with a request being handled now.
    std::size_t busy_connections() const;
    std::size_t open_connections() const;

    // TLS (`server.tls`): loads the PEM certificate chain and private key into a new context
    // that connections accepted from now on use; open connections keep theirs. With a context,
    // each connection's first bytes tell TLS from plain HTTP on the one port; plain is then
    // served only with `allow_plain` (else 400). Both paths empty turn TLS off for new
    // connections. A file that cannot be read, or a key that does not match the certificate,
    // is refused (invalid_argument naming the key, also logged) and the running context stays.
    // Call before listen() to start with TLS, and on every configuration reload: re-reading the
    // same paths picks up a renewed certificate.
    [[nodiscard]] status reload_tls(const infra::tls_options& tls);
    bool tls_enabled() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace monochat::gateway
