#include <monochat/gateway/http_server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <list>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <mutex>
#include <span>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "gateway/connection_limits.hpp"
#include "gateway/tls_context.hpp"
#include "gateway/upgrade.hpp"

namespace monochat::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {
constexpr auto token = net::as_tuple(net::use_awaitable);
constexpr std::string_view ws_path = "/api/v1/ws";
// How long a TLS connection closed after a complete exchange may take to say close_notify.
constexpr auto close_notify_time = std::chrono::seconds(1);
// A request refused for the body budget may come back after this long.
constexpr int body_budget_retry_after_s = 1;
// The chunk a streamed response body (a download) is written in: the memory one download holds.
constexpr std::size_t stream_chunk_bytes = 128 * 1024;

http_method method_of(http::verb v) {
    switch (v) {
        case http::verb::get: return http_method::get;
        case http::verb::head: return http_method::head;
        case http::verb::post: return http_method::post;
        case http::verb::put: return http_method::put;
        case http::verb::patch: return http_method::patch;
        case http::verb::delete_: return http_method::del;
        case http::verb::options: return http_method::options;
        default: return http_method::other;
    }
}

bool sane_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) {
        return false;
    }
    for (unsigned char c : id) {
        if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

// Per-route request counters, looked up once per (route, code) and cached: the registry's
// lookup takes a lock and scans.
class http_metrics {
public:
    explicit http_metrics(infra::metrics_registry& m) : metrics_(m) {}

    void record(const std::string& route, int code, double seconds) {
        counter_for(route, code).inc();
        histogram_for(route).observe(seconds);
    }

private:
    infra::counter& counter_for(const std::string& route, int code) {
        std::lock_guard lock(mutex_);
        auto key = route + '\n' + std::to_string(code);
        auto it = counters_.find(key);
        if (it == counters_.end()) {
            auto& c = metrics_.get_counter("monochat_http_requests_total", "HTTP requests by route and status.",
                                           {{"route", route}, {"code", std::to_string(code)}});
            it = counters_.emplace(std::move(key), &c).first;
        }
        return *it->second;
    }
    infra::histogram& histogram_for(const std::string& route) {
        std::lock_guard lock(mutex_);
        auto it = histograms_.find(route);
        if (it == histograms_.end()) {
            auto& h = metrics_.get_histogram("monochat_http_request_duration_seconds",
                                             "Time from a request's last byte to its response.",
                                             infra::latency_buckets(), {{"route", route}});
            it = histograms_.emplace(route, &h).first;
        }
        return *it->second;
    }

    infra::metrics_registry& metrics_;
    std::mutex mutex_;
    std::unordered_map<std::string, infra::counter*> counters_;
    std::unordered_map<std::string, infra::histogram*> histograms_;
};

// Connections the listener refuses or drops because of a connection-level limit, one counter
// per reason of `monochat_connections_refused_total`.
struct refusal_metrics {
    explicit refusal_metrics(infra::metrics_registry& m)
        : max_connections(get(m, "max_connections")),
          per_address(get(m, "per_address")),
          connection_rate(get(m, "connection_rate")),
          request_timeout(get(m, "request_timeout")),
          header_too_large(get(m, "header_too_large")),
          body_too_large(get(m, "body_too_large")),
          handshake_timeout(get(m, "handshake_timeout")),
          tls_handshake(get(m, "tls_handshake")),
          plain_on_tls(get(m, "plain_on_tls")),
          body_budget(get(m, "body_budget")) {}

    static infra::counter& get(infra::metrics_registry& m, const char* reason) {
        return m.get_counter("monochat_connections_refused_total",
                             "Connections refused or dropped by a connection-level limit.",
                             {{"reason", reason}});
    }

    infra::counter& max_connections;
    infra::counter& per_address;
    infra::counter& connection_rate;
    infra::counter& request_timeout;
    infra::counter& header_too_large;
    infra::counter& body_too_large;
    infra::counter& handshake_timeout;
    infra::counter& tls_handshake;
    infra::counter& plain_on_tls;
    infra::counter& body_budget;  // 503: server.max_body_bytes_in_flight reached
};

std::string client_key(const net::ip::address& a) {
    if (a.is_v6()) {
        const auto b = a.to_v6().to_bytes();
        return address_key(true, b.data());
    }
    const auto b = a.to_v4().to_bytes();
    return address_key(false, b.data());
}

}  // namespace

