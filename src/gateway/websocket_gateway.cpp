#include <monochat/gateway/websocket_gateway.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/container/devector.hpp>
#include <monochat/infra/spin_lock.hpp>
#include <algorithm>
#include <optional>
#include <type_traits>
#include <variant>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/config.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/logic/messaging.hpp>
#include <nlohmann/json.hpp>

#include "gateway/connection_limits.hpp"
#include "gateway/upgrade.hpp"
#include "gateway/ws_coalescing_stream.hpp"
#include "gateway/ws_frames.hpp"
#include "gateway/ws_handshake.hpp"

namespace monochat::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using json = nlohmann::json;

namespace {
constexpr auto token = net::as_tuple(net::use_awaitable);

// Close codes of the protocol.
constexpr std::uint16_t close_slow_consumer = 4008;
constexpr std::uint16_t close_heartbeat = 4002;
constexpr std::uint16_t close_token_ended = 4001;  // the token expired or was revoked
constexpr std::uint16_t close_policy_violation = 1008;  // RFC 6455: flooding past the rate

std::atomic<std::uint64_t> next_session_id{1};

// Most bytes of queued frames written by one write.
constexpr std::size_t max_coalesce_bytes = 256 * 1024;

// Answers a refused upgrade and closes (TLS: close_notify first).
template <class Stream>
net::awaitable<void> write_and_close(Stream& stream, http::response<http::string_body>& res) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    auto [ec, n] = co_await http::async_write(stream, res, token);
    if constexpr (std::is_same_v<Stream, tls_stream>) {
        if (!ec) {
            co_await stream.async_shutdown(token);
        }
    }
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

// Completion of a connection's coroutines (the upgrade's and the session's): an exception that
// escaped one is logged, and ends only that connection.
void log_if_failed(std::exception_ptr e) {
    if (e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            infra::log::error("gateway", "websocket session failed", {{"error", ex.what()}});
        }
    }
}
}  // namespace

void ws_limits::apply(const infra::config& cfg) {
    heartbeat_ms = cfg.server.heartbeat_ms;
    max_frame_bytes = cfg.limits.max_frame_bytes;
    outbox_frames = cfg.limits.outbox_frames;
    outbox_bytes = cfg.limits.outbox_bytes;
    inflight = cfg.limits.ws_inflight;
    message_rate = cfg.limits.ws_message_rate;
    message_burst = cfg.limits.ws_message_burst;
    handshake_timeout_ms = cfg.server.handshake_timeout_ms;
    linger_ms = cfg.server.linger_ms;
    linger_bytes = cfg.server.linger_bytes;
    std::lock_guard lock(origins_mutex_);
    allowed_origins_ = cfg.server.allowed_origins;
}

std::vector<std::string> ws_limits::allowed_origins() const {
    std::lock_guard lock(origins_mutex_);
    return allowed_origins_;
}

// Metrics shared by every session.
struct ws_metrics {
    explicit ws_metrics(infra::metrics_registry& m)
        : connections(m.get_gauge("monochat_connections", "Open WebSocket connections.")),
          dropped(m.get_counter("monochat_push_dropped_total",
                                "Connections closed because their outgoing queue overflowed.")),
          frames_in(m.get_counter("monochat_ws_frames_received_total", "Client frames received.")),
          frames_out(m.get_counter("monochat_ws_frames_sent_total", "Frames written to clients.")),
          refused_auth(m.get_counter("monochat_connections_refused_total",
                                     "Connections refused or dropped by a connection-level limit.",
                                     {{"reason", "unauthenticated"}})),
          refused_origin(m.get_counter("monochat_connections_refused_total",
                                       "Connections refused or dropped by a connection-level limit.",
                                       {{"reason", "origin"}})),
          token_ended(m.get_counter("monochat_ws_token_ended_total",
                                    "WebSockets closed with 4001 because their token expired.")),
          frame_too_large(m.get_counter("monochat_connections_refused_total",
                                        "Connections refused or dropped by a connection-level limit.",
                                        {{"reason", "frame_too_large"}})),
          flooding(m.get_counter("monochat_connections_refused_total",
                                 "Connections refused or dropped by a connection-level limit.",
                                 {{"reason", "ws_flood"}})),
          frames_rate_limited(m.get_counter("monochat_ws_frames_refused_total",
                                            "Client frames refused without being handled.",
                                            {{"reason", "rate_limited"}})),
          outbox_depth(m.get_gauge("monochat_queue_depth", "Messages waiting in an internal queue.",
                                   {{"queue", "ws_outbox"}})) {}
    infra::gauge& connections;
    infra::counter& dropped;
    infra::counter& frames_in;
    infra::counter& frames_out;
    infra::counter& refused_auth;
    infra::counter& refused_origin;
    infra::counter& token_ended;
    infra::counter& frame_too_large;
    infra::counter& flooding;
    infra::counter& frames_rate_limited;
    infra::gauge& outbox_depth;
};

