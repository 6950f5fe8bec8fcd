#include <monochat/gateway/http_server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <list>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <mutex>
#include <unordered_map>

#include "gateway/upgrade.hpp"

namespace monochat::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {
constexpr auto token = net::as_tuple(net::use_awaitable);
constexpr std::string_view ws_path = "/api/v1/ws";

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

}  // namespace

void http_limits::apply(const infra::config& cfg) {
    max_body_bytes = cfg.server.max_body_bytes;
    max_header_bytes = cfg.server.max_header_bytes;
    request_timeout_ms = cfg.server.request_timeout_ms;
    idle_timeout_ms = cfg.server.idle_timeout_ms;
    max_connections = cfg.limits.max_connections;
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
          refused_(metrics.get_counter("monochat_connections_refused_total",
                                       "Connections refused at accept.", {{"reason", "max_connections"}})) {}

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
    infra::counter& refused_;
    upgrade_handler upgrade_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> open_{0};

    mutable std::mutex conns_mutex_;
    std::list<conn_entry> conns_;
    std::size_t busy_ = 0;

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
            const auto ex = socket.get_executor();
            net::co_spawn(ex, session(beast::tcp_stream(std::move(socket))),
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

    net::awaitable<void> write_error_and_close(beast::tcp_stream& stream, errc code,
                                               std::string message, int status_override = 0) {
        http_response r = error_response(make_error(code, std::move(message)));
        if (status_override != 0) {
            r.status = status_override;
        }
        auto res = to_beast(std::move(r), 11, false, false, infra::log::new_trace_id());
        stream.expires_after(std::chrono::seconds(5));
        co_await http::async_write(stream, res, token);
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    net::awaitable<void> session(beast::tcp_stream stream) {
        const auto self = shared_from_this();
        open_gauge_.inc();
        struct on_exit {
            impl& s;
            bool counted = true;
            ~on_exit() {
                if (counted) {
                    s.open_gauge_.dec();
                    --s.open_;
                }
            }
        } guard{*this};
        if (++open_ > static_cast<std::size_t>(limits_.max_connections.load())) {
            refused_.inc();
            co_await write_error_and_close(stream, errc::unavailable, "too many connections");
            co_return;
        }
        auto entry = track(stream);
        struct untrack_on_exit {
            impl& s;
            std::list<conn_entry>::iterator it;
            ~untrack_on_exit() { s.untrack(it); }
        } untracker{*this, entry};

        beast::error_code ec;
        std::string client_address = stream.socket().remote_endpoint(ec).address().to_string();
        beast::flat_buffer buffer;
        bool first = true;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes.load()));
            parser.body_limit(static_cast<std::uint64_t>(limits_.max_body_bytes.load()));
            // Before the first request and between keep-alive requests the connection may idle;
            // the first connection's request must come within the request timeout.
            stream.expires_after(std::chrono::milliseconds(
                first ? limits_.request_timeout_ms.load() : limits_.idle_timeout_ms.load()));
            first = false;
            auto [rec, rn] = co_await http::async_read_header(stream, buffer, parser, token);
            if (rec == http::error::header_limit) {
                co_await write_error_and_close(stream, errc::too_large, "request header too large", 431);
                co_return;
            }
            if (rec == http::error::body_limit) {
                co_await write_error_and_close(stream, errc::too_large, "request body too large");
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
            stream.expires_after(std::chrono::milliseconds(limits_.request_timeout_ms.load()));

            http_request req;
            auto& hdr = parser.get();
            req.method = method_of(hdr.method());
            req.target = std::string(hdr.target());
            req.authorization = std::string(hdr[http::field::authorization]);
            req.user_agent = std::string(hdr[http::field::user_agent]);
            req.if_none_match = std::string(hdr[http::field::if_none_match]);
            req.client_address = client_address;
            const auto rid = hdr["X-Request-Id"];
            req.trace_id = sane_request_id(rid) ? std::string(rid) : infra::log::new_trace_id();
            const std::string_view target = hdr.target();
            const auto qpos = target.find('?');
            const bool target_ok =
                percent_decode(target.substr(0, qpos), req.path, false) &&
                (qpos == std::string_view::npos || parse_query(target.substr(qpos + 1), req.query));

            if (target_ok && req.path == ws_path && beast::websocket::is_upgrade(hdr) && upgrade_) {
                stream.expires_never();
                auto up = std::make_unique<upgrade_request>(upgrade_request{
                    std::move(stream), std::move(buffer), parser.release(), std::move(req), {}});
                set_busy(entry, false);
                {
                    std::lock_guard lock(conns_mutex_);
                    entry->upgraded = true;
                }
                // The WebSocket gateway owns the connection now; it still counts as open
                // until it ends.
                guard.counted = false;
                up->on_close = [self] {
                    self->open_gauge_.dec();
                    --self->open_;
                };
                upgrade_(std::move(up));
                co_return;
            }

            auto [bec, bn] = co_await http::async_read(stream, buffer, parser, token);
            if (bec == http::error::body_limit) {
                co_await write_error_and_close(stream, errc::too_large, "request body too large");
                co_return;
            }
            if (bec) {
                if (bec != beast::error::timeout && bec != http::error::end_of_stream &&
                    bec != net::error::eof && bec != net::error::connection_reset) {
                    co_await write_error_and_close(stream, errc::invalid_argument, "malformed HTTP request");
                }
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
            auto out = to_beast(std::move(res), version, keep_alive, req.method == http_method::head,
                                req.trace_id);
            auto [wec, wn] = co_await http::async_write(stream, out, token);
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
                beast::error_code ignored;
                stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
                co_return;
            }
        }
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

}  // namespace monochat::gateway