void http_limits::apply(const infra::config& cfg) {
    max_body_bytes = cfg.server.max_body_bytes;
    max_body_bytes_in_flight = cfg.server.max_body_bytes_in_flight;
    linger_ms = cfg.server.linger_ms;
    linger_bytes = cfg.server.linger_bytes;
    max_header_bytes = cfg.server.max_header_bytes;
    request_timeout_ms = cfg.server.request_timeout_ms;
    idle_timeout_ms = cfg.server.idle_timeout_ms;
    max_connections = cfg.limits.max_connections;
    max_connections_per_address = cfg.limits.max_connections_per_address;
    connection_rate = cfg.limits.connection_rate;
    connection_burst = cfg.limits.connection_burst;
    handshake_timeout_ms = cfg.server.handshake_timeout_ms;
}

struct http_server::impl : std::enable_shared_from_this<http_server::impl> {
    impl(net::io_context& ioc, const http_limits& limits, const router& routes,
         infra::metrics_registry& metrics)
        : ioc_(ioc),
          limits_(limits),
          routes_(routes),
          acceptor_(net::make_strand(ioc)),
          http_metrics_(metrics),
          open_gauge_(metrics.get_gauge("monochat_http_connections",
                                        "Open client connections (HTTP and upgraded).")),
          refused_(metrics),
          body_gauge_(metrics.get_gauge(
              "monochat_http_body_bytes_in_flight",
              "Request body bytes charged against server.max_body_bytes_in_flight.")),
          admission_(clock_) {}

    // A tracked connection: how to close it from another thread, and whether it is idle.
    struct conn_entry {
        net::any_io_executor executor;
        beast::tcp_stream* stream;
        bool busy = false;
        bool upgraded = false;
    };

    net::io_context& ioc_;
    const http_limits& limits_;
    const router& routes_;
    tcp::acceptor acceptor_;
    http_metrics http_metrics_;
    infra::gauge& open_gauge_;
    refusal_metrics refused_;
    infra::gauge& body_gauge_;
    std::atomic<std::int64_t> body_bytes_in_flight_{0};
    infra::system_clock clock_;
    address_admission admission_;
    upgrade_handler upgrade_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> open_{0};

    mutable std::mutex conns_mutex_;
    std::list<conn_entry> conns_;
    std::size_t busy_ = 0;

    // Replaced whole by reload_tls(); each new connection takes the current one.
    mutable std::mutex tls_mutex_;
    std::shared_ptr<const tls_settings> tls_ = std::make_shared<const tls_settings>();