template <class Stream>
class ws_session;

struct websocket_gateway::impl : std::enable_shared_from_this<websocket_gateway::impl> {
    impl(connection_registry& r, ws_dependencies d, const ws_limits& l, infra::metrics_registry& m,
         const infra::clock& c)
        : registry(r), deps(std::move(d)), limits(l), metrics(m), clock(c) {}

    connection_registry& registry;
    ws_dependencies deps;
    const ws_limits& limits;
    ws_metrics metrics;
    const infra::clock& clock;
    std::atomic<bool> closing{false};
    std::atomic<std::size_t> sessions{0};

    void start(std::unique_ptr<upgrade_request> up);
    net::awaitable<void> refuse(upgrade_request& up, error e);
    net::awaitable<void> authenticate_and_run(std::unique_ptr<upgrade_request> up);
};

// One WebSocket connection. Everything that touches `ws_` or the outbox runs on the
// connection's strand; push() and close() post there from any thread.
// Templated on the stream under the WebSocket: plain TCP or TLS (see upgrade.hpp).
template <class Stream>
class ws_session final : public ws_connection,
                         public std::enable_shared_from_this<ws_session<Stream>> {
public:
    ws_session(std::shared_ptr<websocket_gateway::impl> gw, Stream stream, logic::identity who,
               std::function<void()> on_close)
        : gw_(std::move(gw)),
          ws_(std::move(stream)),
          heartbeat_(ws_.get_executor()),
          inflight_wait_(ws_.get_executor()),
          id_(next_session_id.fetch_add(1)),
          who_(std::move(who)),
          on_close_(std::move(on_close)) {
        ++gw_->sessions;
        ws_.next_layer().set_linger(&gw_->limits);
    }

    ws_session(const ws_session&) = delete;
    ws_session& operator=(const ws_session&) = delete;

    // Counts the connection out of the gateway and the listener when run() never got to it.
    ~ws_session() override { finish(); }

    std::uint64_t session_id() const override { return id_; }
    std::uint64_t user_id() const override { return who_.user_id; }
    const std::string& token_hash() const override { return who_.token_hash; }

    // Any thread: a pointer into the inbox, and one post to the connection's strand when the
    // inbox was empty. A burst of pushes (a group commit's, a fan-out shard's) costs this
    // connection one wake-up, and its frames then go out in one write.
    bool push(const std::shared_ptr<const std::string>& frame) override {
        if (closing_.load(std::memory_order_relaxed)) {
            return false;
        }
        bool wake = false;
        {
            std::lock_guard lock(inbox_lock_);
            wake = inbox_.empty();
            inbox_.push_back(frame);
        }
        if (wake) {
            net::post(ws_.get_executor(), [self = this->shared_from_this()] { self->take_inbox(); });
        }
        return true;
    }

    void close(std::uint16_t code, std::string reason) override {
        net::post(ws_.get_executor(), [self = this->shared_from_this(), code, r = std::move(reason)]() mutable {
            self->begin_close(code, std::move(r));
        });
    }

    // The connection's one coroutine: the handshake, then the read loop until the connection
    // ends. Writing and the heartbeat are completion handlers, not coroutines: an idle
    // connection then holds no coroutine frame for them (docs/benchmarks.md, idle memory).
    // `self` keeps the session alive from the moment the coroutine is created. `select_v1`:
    // the client offered the subprotocol monochat.v1, which the answer then selects.
    net::awaitable<void> run(std::shared_ptr<ws_session> self, http::request<http::string_body> req,
                             bool select_v1) {
        auto& limits = gw_->limits;
        ws_.set_option(
            websocket::stream_base::decorator([select_v1](websocket::response_type& res) {
                res.set(http::field::server, "monochat");
                if (select_v1) {
                    res.set(http::field::sec_websocket_protocol, ws_subprotocol);
                }
            }));
        // Our own heartbeat decides when a silent client goes (4002); Beast's timer covers only
        // the opening and closing handshakes.
        websocket::stream_base::timeout t{};
        t.handshake_timeout = std::chrono::milliseconds(limits.handshake_timeout_ms.load());
        t.idle_timeout = websocket::stream_base::none();
        t.keep_alive_pings = false;
        ws_.set_option(t);
        ws_.read_message_max(static_cast<std::size_t>(limits.max_frame_bytes.load()));
        ws_.auto_fragment(false);
        ws_.control_callback([this](websocket::frame_type, beast::string_view) { touch(); });

        auto [aec] = co_await ws_.async_accept(req, token);
        req = {};  // this frame lives as long as the connection: keep no headers in it
        if (aec) {
            co_return;
        }
        touch();
        const bool first = gw_->registry.add(self);
        gw_->metrics.connections.inc();
        if (first && gw_->deps.messaging != nullptr) {
            gw_->deps.messaging->presence_changed(who_.user_id, true);
        }
        infra::log::debug("gateway", "websocket open",
                          {{"session", id_}, {"user", who_.user_id}});

        enqueue(std::make_shared<const std::string>(
            ws_frames::hello(who_.user_id, id_, limits.heartbeat_ms.load(), gw_->clock.now_ms())));
        arm_heartbeat();

        // An idle connection waits for its next frame with a small buffer: Beast sizes the
        // buffer before any byte arrives (1.5 KB by default), so the first read of a message
        // asks for at most `first_read_bytes` and the rest of the message follows.
        beast::flat_buffer buffer;
        for (;;) {
            // At the bound of requests in progress, stop reading: TCP flow control then slows
            // the client down instead of queueing without bound.
            while (inflight_ >= static_cast<std::size_t>(gw_->limits.inflight.load()) && !done_) {
                inflight_wait_.expires_at(std::chrono::steady_clock::time_point::max());
                co_await inflight_wait_.async_wait(token);
            }
            if (buffer.capacity() > read_keep_capacity) {
                buffer = beast::flat_buffer();  // one large frame does not pin its size for good
            }
            buffer.clear();
            beast::error_code ec;
            std::size_t limit = first_read_bytes;
            do {
                auto [rec, n] = co_await ws_.async_read_some(buffer, limit, token);
                ec = rec;
                limit = 0;  // Beast's own size for the rest
            } while (!ec && !ws_.is_message_done());
            if (ec) {
                if (ec == websocket::error::message_too_big) {
                    gw_->metrics.frame_too_large.inc();  // Beast closes with 1009
                }
                break;
            }
            touch();
            gw_->metrics.frames_in.inc();
            if (closing_) {
                continue;  // draining the peer's frames until its close arrives
            }
            if (!admit_frame(buffer)) {
                continue;
            }
            if (!ws_.got_text()) {
                reply(ws_frames::error(std::nullopt, errc::invalid_argument,
                                       "binary frames are not supported; send JSON text frames"));
                continue;
            }
            handle(beast::buffers_to_string(buffer.data()));
        }

        // The connection is over: stop the heartbeat, drop what is queued, leave the registry.
        closing_ = true;
        done_ = true;
        heartbeat_.cancel();
        inflight_wait_.cancel();
        gw_->metrics.outbox_depth.add(-static_cast<double>(outbox_.size()));
        outbox_.clear();
        beast::error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
        const bool last = gw_->registry.remove(*this);
        gw_->metrics.connections.dec();
        if (last && gw_->deps.messaging != nullptr) {
            gw_->deps.messaging->presence_changed(who_.user_id, false);
        }
        infra::log::debug("gateway", "websocket closed", {{"session", id_}, {"user", who_.user_id}});
        // Counted as open until here, not until the last reference to this object (a queued
        // push may hold one) goes.
        finish();
    }

private:
    // Counts the connection out of the gateway and the listener, once.
    void finish() {
        if (finished_) {
            return;
        }
        finished_ = true;
        --gw_->sessions;
        if (auto notify = std::exchange(on_close_, nullptr)) {
            notify();
        }
    }

    void touch() { last_activity_ = std::chrono::steady_clock::now(); }

    // On the strand: what push() queued, into the outbox, in order.
    void take_inbox() {
        std::vector<std::shared_ptr<const std::string>> taken;
        {
            std::lock_guard lock(inbox_lock_);
            taken.swap(inbox_);
        }
        for (auto& frame : taken) {
            enqueue(std::move(frame));
        }
    }

    // On the strand. The outbox is bounded in frames and bytes: past either bound the client
    // is not keeping up, and protocol guarantee 3 forbids skipping frames, so it is closed.
    void enqueue(std::shared_ptr<const std::string> frame) {
        if (closing_.load(std::memory_order_relaxed)) {
            return;
        }
        const auto& limits = gw_->limits;
        if (outbox_.size() >= static_cast<std::size_t>(limits.outbox_frames.load()) ||
            outbox_bytes_ + frame->size() > static_cast<std::size_t>(limits.outbox_bytes.load())) {
            gw_->metrics.dropped.inc();
            infra::log::info("gateway", "slow consumer closed",
                             {{"session", id_}, {"user", who_.user_id},
                              {"queued_frames", outbox_.size()}, {"queued_bytes", outbox_bytes_}});
            begin_close(close_slow_consumer, "slow consumer");
            return;
        }
        outbox_bytes_ += frame->size();
        outbox_.push_back(std::move(frame));
        gw_->metrics.outbox_depth.inc();
        if (!writing_ && !write_posted_) {
            // Posted, not called: frames queued in the same turn of the strand go out in one
            // write.
            write_posted_ = true;
            net::post(ws_.get_executor(), [self = this->shared_from_this()] {
                self->write_posted_ = false;
                self->write_queued();
            });
        }
    }

    // On the strand. Stops queueing, drops what is queued, and sends the close frame; if the
    // peer does not complete the handshake (a slow consumer's socket may be full), the socket
    // is closed after a grace period.
    void begin_close(std::uint16_t code, std::string reason) {
        if (close_started_ || done_) {
            return;
        }
        close_started_ = true;
        closing_ = true;
        gw_->metrics.outbox_depth.add(-static_cast<double>(outbox_.size()));
        outbox_.clear();
        outbox_bytes_ = 0;
        net::co_spawn(
            ws_.get_executor(),
            [self = this->shared_from_this(), code, reason = std::move(reason)]() -> net::awaitable<void> {
                net::steady_timer guard(self->ws_.get_executor());
                guard.expires_after(std::chrono::seconds(5));
                guard.async_wait([self](const boost::system::error_code& ec) {
                    if (!ec) {
                        beast::error_code ignored;
                        beast::get_lowest_layer(self->ws_).socket().close(ignored);
                    }
                });
                co_await self->ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason), token);
                guard.cancel();
            },
            net::detached);
    }

    // On the strand. Everything queued goes out in one write (one system call, not one per
    // frame), up to `max_coalesce_bytes`; the frame bytes are shared by every recipient until
    // they are copied into this connection's write buffer. At most one write is in flight;
    // its completion starts the next.
    void write_queued() {
        if (writing_ || closing_ || done_ || outbox_.empty()) {
            return;
        }
        auto& out = ws_.next_layer();
        std::size_t frames = 0;
        while (!outbox_.empty() && out.buffered_bytes() < max_coalesce_bytes) {
            auto frame = std::move(outbox_.front());
            outbox_.pop_front();
            outbox_bytes_ -= frame->size();
            ++frames;
            if (!out.append_text(*frame)) {
                break;
            }
        }
        gw_->metrics.outbox_depth.add(-static_cast<double>(frames));
        if (outbox_.empty() && outbox_.capacity() > outbox_keep_capacity) {
            outbox_.shrink_to_fit();  // a burst is over: give its memory back
        }
        writing_ = true;
        out.async_flush([self = this->shared_from_this(), frames](beast::error_code ec) {
            self->writing_ = false;
            if (ec) {
                return;
            }
            self->gw_->metrics.frames_out.inc(frames);
            if (!std::exchange(self->first_flush_done_, true)) {
                // The handshake response and the hello are out; many connections now idle
                // for long: they keep no write buffers (the heartbeat trims later ones).
                self->ws_.next_layer().trim();
            }
            self->write_queued();
        });
    }

    // On the strand: a ping every heartbeat interval; a client silent for three intervals is
    // closed with 4002. The same timer ends the session when its token expires (4001): it
    // wakes at the expiry when that comes before the next ping, so a connection needs no
    // second timer.
    void arm_heartbeat() {
        auto wait = std::chrono::milliseconds(gw_->limits.heartbeat_ms.load());
        if (who_.expires_ms > 0) {
            const auto left = std::chrono::milliseconds(
                std::max<std::int64_t>(0, who_.expires_ms - gw_->clock.now_ms()));
            wait = std::min(wait, left);
        }
        heartbeat_.expires_after(wait);
        heartbeat_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
            self->on_heartbeat(ec);
        });
    }

    void on_heartbeat(const boost::system::error_code& ec) {
        if (ec || done_ || closing_) {
            return;
        }
        if (who_.expires_ms > 0 && gw_->clock.now_ms() >= who_.expires_ms) {
            gw_->metrics.token_ended.inc();
            infra::log::debug("gateway", "websocket token expired",
                              {{"session", id_}, {"user", who_.user_id}});
            begin_close(close_token_ended, "token expired");
            return;
        }
        const auto interval = std::chrono::milliseconds(gw_->limits.heartbeat_ms.load());
        if (std::chrono::steady_clock::now() - last_activity_ > 3 * interval) {
            begin_close(close_heartbeat, "heartbeat timeout");
            return;
        }
        ws_.next_layer().trim();
        ws_.async_ping({}, [self = this->shared_from_this()](beast::error_code pec) {
            if (!pec) {
                self->arm_heartbeat();
            }
        });
    }

    void reply(std::string frame) { enqueue(std::make_shared<const std::string>(std::move(frame))); }

    // The per-connection frame rate (limits.ws_message_rate): a frame past the bucket is
    // answered with rate_limited (with its `id` when it has one) and not handled; a client
    // that keeps sending past it is closed with 1008.
    bool admit_frame(const beast::flat_buffer& buffer) {
        const auto& limits = gw_->limits;
        const auto d = frames_.take(std::chrono::steady_clock::now(), limits.message_rate.load(),
                                    static_cast<double>(limits.message_burst.load()));
        if (d.outcome == frame_bucket::verdict::accepted) {
            return true;
        }
        gw_->metrics.frames_rate_limited.inc();
        if (d.outcome == frame_bucket::verdict::flooding) {
            gw_->metrics.flooding.inc();
            infra::log::info("gateway", "flooding client closed", {{"session", id_}, {"user", who_.user_id}});
            begin_close(close_policy_violation, "message rate exceeded");
            return false;
        }
        std::optional<std::string> id;
        if (ws_.got_text()) {
            auto parsed = ws_frames::parse_client_frame(beast::buffers_to_string(buffer.data()));
            id = parsed ? parsed->id : parsed.error().id;
        }
        error e = make_error(errc::rate_limited, "too many frames; slow down");
        e.retry_after_s = d.retry_after_s;
        reply(ws_frames::error(id, e));
        return false;
    }

    // Parses one client frame and starts its handling. Requests that wait (send, sync, read,
    // typing) run as their own coroutines on this strand, so a slow one does not hold up the
    // frames behind it; their replies carry the client's `id`.
    void handle(const std::string& text) {
        auto parsed = ws_frames::parse_client_frame(text);
        if (!parsed) {
            reply(ws_frames::error(parsed.error().id, errc::invalid_argument, parsed.error().message));
            return;
        }
        auto& f = *parsed;
        switch (f.type) {
            case ws_frames::frame_type::ping:
                reply(ws_frames::pong(f.id, gw_->clock.now_ms()));
                return;
            case ws_frames::frame_type::subscribe:
            case ws_frames::frame_type::unsubscribe:
                if (f.conversation_id != logic::world_conversation_id) {
                    reply(ws_frames::error(f.id, errc::invalid_argument,
                                           "only the world conversation can be subscribed to"));
                    return;
                }
                if (f.type == ws_frames::frame_type::subscribe) {
                    gw_->registry.subscribe_world(this->shared_from_this());
                } else {
                    gw_->registry.unsubscribe_world(*this);
                }
                reply(ws_frames::ok(f.id));
                return;
            default: break;
        }
        ++inflight_;
        net::co_spawn(ws_.get_executor(), request(std::move(f)), net::detached);
    }

    net::awaitable<void> request(ws_frames::client_frame f) {
        auto self = this->shared_from_this();
        std::optional<std::string> out;
        try {
            out = co_await dispatch(f);
        } catch (const std::exception& e) {
            infra::log::error("gateway", "websocket request failed",
                              {{"session", id_}, {"error", e.what()}});
            out = ws_frames::error(f.id, errc::internal, "internal error");
        }
        if (out) {
            reply(std::move(*out));
        }
        if (inflight_-- >= static_cast<std::size_t>(gw_->limits.inflight.load())) {
            inflight_wait_.cancel();
        }
    }

    net::awaitable<std::optional<std::string>> dispatch(ws_frames::client_frame& f) {
        auto* messaging = gw_->deps.messaging;
        switch (f.type) {
            case ws_frames::frame_type::send: {
                logic::send_request req;
                req.who = who_;
                req.session_id = id_;
                req.conversation_id = std::move(f.conversation_id);
                req.client_msg_id = std::move(f.client_msg_id);
                req.body = std::move(f.body);
                req.trace_id = infra::log::new_trace_id();
                auto r = co_await messaging->send(std::move(req));
                if (!r) {
                    co_return ws_frames::error(f.id, r.error());
                }
                co_return ws_frames::ack(f.id, *r);
            }
            case ws_frames::frame_type::sync: {
                logic::history_request req;
                req.conversation_id = f.conversation_id;
                req.after_seq = f.after_seq;
                req.limit = f.limit;
                auto r = co_await messaging->history(who_, std::move(req));
                if (!r) {
                    co_return ws_frames::error(f.id, r.error());
                }
                co_return ws_frames::sync_result(f.id, *r);
            }
            case ws_frames::frame_type::read: {
                auto r = co_await gw_->deps.mark_read(who_, f.conversation_id, f.seq, id_);
                if (!r) {
                    co_return ws_frames::error(f.id, r.error());
                }
                co_return std::nullopt;
            }
            case ws_frames::frame_type::typing: {
                auto r = co_await messaging->typing(who_, f.conversation_id);
                if (!r) {
                    co_return ws_frames::error(f.id, r.error());
                }
                co_return std::nullopt;
            }
            default: co_return std::nullopt;
        }
    }

    static constexpr std::size_t outbox_keep_capacity = 64;       // frames
    static constexpr std::size_t read_keep_capacity = 16 * 1024;  // bytes
    static constexpr std::size_t first_read_bytes = 256;

    std::shared_ptr<websocket_gateway::impl> gw_;
    // Data frames bypass Beast's write path: see ws_coalescing_stream.hpp.
    websocket::stream<coalescing_stream<Stream>> ws_;
    net::steady_timer heartbeat_;
    net::steady_timer inflight_wait_;
    const std::uint64_t id_;
    const logic::identity who_;
    std::function<void()> on_close_;  // tells the listener the connection ended (once)
    // A devector, not a deque: it allocates nothing until a frame is queued (libstdc++'s deque
    // allocates about 600 bytes up front), and most connections are idle.
    boost::container::devector<std::shared_ptr<const std::string>> outbox_;
    std::size_t outbox_bytes_ = 0;
    // Pushes from other threads on their way to the outbox (push(), take_inbox()).
    infra::spin_lock inbox_lock_;
    std::vector<std::shared_ptr<const std::string>> inbox_;
    std::size_t inflight_ = 0;
    frame_bucket frames_;
    std::chrono::steady_clock::time_point last_activity_;
    std::atomic<bool> closing_{false};
    bool close_started_ = false;
    bool done_ = false;
    bool finished_ = false;
    bool writing_ = false;        // a flush is in flight
    bool first_flush_done_ = false;
    bool write_posted_ = false;   // write_queued() is posted
};