    std::shared_ptr<const tls_settings> tls_snapshot() const {
        std::lock_guard lock(tls_mutex_);
        return tls_;
    }

    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(net::make_strand(ioc_), token);
            if (stopping_) {
                co_return;
            }
            if (ec) {
                if (ec == net::error::operation_aborted) {
                    co_return;
                }
                // EMFILE and friends: back off briefly rather than spin.
                infra::log::warn("gateway", "accept failed", {{"error", ec.message()}});
                net::steady_timer t(acceptor_.get_executor(), std::chrono::milliseconds(50));
                co_await t.async_wait(token);
                continue;
            }
            // Frames are small and written whole (one flush per batch of frames): Nagle's
            // algorithm would only hold an ack or a push back behind an unacknowledged write.
            beast::error_code nodelay_ec;
            socket.set_option(tcp::no_delay(true), nodelay_ec);
            const auto ex = socket.get_executor();
            net::co_spawn(ex, session(std::move(socket)),
                          [](std::exception_ptr e) {
                              if (e) {
                                  try {
                                      std::rethrow_exception(e);
                                  } catch (const std::exception& ex) {
                                      infra::log::error("gateway", "connection failed",
                                                        {{"error", ex.what()}});
                                  }
                              }
                          });
        }
    }

    std::list<conn_entry>::iterator track(beast::tcp_stream& stream) {
        std::lock_guard lock(conns_mutex_);
        conns_.push_back({stream.get_executor(), &stream});
        return std::prev(conns_.end());
    }
    void untrack(std::list<conn_entry>::iterator it) {
        std::lock_guard lock(conns_mutex_);
        if (it->busy) {
            --busy_;
        }
        conns_.erase(it);
    }
    void set_busy(std::list<conn_entry>::iterator it, bool busy) {
        std::lock_guard lock(conns_mutex_);
        if (it->busy != busy) {
            busy_ += busy ? 1 : -1;
            it->busy = busy;
        }
    }

    static http::response<http::string_body> to_beast(http_response&& r, unsigned version,
                                                      bool keep_alive, bool head,
                                                      const std::string& trace_id) {
        http::response<http::string_body> res{static_cast<http::status>(r.status), version};
        res.set(http::field::server, "monochat");
        if (!r.content_type.empty()) {
            res.set(http::field::content_type, r.content_type);
        }
        for (auto& [k, v] : r.headers) {
            res.set(k, v);
        }
        res.set("X-Request-Id", trace_id);
        res.body() = std::move(r.body);
        res.keep_alive(keep_alive);
        res.prepare_payload();
        if (head) {
            res.body().clear();  // Content-Length stays that of the GET answer
        }
        return res;
    }

    // Ends a response-and-close after a complete exchange: a TLS stream says close_notify
    // first (briefly), then the sending side of the socket is shut.
    template <class Stream>
    net::awaitable<void> finish(Stream& stream) {
        if constexpr (std::is_same_v<Stream, tls_stream>) {
            beast::get_lowest_layer(stream).expires_after(close_notify_time);
            co_await stream.async_shutdown(token);
        }
        beast::error_code ignored;
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    // Ends a connection whose client may still be sending (a refused body, a request cut
    // short): closing a socket with unread bytes sends a reset, and a reset that reaches the
    // client before it read the answer destroys the answer (the client sees EPIPE or
    // ECONNRESET, never the 413). So, as nginx's lingering close does: shut the sending side
    // (the client reads the answer and then end-of-file), then read and drop what still comes
    // until the client closes, for at most `linger_ms` and `linger_bytes`. Past either bound
    // the socket is closed anyway: the bounds keep a client from holding the connection.
    template <class Stream>
    net::awaitable<void> linger_close(Stream& stream) {
        auto& lowest = beast::get_lowest_layer(stream);
        lowest.expires_after(std::chrono::milliseconds(limits_.linger_ms.load()));
        if constexpr (std::is_same_v<Stream, tls_stream>) {
            // close_notify, within the same deadline; what the client sends after it is
            // dropped below without being decrypted.
            co_await stream.async_shutdown(token);
        }
        beast::error_code ignored;
        lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
        const auto max_bytes = static_cast<std::uint64_t>(limits_.linger_bytes.load());
        std::array<char, 16 * 1024> sink;
        std::uint64_t dropped = 0;
        while (dropped < max_bytes) {
            auto [rec, n] = co_await lowest.async_read_some(net::buffer(sink), token);
            if (rec) {
                break;  // end of file (the client is done), the deadline, or a reset
            }
            dropped += n;
        }
    }

    // One request's body charged against `max_body_bytes_in_flight`, released when the
    // request is over. The charge is the larger of the declared Content-Length (the parser
    // reserves that much up front) and what the body holds (a chunked body as it grows).
    struct body_charge {
        impl& s;
        std::uint64_t held = 0;

        [[nodiscard]] bool reserve(std::uint64_t total) {
            if (total <= held) {
                return true;
            }
            const auto more = total - held;
            const auto budget =
                static_cast<std::uint64_t>(s.limits_.max_body_bytes_in_flight.load());
            const auto before = static_cast<std::uint64_t>(
                s.body_bytes_in_flight_.fetch_add(static_cast<std::int64_t>(more)));
            if (before + more > budget) {
                s.body_bytes_in_flight_.fetch_sub(static_cast<std::int64_t>(more));
                return false;
            }
            held = total;
            s.body_gauge_.add(static_cast<double>(more));
            return true;
        }
        void release() {
            if (held > 0) {
                s.body_bytes_in_flight_.fetch_sub(static_cast<std::int64_t>(held));
                s.body_gauge_.add(-static_cast<double>(held));
                held = 0;
            }
        }
        ~body_charge() { release(); }
    };

    template <class Stream>
    net::awaitable<void> write_error_and_close(Stream& stream, errc code, std::string message,
                                               int status_override = 0, int retry_after_s = 0) {
        error e = make_error(code, std::move(message));
        e.retry_after_s = retry_after_s;
        http_response r = error_response(e);
        if (status_override != 0) {
            r.status = status_override;
        }
        auto res = to_beast(std::move(r), 11, false, false, infra::log::new_trace_id());
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
        auto [wec, wn] = co_await http::async_write(stream, res, token);
        if (wec) {
            co_return;
        }
        // A refusal may leave the client's request unread.
        co_await linger_close(stream);
    }

    // What a connection holds until it ends (also past an upgrade, which takes both over).
    struct conn_guard {
        impl& s;
        std::string address_key;  // per-address limits count under this key
        bool counted = true;      // in open_ and the gauge
        bool admitted = false;    // in the per-address count
        ~conn_guard() {
            if (admitted) {
                s.admission_.release(address_key);
            }
            if (counted) {
                s.open_gauge_.dec();
                --s.open_;
            }
        }
    };

    // A new connection: the connection limits, then (with a certificate) TLS detection and the
    // handshake, then HTTP. A refused connection is told why in plain HTTP; on TLS it is closed
    // before the handshake, since answering would cost one.
    net::awaitable<void> session(tcp::socket socket) {
        const auto self = shared_from_this();
        open_gauge_.inc();
        beast::error_code ec;
        const auto peer = socket.remote_endpoint(ec).address();
        conn_guard guard{*this, client_key(peer)};
        beast::tcp_stream stream(std::move(socket));

        // Which limit refuses the connection, if any; counted once the answer is decided.
        errc refusal = errc::internal;
        std::string refusal_message;
        infra::counter* refusal_counter = nullptr;
        int retry_after_s = 0;
        if (++open_ > static_cast<std::size_t>(limits_.max_connections.load())) {
            refusal = errc::unavailable;
            refusal_message = "too many connections";
            refusal_counter = &refused_.max_connections;
        } else {
            // Per-address limits: the key is the IPv4 address or the IPv6 /64.
            const address_settings per_address{limits_.max_connections_per_address.load(),
                                               limits_.connection_rate.load(),
                                               limits_.connection_burst.load()};
            const auto admitted = admission_.admit(guard.address_key, per_address);
            retry_after_s = admitted.retry_after_s;
            if (admitted.outcome == address_admission::verdict::rate_limited) {
                refusal = errc::rate_limited;
                refusal_message = "too many new connections from this address";
                refusal_counter = &refused_.connection_rate;
            } else if (admitted.outcome == address_admission::verdict::too_many_from_address) {
                refusal = errc::rate_limited;
                refusal_message = "too many connections from this address";
                refusal_counter = &refused_.per_address;
            } else {
                guard.admitted = true;
            }
        }

        beast::flat_buffer buffer;
        const auto tls = tls_snapshot();
        if (tls->context) {
            // The first bytes tell a TLS ClientHello from plain HTTP; a client that sends
            // nothing within the handshake timeout is dropped.
            const auto handshake_timeout = std::chrono::milliseconds(limits_.handshake_timeout_ms.load());
            stream.expires_after(handshake_timeout);
            auto [dec, is_tls] = co_await beast::async_detect_ssl(stream, buffer, token);
            if (dec) {
                if (dec == beast::error::timeout) {
                    refused_.handshake_timeout.inc();
                }
                co_return;
            }
            if (is_tls) {
                if (refusal_counter != nullptr) {
                    refusal_counter->inc();
                    co_return;
                }
                tls_stream ts(std::move(stream), *tls->context);
                beast::get_lowest_layer(ts).expires_after(handshake_timeout);
                auto [hec, used] =
                    co_await ts.async_handshake(net::ssl::stream_base::server, buffer.data(), token);
                if (hec) {
                    if (hec == beast::error::timeout) {
                        refused_.handshake_timeout.inc();
                    } else {
                        refused_.tls_handshake.inc();
                        infra::log::debug("gateway", "tls handshake failed",
                                          {{"client", peer.to_string()}, {"error", hec.message()}});
                    }
                    co_return;
                }
                buffer.consume(used);
                co_await serve(ts, std::move(buffer), peer.to_string(), guard);
                co_return;
            }
            if (refusal_counter == nullptr && !tls->allow_plain) {
                refused_.plain_on_tls.inc();
                co_await write_error_and_close(stream, errc::invalid_argument,
                                               "this port speaks TLS: use https:// or wss://");
                co_return;
            }
        }
        if (refusal_counter != nullptr) {
            refusal_counter->inc();
            co_await write_error_and_close(stream, refusal, std::move(refusal_message), 0, retry_after_s);
            co_return;
        }
        co_await serve(stream, std::move(buffer), peer.to_string(), guard);
    }

    // HTTP/1.1 on an admitted connection, plain or TLS: requests until the client or a timeout
    // ends it, or until a WebSocket upgrade hands the stream to the upgrade handler.
    template <class Stream>
    net::awaitable<void> serve(Stream& stream, beast::flat_buffer buffer, std::string client_address,
                               conn_guard& guard) {
        const auto self = shared_from_this();
        auto entry = track(beast::get_lowest_layer(stream));
        struct untrack_on_exit {
            impl& s;
            std::list<conn_entry>::iterator it;
            ~untrack_on_exit() { s.untrack(it); }
        } untracker{*this, entry};

        bool first = true;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes.load()));
            // The body limit is set once the header shows the route: a streaming route (an
            // upload) has none of the listener's, so a declared length is checked below.
            parser.body_limit(std::numeric_limits<std::uint64_t>::max());
            // Before the first request and between keep-alive requests the connection may idle;
            // the first connection's request must come within the request timeout.
            const bool waiting_first = first;
            beast::get_lowest_layer(stream).expires_after(std::chrono::milliseconds(
                first ? limits_.request_timeout_ms.load() : limits_.idle_timeout_ms.load()));
            first = false;
            auto [rec, rn] = co_await http::async_read_header(stream, buffer, parser, token);
            if (rec == http::error::header_limit) {
                refused_.header_too_large.inc();
                co_await write_error_and_close(stream, errc::too_large, "request header too large", 431);
                co_return;
            }
            if (rec == http::error::body_limit) {
                refused_.body_too_large.inc();
                co_await write_error_and_close(stream, errc::too_large, "request body too large");
                co_return;
            }
            if (rec == beast::error::timeout && (waiting_first || parser.got_some() || buffer.size() > 0)) {
                // A client that connected and sent nothing, or holds half a request
                // (slowloris); a keep-alive connection idle between requests is not counted.
                refused_.request_timeout.inc();
                co_return;
            }
            if (rec == http::error::bad_method || rec == http::error::bad_target ||
                rec == http::error::bad_version || rec == http::error::bad_field ||
                rec == http::error::bad_value || rec == http::error::bad_line_ending ||
                rec == http::error::bad_content_length || rec == http::error::bad_transfer_encoding ||
                rec == http::error::bad_chunk || rec == http::error::bad_obs_fold) {
                co_await write_error_and_close(stream, errc::invalid_argument, "malformed HTTP request");
                co_return;
            }
            if (rec) {
                co_return;  // closed, timed out or reset: nothing to answer
            }
            set_busy(entry, true);
            const auto started = std::chrono::steady_clock::now();
            beast::get_lowest_layer(stream).expires_after(
                std::chrono::milliseconds(limits_.request_timeout_ms.load()));

            http_request req;
            auto& hdr = parser.get();
            req.method = method_of(hdr.method());
            req.target = std::string(hdr.target());
            req.authorization = std::string(hdr[http::field::authorization]);
            req.user_agent = std::string(hdr[http::field::user_agent]);
            req.if_none_match = std::string(hdr[http::field::if_none_match]);
            req.range = std::string(hdr[http::field::range]);
            req.if_range = std::string(hdr[http::field::if_range]);
            req.client_address = client_address;
            const auto rid = hdr["X-Request-Id"];
            req.trace_id = sane_request_id(rid) ? std::string(rid) : infra::log::new_trace_id();
            const std::string_view target = hdr.target();
            const auto qpos = target.find('?');
            const bool target_ok =
                percent_decode(target.substr(0, qpos), req.path, false) &&
                (qpos == std::string_view::npos || parse_query(target.substr(qpos + 1), req.query));

            if (target_ok && req.path == ws_path && beast::websocket::is_upgrade(hdr) && upgrade_) {
                beast::get_lowest_layer(stream).expires_never();
                auto up = std::make_unique<upgrade_request>(upgrade_request{
                    std::move(stream), std::move(buffer), parser.release(), std::move(req), {}});
                set_busy(entry, false);
                {
                    std::lock_guard lock(conns_mutex_);
                    entry->upgraded = true;
                }
                // The WebSocket gateway owns the connection now; it still counts as open (in
                // all and for its address) until it ends.
                const bool admitted = guard.admitted;
                guard.counted = false;
                guard.admitted = false;
                up->on_close = [self, key = guard.address_key, admitted] {
                    if (admitted) {
                        self->admission_.release(key);
                    }
                    self->open_gauge_.dec();
                    --self->open_;
                };
                upgrade_(std::move(up));
                co_return;
            }

            // Only a request with a body can be for a streaming route's stream (one without
            // takes the usual path, with an empty body); this keeps the extra route lookup off
            // every other request.
            const bool has_body = parser.chunked() || parser.content_length().value_or(0) > 0;
            if (target_ok && has_body) {
                if (auto sm = routes_.find(req.method, req.path); sm.handler != nullptr && sm.streaming) {
                    const bool again =
                        co_await serve_streaming(stream, buffer, parser, req, std::move(sm), started);
                    set_busy(entry, false);
                    if (!again) {
                        co_return;
                    }
                    continue;
                }
            }

            const auto max_body = static_cast<std::uint64_t>(limits_.max_body_bytes.load());
            if (parser.content_length().value_or(0) > max_body) {
                refused_.body_too_large.inc();
                co_await write_error_and_close(stream, errc::too_large, "request body too large");
                co_return;
            }
            parser.body_limit(max_body);

            // The body is charged against the budget of bodies in flight before its bytes
            // are read, and again as a chunked body grows; the charge ends with the request.
            body_charge charge{*this};
            const auto body_bytes = [&parser] {
                // Heap bytes only: an empty body's in-object buffer costs nothing extra.
                const auto& body = parser.get().body();
                const std::size_t heap =
                    body.capacity() > std::string().capacity() ? body.capacity() : 0;
                return std::max<std::uint64_t>(parser.content_length().value_or(0), heap);
            };
            bool within_budget = charge.reserve(body_bytes());
            while (within_budget && !parser.is_done()) {
                auto [bec, bn] = co_await http::async_read_some(stream, buffer, parser, token);
                if (bec == http::error::body_limit) {
                    std::string().swap(parser.get().body());
                    charge.release();
                    refused_.body_too_large.inc();
                    co_await write_error_and_close(stream, errc::too_large,
                                                   "request body too large");
                    co_return;
                }
                if (bec == beast::error::timeout) {
                    refused_.request_timeout.inc();
                    co_return;
                }
                if (bec) {
                    if (bec != http::error::end_of_stream && bec != net::error::eof &&
                        bec != net::error::connection_reset) {
                        co_await write_error_and_close(stream, errc::invalid_argument,
                                                       "malformed HTTP request");
                    }
                    co_return;
                }
                within_budget = charge.reserve(body_bytes());
            }
            if (!within_budget) {
                // The server stays up and answers; the memory the parser reserved for this
                // body goes, and its charge with it, before the connection lingers.
                std::string().swap(parser.get().body());
                charge.release();
                refused_.body_budget.inc();
                co_await write_error_and_close(stream, errc::unavailable,
                                               "too many request bodies in flight; retry later", 0,
                                               body_budget_retry_after_s);
                co_return;
            }
            req.body = std::move(parser.get().body());
            const bool keep_alive = parser.get().keep_alive() && !stopping_;
            const unsigned version = parser.get().version();

            http_response res;
            std::string route = "unmatched";
            if (!target_ok) {
                res = error_response(make_error(errc::invalid_argument, "malformed request target"));
            } else {
                res = co_await dispatch(req, route);
            }
            const int status = res.status;
            const auto wec = co_await write_response(stream, std::move(res), version, keep_alive,
                                                     req.method == http_method::head, req.trace_id);
            const double secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            http_metrics_.record(route, status, secs);
            if (infra::log::enabled(infra::log::level::debug)) {
                infra::log::debug("gateway", "http request",
                                  {{"trace", req.trace_id}, {"method", to_string(req.method)},
                                   {"route", route}, {"status", status},
                                   {"ms", static_cast<std::int64_t>(secs * 1000)}});
            }
            set_busy(entry, false);
            if (wec || !keep_alive || stopping_) {
                if (!wec) {
                    co_await finish(stream);
                }
                co_return;
            }
        }
    }

    // Writes a response: whole from its body, or (http_response::source) header first and
    // then the source's chunks, each write with its own deadline, so that a large download
    // holds one chunk of memory and a slow reader is dropped only when it stalls.
    template <class Stream>
    net::awaitable<beast::error_code> write_response(Stream& stream, http_response res,
                                                     unsigned version, bool keep_alive, bool head,
                                                     const std::string& trace_id) {
        auto& lowest = beast::get_lowest_layer(stream);
        const auto deadline = std::chrono::milliseconds(limits_.request_timeout_ms.load());
        if (!res.source) {
            auto out = to_beast(std::move(res), version, keep_alive, head, trace_id);
            auto [wec, wn] = co_await http::async_write(stream, out, token);
            co_return wec;
        }
        http::response<http::empty_body> h{static_cast<http::status>(res.status), version};
        h.set(http::field::server, "monochat");
        if (!res.content_type.empty()) {
            h.set(http::field::content_type, res.content_type);
        }
        for (auto& [k, v] : res.headers) {
            h.set(k, v);
        }
        h.set("X-Request-Id", trace_id);
        h.content_length(res.source_length);
        h.keep_alive(keep_alive);
        http::response_serializer<http::empty_body> sr{h};
        lowest.expires_after(deadline);
        auto [hec, hn] = co_await http::async_write_header(stream, sr, token);
        if (hec || head) {
            co_return hec;
        }
        std::vector<char> chunk(stream_chunk_bytes);
        std::uint64_t left = res.source_length;
        while (left > 0) {
            const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
            auto got = co_await res.source->read(std::span<char>(chunk.data(), want));
            if (!got || *got == 0 || *got > want) {
                // Cut short: closing tells the client that the body is incomplete.
                co_return beast::error_code(net::error::connection_aborted);
            }
            lowest.expires_after(deadline);
            auto [wec, wn] = co_await net::async_write(stream, net::buffer(chunk.data(), *got), token);
            if (wec) {
                co_return wec;
            }
            left -= *got;
        }
        co_return beast::error_code{};
    }

    // The body of a streaming route's request, read into the handler's buffer as it arrives
    // (beast's buffer_body: the parser copies body bytes straight into the given buffer).
    template <class Stream>
    struct streaming_body final : body_stream {
        Stream& stream;
        beast::flat_buffer& buffer;
        http::request_parser<http::buffer_body>& parser;
        std::chrono::milliseconds deadline;
        bool failed = false;
        // `Expect: 100-continue` (curl's default for large bodies): answered when the handler
        // first reads, so that a request refused before that gets its answer instead.
        bool expect_continue = false;

        streaming_body(Stream& s, beast::flat_buffer& b, http::request_parser<http::buffer_body>& p,
                       std::chrono::milliseconds d)
            : stream(s), buffer(b), parser(p), deadline(d) {
            expect_continue = beast::iequals(parser.get()[http::field::expect], "100-continue");
        }

        net::awaitable<result<std::size_t>> read_some(std::span<char> buf) override {
            if (expect_continue) {
                expect_continue = false;
                http::response<http::empty_body> cont{http::status::continue_, 11};
                beast::get_lowest_layer(stream).expires_after(deadline);
                auto [cec, cn] = co_await http::async_write(stream, cont, token);
                if (cec) {
                    failed = true;
                    co_return make_error(errc::unavailable, "the client went away");
                }
            }
            // Fills the handler's buffer (or ends with the body): a socket read gives at most
            // what one loopback segment burst holds (about 64 KiB), and each chunk the handler
            // gets costs it a hand-off to the file worker, so fewer, fuller chunks are cheaper.
            std::size_t filled = 0;
            while (!parser.is_done() && !buf.empty()) {
                if (failed) {
                    co_return make_error(errc::unavailable, "the request body was cut short");
                }
                parser.get().body().data = buf.data();
                parser.get().body().size = buf.size();
                beast::get_lowest_layer(stream).expires_after(deadline);
                auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, token);
                const std::size_t got = buf.size() - parser.get().body().size;
                parser.get().body().data = nullptr;
                parser.get().body().size = 0;
                if (ec == http::error::need_buffer) {
                    ec = {};
                }
                if (ec) {
                    failed = true;
                    if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension) {
                        co_return make_error(errc::invalid_argument, "malformed chunked body");
                    }
                    co_return make_error(errc::unavailable, "the request body was cut short");
                }
                filled += got;
                buf = buf.subspan(got);
            }
            co_return filled;
        }
        std::optional<std::uint64_t> content_length() const override {
            const auto n = parser.content_length();
            return n ? std::optional<std::uint64_t>(*n) : std::nullopt;
        }
        bool done() const override { return parser.is_done(); }
    };

    // A request to a streaming route (router::add_streaming, uploads): the handler reads the
    // body itself, outside `max_body_bytes` and the body budget, since it holds only its own
    // bounded buffer. A body the handler left unread (a refusal) ends the connection after the
    // answer, with a lingering close. Returns whether the connection may take another request.
    template <class Stream>
    net::awaitable<bool> serve_streaming(Stream& stream, beast::flat_buffer& buffer,
                                         http::request_parser<http::string_body>& header_parser,
                                         http_request& req, router::match m,
                                         std::chrono::steady_clock::time_point started) {
        http::request_parser<http::buffer_body> parser{std::move(header_parser)};
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        streaming_body<Stream> body(stream, buffer, parser,
                                    std::chrono::milliseconds(limits_.request_timeout_ms.load()));
        req.stream = &body;
        req.route = *m.pattern;
        req.path_params = std::move(m.params);
        http_response res;
        try {
            res = co_await (*m.handler)(req);
        } catch (const std::exception& e) {
            infra::log::error("gateway", "handler threw",
                              {{"trace", req.trace_id}, {"route", req.route}, {"error", e.what()}});
            res = error_response(make_error(errc::internal, "internal error"));
        }
        req.stream = nullptr;
        const bool complete = parser.is_done() && !body.failed;
        const bool keep_alive = complete && parser.get().keep_alive() && !stopping_;
        const unsigned version = parser.get().version();
        const int status = res.status;
        // The handler's own work (hashing, a thumbnail) may have outlasted the last read's
        // deadline: the answer gets one of its own.
        beast::get_lowest_layer(stream).expires_after(
            std::chrono::milliseconds(limits_.request_timeout_ms.load()));
        const auto wec = co_await write_response(stream, std::move(res), version, keep_alive,
                                                 req.method == http_method::head, req.trace_id);
        http_metrics_.record(req.route, status,
                             std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                           started)
                                 .count());
        if (wec) {
            co_return false;
        }
        if (!complete) {
            if (!body.failed) {
                co_await linger_close(stream);
            }
            co_return false;
        }
        if (!keep_alive) {
            co_await finish(stream);
            co_return false;
        }
        co_return true;
    }

    net::awaitable<http_response> dispatch(http_request& req, std::string& route) {
        auto m = routes_.find(req.method, req.path);
        try {
            if (m.handler != nullptr) {
                route = *m.pattern;
                req.route = route;
                req.path_params = std::move(m.params);
                co_return co_await (*m.handler)(req);
            }
            if (!m.allowed.empty()) {
                route = "method_not_allowed";
                auto r = error_response(make_error(
                    errc::method_not_allowed,
                    std::string(to_string(req.method)) + " is not allowed on " + req.path));
                std::string allow;
                for (auto a : m.allowed) {
                    allow += (allow.empty() ? "" : ", ") + std::string(to_string(a));
                }
                r.headers.emplace_back("Allow", allow);
                co_return r;
            }
            const bool api = req.path == "/api" || req.path.rfind("/api/", 0) == 0;
            if (!api && routes_.fallback() != nullptr) {
                route = "static";
                req.route = route;
                co_return co_await (*routes_.fallback())(req);
            }
            route = "not_found";
            co_return error_response(make_error(errc::not_found, "no such route: " + req.path));
        } catch (const std::exception& e) {
            // A handler bug answers 500 for this request only.
            infra::log::error("gateway", "handler threw",
                              {{"trace", req.trace_id}, {"route", route}, {"error", e.what()}});
            co_return error_response(make_error(errc::internal, "internal error"));
        }
    }
};