void websocket_gateway::impl::start(std::unique_ptr<upgrade_request> up) {
    auto ex = std::visit([](auto& s) { return s.get_executor(); }, up->stream);
    net::co_spawn(ex, authenticate_and_run(std::move(up)), log_if_failed);
}

net::awaitable<void> websocket_gateway::impl::refuse(upgrade_request& up, error e) {
    http_response r = error_response(e);
    http::response<http::string_body> res{static_cast<http::status>(r.status), up.request.version()};
    res.set(http::field::server, "monochat");
    res.set(http::field::content_type, r.content_type);
    res.body() = std::move(r.body);
    res.keep_alive(false);
    res.prepare_payload();
    if (auto* tls = std::get_if<tls_stream>(&up.stream)) {
        co_await write_and_close(*tls, res);
    } else {
        co_await write_and_close(std::get<plain_stream>(up.stream), res);
    }
}

net::awaitable<void> websocket_gateway::impl::authenticate_and_run(std::unique_ptr<upgrade_request> up) {
    // Until a session takes it over, the connection's end is told from here.
    struct close_notice {
        upgrade_request* up;
        ~close_notice() {
            if (up != nullptr && up->on_close) {
                up->on_close();
            }
        }
    } notice{up.get()};
    if (closing) {
        co_await refuse(*up, make_error(errc::unavailable, "server is stopping"));
        co_return;
    }
    // A page of another site must not open a socket with the user's token (a browser sends
    // Origin with every WebSocket handshake; other clients need not).
    const auto& hdr = up->request;
    std::optional<std::string_view> origin;
    if (auto it = hdr.find(http::field::origin); it != hdr.end()) {
        origin = std::string_view(it->value());
    }
    const bool tls = std::holds_alternative<tls_stream>(up->stream);
    if (!ws_origin_allowed(origin, std::string_view(hdr[http::field::host]), tls,
                           limits.allowed_origins())) {
        metrics.refused_origin.inc();
        co_await refuse(*up, make_error(errc::forbidden, "this origin may not open a WebSocket"));
        co_return;
    }
    std::string offered;
    for (auto [it, end] = hdr.equal_range(http::field::sec_websocket_protocol); it != end; ++it) {
        offered += offered.empty() ? "" : ",";
        offered += std::string_view(it->value());
    }
    auto protocols = parse_ws_subprotocols(offered);
    if (protocols.malformed || (protocols.token && !protocols.v1)) {
        metrics.refused_auth.inc();
        co_await refuse(*up, make_error(errc::unauthenticated, "offer one monochat.token.<token> "
                                                               "subprotocol with monochat.v1"));
        co_return;
    }
    // The subprotocol first (what browsers can send), then the header, then the query.
    std::string tok = protocols.token ? std::move(*protocols.token)
                                      : std::string(up->parsed.bearer_token());
    if (tok.empty()) {
        if (auto q = up->parsed.query_param("token")) {
            tok = std::string(*q);
        }
    }
    if (tok.empty()) {
        metrics.refused_auth.inc();
        co_await refuse(*up, make_error(errc::unauthenticated, "a bearer token is required"));
        co_return;
    }
    auto who = co_await deps.authenticate(std::move(tok));
    if (!who) {
        metrics.refused_auth.inc();
        co_await refuse(*up, who.error());
        co_return;
    }
    // The session runs in a coroutine of its own, and this one ends: nothing of the upgrade
    // (its request, buffers, moved-from stream, this frame) stays for the connection's life.
    auto on_close = std::exchange(up->on_close, nullptr);
    notice.up = nullptr;
    auto request = std::move(up->request);
    const auto ex = std::visit([](auto& st) { return st.get_executor(); }, up->stream);
    if (auto* tls = std::get_if<tls_stream>(&up->stream)) {
        auto session = std::make_shared<ws_session<tls_stream>>(shared_from_this(), std::move(*tls),
                                                                std::move(*who), std::move(on_close));
        up.reset();
        net::co_spawn(ex, session->run(session, std::move(request), protocols.v1), log_if_failed);
    } else {
        auto session = std::make_shared<ws_session<plain_stream>>(
            shared_from_this(), std::move(std::get<plain_stream>(up->stream)), std::move(*who),
            std::move(on_close));
        up.reset();
        net::co_spawn(ex, session->run(session, std::move(request), protocols.v1), log_if_failed);
    }
}

websocket_gateway::websocket_gateway(connection_registry& registry, ws_dependencies deps,
                                     const ws_limits& limits, infra::metrics_registry& metrics,
                                     const infra::clock& clock)
    : impl_(std::make_shared<impl>(registry, std::move(deps), limits, metrics, clock)) {}

websocket_gateway::~websocket_gateway() = default;

upgrade_handler websocket_gateway::handler() {
    return [impl = impl_](std::unique_ptr<upgrade_request> up) { impl->start(std::move(up)); };
}

void websocket_gateway::close_all(std::uint16_t code) {
    impl_->closing = true;
    impl_->registry.close_all(code, "server is stopping");
}

std::size_t websocket_gateway::sessions() const { return impl_->sessions.load(); }

}  // namespace monochat::gateway