http_server::http_server(net::io_context& ioc, const http_limits& limits, const router& routes,
                         infra::metrics_registry& metrics)
    : impl_(std::make_shared<impl>(ioc, limits, routes, metrics)) {}

http_server::~http_server() { stop_accepting(); }

void http_server::set_upgrade_handler(upgrade_handler handler) { impl_->upgrade_ = std::move(handler); }

result<std::string> http_server::listen(const std::string& host, std::uint16_t port) {
    beast::error_code ec;
    const auto address = net::ip::make_address(host, ec);
    if (ec) {
        return make_error(errc::invalid_argument, "server.host: not an IP address: " + host);
    }
    tcp::endpoint ep{address, port};
    auto& a = impl_->acceptor_;
    a.open(ep.protocol(), ec);
    if (!ec) {
        a.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        a.bind(ep, ec);
    }
    if (!ec) {
        a.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        return make_error(errc::unavailable,
                          "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
    }
    const auto bound = a.local_endpoint(ec);
    net::co_spawn(a.get_executor(), impl_->accept_loop(), net::detached);
    const std::string addr = bound.address().is_v6()
                                 ? "[" + bound.address().to_string() + "]:" + std::to_string(bound.port())
                                 : bound.address().to_string() + ":" + std::to_string(bound.port());
    return addr;
}

void http_server::stop_accepting() {
    if (impl_->stopping_.exchange(true)) {
        return;
    }
    net::post(impl_->acceptor_.get_executor(), [self = impl_] {
        beast::error_code ignored;
        self->acceptor_.close(ignored);
    });
}

void http_server::close_idle() {
    std::lock_guard lock(impl_->conns_mutex_);
    for (auto& c : impl_->conns_) {
        if (!c.busy && !c.upgraded) {
            // Runs on the connection's strand, where its coroutine lives. The connection may
            // have ended or become busy since, so the entry is looked up again there.
            net::post(c.executor, [self = impl_, stream = c.stream] {
                std::lock_guard l(self->conns_mutex_);
                for (auto& e : self->conns_) {
                    if (e.stream == stream && !e.busy) {
                        beast::error_code ignored;
                        stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
                        stream->socket().cancel(ignored);
                        return;
                    }
                }
            });
        }
    }
}

std::size_t http_server::busy_connections() const {
    std::lock_guard lock(impl_->conns_mutex_);
    return impl_->busy_;
}

std::size_t http_server::open_connections() const { return impl_->open_.load(); }

status http_server::reload_tls(const infra::tls_options& tls) {
    auto next = std::make_shared<tls_settings>();
    next->allow_plain = tls.allow_plain;
    next->cert_file = tls.cert_file;
    if (!tls.cert_file.empty() || !tls.key_file.empty()) {
        auto ctx = load_tls_context(tls);
        if (!ctx) {
            infra::log::error("gateway", "tls certificate refused; the running one stays",
                              {{"error", ctx.error().message}});
            return ctx.error();
        }
        next->context = std::move(*ctx);
    }
    std::shared_ptr<const tls_settings> old;
    {
        std::lock_guard lock(impl_->tls_mutex_);
        old = std::exchange(impl_->tls_, std::move(next));
    }
    if (tls.cert_file.empty()) {
        if (old->context) {
            infra::log::warn("gateway", "tls turned off: new connections are plain HTTP");
        }
    } else {
        infra::log::info("gateway", "tls certificate loaded",
                         {{"cert_file", tls.cert_file}, {"allow_plain", tls.allow_plain ? "true" : "false"}});
    }
    return {};
}

bool http_server::tls_enabled() const { return impl_->tls_snapshot()->context != nullptr; }

}  // namespace monochat::gateway
