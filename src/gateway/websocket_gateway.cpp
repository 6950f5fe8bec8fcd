#include <monochat/gateway/websocket_gateway.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
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
#include "gateway/ws_codec.hpp"
#include "gateway/ws_frames.hpp"
#include "gateway/ws_handshake.hpp"

namespace monochat::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
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
    net::awaitable<void> refuse_version(upgrade_request& up);
    net::awaitable<void> authenticate_and_run(std::unique_ptr<upgrade_request> up);
};

namespace {
// Bytes one read takes from a plain socket: into a buffer of the I/O thread, so that an idle
// connection holds no read buffer of its own.
constexpr std::size_t read_chunk_bytes = 64 * 1024;
// A TLS connection reads into a buffer of its own (one TLS record at most).
constexpr std::size_t tls_read_bytes = 16 * 1024;

char* thread_read_buffer() {
    thread_local std::unique_ptr<char[]> buffer(new char[read_chunk_bytes]);
    return buffer.get();
}

// The 101 answer to an accepted upgrade (RFC 6455 4.2.2).
std::string handshake_response(std::string_view client_key, bool select_v1) {
    std::string r =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Server: monochat\r\n"
        "Sec-WebSocket-Accept: ";
    r += ws_codec::accept_key(client_key);
    r += "\r\n";
    if (select_v1) {
        r += "Sec-WebSocket-Protocol: ";
        r += ws_subprotocol;
        r += "\r\n";
    }
    r += "\r\n";
    return r;
}
}  // namespace

// One WebSocket connection, over the raw socket with the frame codec of ws_codec.hpp (plain
// TCP: `net::ip::tcp::socket`; TLS: `tls_stream`). Everything that touches the stream, the
// reader or the outbox runs on the connection's strand (the stream's executor); push() and
// close() post there from any thread.
//
// Reading: a plain socket waits for readability and then reads, without blocking, into a
// buffer of the I/O thread; only the unparsed rest of a frame stays with the connection (in
// the reader). Writing: queued frames are encoded into one buffer and written at once, first
// without blocking (most writes complete there, with no operation queued on the reactor), and
// the rest, if any, asynchronously. Closing (RFC 6455 7): the server's close frame is the last
// frame written; the connection then reads until the client's close frame (dropping data
// frames), the end of the stream, `server.handshake_timeout_ms`, or, after a close for bad
// input (1002, 1007, 1009), `server.linger_ms` / `server.linger_bytes` of the client's unread
// rest, so that the client reads the close frame instead of a reset.
template <class Stream>
class ws_session final : public ws_connection,
                         public std::enable_shared_from_this<ws_session<Stream>> {
    static constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

public:
    ws_session(std::shared_ptr<websocket_gateway::impl> gw, Stream stream, logic::identity who,
               std::function<void()> on_close)
        : gw_(std::move(gw)),
          stream_(std::move(stream)),
          timer_(stream_.get_executor()),
          id_(next_session_id.fetch_add(1)),
          who_(std::move(who)),
          on_close_(std::move(on_close)),
          reader_(static_cast<std::size_t>(gw_->limits.max_frame_bytes.load())) {
        ++gw_->sessions;
    }

    ws_session(const ws_session&) = delete;
    ws_session& operator=(const ws_session&) = delete;

    // Counts the connection out of the gateway and the listener when start() never got to it.
    ~ws_session() override { finish(); }

    std::uint64_t session_id() const override { return id_; }
    std::uint64_t user_id() const override { return who_.user_id; }
    const std::string& token_hash() const override { return who_.token_hash; }

    // Any thread: a pointer into the inbox, and one post to the connection's strand when the
    // inbox was empty. A burst of pushes (a group commit's, a fan-out shard's) costs this
    // connection one wake-up, and its frames then go out in one write.
    bool push(const std::shared_ptr<const std::string>& frame) override {
        bool first = false;
        if (!queue(frame, first)) {
            return false;
        }
        if (first) {
            wake();
        }
        return true;
    }

    // A large group's lane: the wake-up waits until the lane has queued all its frames.
    bool push_held(const std::shared_ptr<const std::string>& frame,
                   std::vector<std::shared_ptr<ws_connection>>& wake_later) override {
        bool first = false;
        if (!queue(frame, first)) {
            return false;
        }
        if (first) {
            wake_later.push_back(this->shared_from_this());
        }
        return true;
    }

    void wake() override {
        net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->take_inbox(); });
    }

    // A lane's wake-up, on an I/O thread: when the strand is free, dispatch runs take_inbox
    // (and its write) here, at once, instead of queueing it behind everything else on the
    // I/O threads' one queue and waking the other thread for it.
    void wake_here() override {
        net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->take_inbox(); });
    }

    void close(std::uint16_t code, std::string reason) override {
        net::post(stream_.get_executor(), [self = this->shared_from_this(), code, r = std::move(reason)]() mutable {
            self->begin_close(code, std::move(r), false);
        });
    }

    // On the strand: answers the upgrade (`response`, the 101), joins the registry, queues the
    // hello and starts reading. `early` holds bytes the client sent right behind its request.
    void start(std::string response, std::string early) {
        if constexpr (!is_tls) {
            boost::system::error_code ignored;
            stream_.non_blocking(true, ignored);
            stream_.set_option(net::ip::tcp::no_delay(true), ignored);
        }
        touch();
        const bool first = gw_->registry.add(this->shared_from_this());
        registered_ = true;
        gw_->metrics.connections.inc();
        if (first && gw_->deps.messaging != nullptr) {
            gw_->deps.messaging->presence_changed(who_.user_id, true);
        }
        infra::log::debug("gateway", "websocket open", {{"session", id_}, {"user", who_.user_id}});
        wbuf_ = std::move(response);  // ahead of every frame
        enqueue_frame(std::make_shared<const std::string>(ws_frames::hello(
                          who_.user_id, id_, gw_->limits.heartbeat_ms.load(), gw_->clock.now_ms())),
                      ws_codec::opcode::text);
        flush();
        arm_heartbeat();
        if (!early.empty()) {
            stash_ = std::move(early);
        }
        resume_reading();
    }

private:
    struct out_frame {
        std::shared_ptr<const std::string> payload;
        ws_codec::opcode op;
    };

    auto& socket() {
        if constexpr (is_tls) {
            return beast::get_lowest_layer(stream_).socket();
        } else {
            return stream_;
        }
    }

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

    // ---- reading ----

    bool read_paused() const {
        return inflight_ >= static_cast<std::size_t>(gw_->limits.inflight.load()) && !closing_;
    }

    // On the strand: parses what is stashed, then reads more unless paused or ended.
    void resume_reading() {
        if (done_ || reading_ || read_paused()) {
            return;  // (paused: a request that ends below the bound resumes)
        }
        if (!stash_.empty()) {
            std::string bytes = std::move(stash_);
            ws_codec::release(stash_);
            if (!consume(bytes) || !stash_.empty() || read_paused()) {
                return;
            }
        }
        reading_ = true;
        if constexpr (is_tls) {
            if (!tls_buffer_ && !lingering_) {
                tls_buffer_ = std::make_unique<char[]>(tls_read_bytes);
            }
            if (!lingering_) {
                stream_.async_read_some(
                    net::buffer(tls_buffer_.get(), tls_read_bytes),
                    [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                        self->reading_ = false;
                        if (ec) {
                            self->read_ended();
                            return;
                        }
                        if (self->consume(std::string_view(self->tls_buffer_.get(), n))) {
                            self->resume_reading();
                        }
                    });
                return;
            }
        }
        socket().async_wait(net::socket_base::wait_read,
                            [self = this->shared_from_this()](const boost::system::error_code& ec) {
                                self->reading_ = false;
                                if (ec) {
                                    self->read_ended();
                                    return;
                                }
                                self->read_ready();
                            });
    }

    // On the strand: the raw socket is readable (plain, or a TLS connection lingering after
    // its close_notify). Reads until it would block.
    void read_ready() {
        char* buffer = thread_read_buffer();
        for (;;) {
            boost::system::error_code ec;
            const std::size_t n = socket().read_some(net::buffer(buffer, read_chunk_bytes), ec);
            if (ec == net::error::would_block || ec == net::error::try_again) {
                break;
            }
            if (ec) {
                read_ended();  // end of stream or reset
                return;
            }
            if (!consume(std::string_view(buffer, n))) {
                return;
            }
            if (!stash_.empty()) {
                return;  // paused at the bound of requests in progress
            }
            if (n < read_chunk_bytes) {
                break;
            }
        }
        resume_reading();
    }

    // On the strand: bytes from the client. Returns false when the connection ended or stopped
    // reading for good.
    bool consume(std::string_view bytes) {
        if (done_) {
            return false;
        }
        if (lingering_ || reader_failed_) {
            // After a close for bad input, the unread rest is dropped, within bounds.
            lingered_ += bytes.size();
            if (lingered_ > static_cast<std::uint64_t>(gw_->limits.linger_bytes.load())) {
                teardown();
                return false;
            }
            return true;
        }
        touch();
        auto r = reader_.feed(bytes, [this](ws_codec::event&& e) { return on_event(std::move(e)); });
        if (r.error) {
            reader_failed_ = true;
            if (r.error->code == ws_codec::close_too_big) {
                gw_->metrics.frame_too_large.inc();
            }
            begin_close(r.error->code, std::move(r.error->reason), true);
            return !done_;
        }
        if (done_ || close_received_) {
            return false;  // nothing after the client's close frame is read
        }
        if (r.consumed < bytes.size()) {
            stash_.assign(bytes.substr(r.consumed));  // paused at the bound of requests
        }
        return true;
    }

    // On the strand: one message or control frame. Returns false to stop parsing (the
    // bound of requests in progress is reached, or the connection is closing for good).
    bool on_event(ws_codec::event&& e) {
        using kind = ws_codec::event::kind;
        switch (e.what) {
            case kind::ping:
                if (!close_queued_) {
                    enqueue_control(ws_codec::opcode::pong, std::move(e.payload));
                    flush();
                }
                return true;
            case kind::pong: return true;
            case kind::close: {
                close_received_ = true;
                if (!close_queued_) {
                    // The client closes: the answer echoes its code (RFC 6455 5.5.1).
                    closing_ = true;
                    drop_outbox();
                    enqueue_control(ws_codec::opcode::close,
                                    e.code == ws_codec::close_no_status
                                        ? std::string()
                                        : ws_codec::close_payload(e.code, ""));
                    close_queued_ = true;
                    arm_close_guard(false);
                    flush();
                } else if (close_written_) {
                    teardown();
                }
                return false;
            }
            case kind::text:
            case kind::binary: break;
        }
        gw_->metrics.frames_in.inc();
        if (closing_) {
            return true;  // draining the peer's frames until its close arrives
        }
        if (!admit_frame(e)) {
            return true;
        }
        if (e.what == kind::binary) {
            reply(ws_frames::error(std::nullopt, errc::invalid_argument,
                                   "binary frames are not supported; send JSON text frames"));
            return true;
        }
        handle(e.payload);
        return !read_paused();
    }

    // On the strand: the read side ended (end of stream, reset, cancelled by teardown).
    void read_ended() {
        if (done_) {
            return;
        }
        teardown();
    }

    // ---- writing ----

    // Any thread: `frame` into the inbox; `first` when the inbox was empty (whoever queued it
    // wakes the connection). False when the connection is closing.
    bool queue(const std::shared_ptr<const std::string>& frame, bool& first) {
        if (closing_.load(std::memory_order_relaxed)) {
            return false;
        }
        std::lock_guard lock(inbox_lock_);
        first = inbox_.empty();
        inbox_.push_back(frame);
        return true;
    }

    // On the strand: what push() queued, into the outbox, in order.
    void take_inbox() {
        std::vector<std::shared_ptr<const std::string>> taken;
        {
            std::lock_guard lock(inbox_lock_);
            taken.swap(inbox_);
        }
        // The queue-depth gauge moves once per wake-up, not once per frame: a fan-out wakes
        // thousands of sessions per message.
        std::size_t queued = 0;
        for (auto& frame : taken) {
            queued += enqueue_frame(std::move(frame), ws_codec::opcode::text, false) ? 1 : 0;
        }
        gw_->metrics.outbox_depth.add(static_cast<double>(queued));
        flush();
    }

    // On the strand. The outbox is bounded in frames and bytes: past either bound the client
    // is not keeping up, and protocol guarantee 3 forbids skipping frames, so it is closed.
    // Answers whether the frame was queued; `count`: add it to the queue-depth gauge (false:
    // the caller adds its frames at once).
    bool enqueue_frame(std::shared_ptr<const std::string> frame, ws_codec::opcode op,
                       bool count = true) {
        if (closing_.load(std::memory_order_relaxed)) {
            return false;
        }
        const auto& limits = gw_->limits;
        if (outbox_.size() >= static_cast<std::size_t>(limits.outbox_frames.load()) ||
            outbox_bytes_ + frame->size() > static_cast<std::size_t>(limits.outbox_bytes.load())) {
            gw_->metrics.dropped.inc();
            infra::log::info("gateway", "slow consumer closed",
                             {{"session", id_}, {"user", who_.user_id},
                              {"queued_frames", outbox_.size()}, {"queued_bytes", outbox_bytes_}});
            begin_close(close_slow_consumer, "slow consumer", false);
            return false;
        }
        outbox_bytes_ += frame->size();
        outbox_.push_back(out_frame{std::move(frame), op});
        if (count) {
            gw_->metrics.outbox_depth.inc();
        }
        return true;
    }

    // A control frame (pong, ping, close) goes out even past the outbox's bounds.
    void enqueue_control(ws_codec::opcode op, std::string payload) {
        outbox_bytes_ += payload.size();
        outbox_.push_back(out_frame{std::make_shared<const std::string>(std::move(payload)), op});
        gw_->metrics.outbox_depth.inc();
    }

    void drop_outbox() {
        gw_->metrics.outbox_depth.add(-static_cast<double>(outbox_.size()));
        outbox_.clear();
        outbox_bytes_ = 0;
    }

    // On the strand: everything queued goes out in one write (one system call, not one per
    // frame), up to `max_coalesce_bytes`. At most one write is in flight; its completion
    // starts the next.
    void flush() {
        if (writing_ || done_) {
            return;
        }
        std::size_t frames = 0;  // data frames
        std::size_t taken = 0;
        while (!outbox_.empty() && wbuf_.size() < max_coalesce_bytes) {
            out_frame f = std::move(outbox_.front());
            outbox_.pop_front();
            outbox_bytes_ -= f.payload->size();
            std::array<char, 10> header{};
            const std::size_t h = ws_codec::encode_header(f.op, f.payload->size(), header);
            wbuf_.append(header.data(), h);
            wbuf_.append(*f.payload);
            ++taken;
            if (f.op == ws_codec::opcode::close) {
                close_in_write_ = true;
            } else if (f.op == ws_codec::opcode::text) {
                ++frames;
            }
        }
        gw_->metrics.outbox_depth.add(-static_cast<double>(taken));
        if (outbox_.empty() && outbox_.capacity() > outbox_keep_capacity) {
            outbox_.shrink_to_fit();  // a burst is over: give its memory back
        }
        if (wbuf_.size() == written_) {
            return;
        }
        pending_frames_ += frames;
        if constexpr (!is_tls) {
            // Most writes fit the socket's buffer: no operation on the reactor for them.
            boost::system::error_code ec;
            const std::size_t n = stream_.write_some(
                net::buffer(wbuf_.data() + written_, wbuf_.size() - written_), ec);
            if (!ec) {
                written_ += n;
                if (written_ == wbuf_.size()) {
                    write_done();
                    return;
                }
            } else if (ec != net::error::would_block && ec != net::error::try_again) {
                wbuf_.clear();
                written_ = 0;
                teardown();  // the connection is gone; the read side notices too
                return;
            }
        }
        writing_ = true;
        net::async_write(stream_, net::buffer(wbuf_.data() + written_, wbuf_.size() - written_),
                         [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                             self->writing_ = false;
                             if (ec) {
                                 self->wbuf_.clear();
                                 self->written_ = 0;
                                 self->teardown();
                                 return;
                             }
                             self->written_ = self->wbuf_.size();
                             self->write_done();
                         });
    }

    // On the strand: everything in the write buffer is out.
    void write_done() {
        gw_->metrics.frames_out.inc(pending_frames_);
        pending_frames_ = 0;
        wbuf_.clear();
        written_ = 0;
        if (wbuf_.capacity() > write_keep_capacity) {
            ws_codec::release(wbuf_);
        }
        if (close_in_write_) {
            close_in_write_ = false;
            close_written_ = true;
            after_close_written();
            return;
        }
        if (!outbox_.empty()) {
            flush();
        } else if (!std::exchange(first_flush_done_, true)) {
            // The handshake response and the hello are out; many connections now idle for
            // long: they keep no write buffer.
            ws_codec::release(wbuf_);
        }
    }

    // ---- closing ----

    // On the strand. Stops queueing, drops what is queued, and sends the close frame. `bad_input`:
    // the close answers bad input (1002, 1007, 1009), and the client's unread rest is dropped
    // within the linger bounds.
    void begin_close(std::uint16_t code, std::string reason, bool bad_input) {
        if (close_queued_ || done_) {
            return;
        }
        closing_ = true;
        close_queued_ = true;
        drop_outbox();
        enqueue_control(ws_codec::opcode::close, ws_codec::close_payload(code, reason));
        arm_close_guard(bad_input);
        flush();
    }

    // The closing handshake's deadline, on the heartbeat's timer (which has nothing more to do).
    void arm_close_guard(bool bad_input) {
        const auto ms = bad_input ? gw_->limits.linger_ms.load() : gw_->limits.handshake_timeout_ms.load();
        timer_.expires_after(std::chrono::milliseconds(ms));
        timer_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
            if (!ec) {
                self->teardown();
            }
        });
    }

    // On the strand: the close frame is written. With the client's close already read (or
    // nothing more to parse) the connection ends; else it reads until the client's close.
    void after_close_written() {
        if constexpr (is_tls) {
            if (close_received_ || reader_failed_) {
                stream_.async_shutdown([self = this->shared_from_this()](const boost::system::error_code&) {
                    self->linger_or_teardown();
                });
                return;
            }
        } else {
            if (close_received_) {
                teardown();
                return;
            }
            boost::system::error_code ignored;
            socket().shutdown(net::socket_base::shutdown_send, ignored);
        }
        if (reader_failed_) {
            lingering_ = true;
        }
        resume_reading();
    }

    // TLS, after close_notify: the unread rest is dropped as raw bytes (bad input), or the
    // connection ends.
    void linger_or_teardown() {
        if (done_) {
            return;
        }
        if (!reader_failed_) {
            teardown();
            return;
        }
        boost::system::error_code ignored;
        socket().shutdown(net::socket_base::shutdown_send, ignored);
        socket().non_blocking(true, ignored);
        lingering_ = true;
        if (!reading_) {
            resume_reading();
        }
    }

    // On the strand, once: the connection is over. Closes the socket, stops the timer, drops
    // what is queued and leaves the registry.
    void teardown() {
        if (done_) {
            return;
        }
        done_ = true;
        closing_ = true;
        timer_.cancel();
        drop_outbox();
        {
            std::lock_guard lock(inbox_lock_);
            inbox_.clear();
        }
        boost::system::error_code ignored;
        socket().shutdown(net::socket_base::shutdown_both, ignored);
        socket().close(ignored);
        if (registered_) {
            const bool last = gw_->registry.remove(*this);
            gw_->metrics.connections.dec();
            if (last && gw_->deps.messaging != nullptr) {
                gw_->deps.messaging->presence_changed(who_.user_id, false);
            }
        }
        infra::log::debug("gateway", "websocket closed", {{"session", id_}, {"user", who_.user_id}});
        // Counted as open until here, not until the last reference to this object (a queued
        // push may hold one) goes.
        finish();
    }

    // ---- heartbeat ----

    // On the strand: a ping every heartbeat interval; a client silent for three intervals is
    // closed with 4002. The same timer ends the session when its token expires (4001): it
    // wakes at the expiry when that comes before the next ping, so a connection needs no
    // second timer.
    void arm_heartbeat() {
        if (done_) {
            return;
        }
        auto wait = std::chrono::milliseconds(gw_->limits.heartbeat_ms.load());
        if (who_.expires_ms > 0) {
            const auto left = std::chrono::milliseconds(
                std::max<std::int64_t>(0, who_.expires_ms - gw_->clock.now_ms()));
            wait = std::min(wait, left);
        }
        timer_.expires_after(wait);
        timer_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
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
            begin_close(close_token_ended, "token expired", false);
            return;
        }
        const auto interval = std::chrono::milliseconds(gw_->limits.heartbeat_ms.load());
        if (std::chrono::steady_clock::now() - last_activity_ > 3 * interval) {
            begin_close(close_heartbeat, "heartbeat timeout", false);
            return;
        }
        // Whatever a burst left behind goes back: an idle connection keeps no buffers.
        reader_.trim();
        if (stash_.empty() && stash_.capacity() > 0) {
            ws_codec::release(stash_);
        }
        if (!writing_ && wbuf_.empty() && wbuf_.capacity() > 0) {
            ws_codec::release(wbuf_);
        }
        enqueue_control(ws_codec::opcode::ping, std::string());
        flush();
        arm_heartbeat();
    }

    // ---- requests ----

    void reply(std::string frame) {
        enqueue_frame(std::make_shared<const std::string>(std::move(frame)), ws_codec::opcode::text);
        flush_soon();
    }

    // On the strand: a flush after the handlers already queued on this strand. A group commit
    // resumes each of this connection's sends in its own handler, one after the other; their
    // acks, and the pushes woken with them, then go out in one write instead of one each.
    void flush_soon() {
        if (flush_posted_ || writing_ || done_) {
            return;  // a write in flight flushes the rest when it completes
        }
        flush_posted_ = true;
        net::post(stream_.get_executor(), [self = this->shared_from_this()] {
            self->flush_posted_ = false;
            self->flush();
        });
    }

    // The per-connection frame rate (limits.ws_message_rate): a frame past the bucket is
    // answered with rate_limited (with its `id` when it has one) and not handled; a client
    // that keeps sending past it is closed with 1008.
    bool admit_frame(const ws_codec::event& e) {
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
            begin_close(close_policy_violation, "message rate exceeded", false);
            return false;
        }
        std::optional<std::string> id;
        if (e.what == ws_codec::event::kind::text) {
            auto parsed = ws_frames::parse_client_frame(e.payload);
            id = parsed ? parsed->id : parsed.error().id;
        }
        error err = make_error(errc::rate_limited, "too many frames; slow down");
        err.retry_after_s = d.retry_after_s;
        reply(ws_frames::error(id, err));
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
        net::co_spawn(stream_.get_executor(), request(std::move(f)), net::detached);
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
        const bool was_paused = read_paused();
        --inflight_;
        if (was_paused && !read_paused()) {
            resume_reading();
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

    static constexpr std::size_t outbox_keep_capacity = 64;         // frames
    static constexpr std::size_t write_keep_capacity = 64 * 1024;   // bytes

    std::shared_ptr<websocket_gateway::impl> gw_;
    Stream stream_;
    net::steady_timer timer_;  // the heartbeat, then the closing handshake's deadline
    const std::uint64_t id_;
    const logic::identity who_;
    std::function<void()> on_close_;  // tells the listener the connection ended (once)
    ws_codec::reader reader_;
    std::string stash_;  // bytes read but not parsed yet (paused at the bound of requests)
    std::unique_ptr<char[]> tls_buffer_;  // TLS only
    // A devector, not a deque: it allocates nothing until a frame is queued (libstdc++'s deque
    // allocates about 600 bytes up front), and most connections are idle.
    boost::container::devector<out_frame> outbox_;
    std::size_t outbox_bytes_ = 0;
    std::string wbuf_;          // encoded frames being written
    std::size_t written_ = 0;   // bytes of wbuf_ already written
    std::size_t pending_frames_ = 0;  // data frames in wbuf_
    // Pushes from other threads on their way to the outbox (push(), take_inbox()).
    infra::spin_lock inbox_lock_;
    std::vector<std::shared_ptr<const std::string>> inbox_;
    std::size_t inflight_ = 0;
    frame_bucket frames_;
    std::chrono::steady_clock::time_point last_activity_;
    std::uint64_t lingered_ = 0;
    std::atomic<bool> closing_{false};
    bool registered_ = false;
    bool close_queued_ = false;
    bool close_in_write_ = false;
    bool close_written_ = false;
    bool close_received_ = false;
    bool reader_failed_ = false;
    bool lingering_ = false;
    bool reading_ = false;
    bool done_ = false;
    bool finished_ = false;
    bool writing_ = false;
    bool flush_posted_ = false;  // flush_soon()'s flush is queued on the strand
    bool first_flush_done_ = false;
};

void websocket_gateway::impl::start(std::unique_ptr<upgrade_request> up) {
    auto ex = std::visit([](auto& s) { return s.get_executor(); }, up->stream);
    net::co_spawn(ex, authenticate_and_run(std::move(up)), log_if_failed);
}

// Writes a refusal on whichever stream the upgrade came on, and closes it.
static net::awaitable<void> answer_and_close(upgrade_request& up, http::response<http::string_body>& res) {
    if (auto* tls = std::get_if<tls_stream>(&up.stream)) {
        co_await write_and_close(*tls, res);
    } else {
        co_await write_and_close(std::get<plain_stream>(up.stream), res);
    }
}

net::awaitable<void> websocket_gateway::impl::refuse(upgrade_request& up, error e) {
    http_response r = error_response(e);
    http::response<http::string_body> res{static_cast<http::status>(r.status), up.request.version()};
    res.set(http::field::server, "monochat");
    res.set(http::field::content_type, r.content_type);
    res.body() = std::move(r.body);
    res.keep_alive(false);
    res.prepare_payload();
    co_await answer_and_close(up, res);
}

// RFC 6455 4.4: a version the server does not speak is answered 426 with the one it does.
net::awaitable<void> websocket_gateway::impl::refuse_version(upgrade_request& up) {
    http::response<http::string_body> res{http::status::upgrade_required, up.request.version()};
    res.set(http::field::server, "monochat");
    res.set(http::field::sec_websocket_version, "13");
    res.set(http::field::content_type, "application/json");
    res.body() = R"({"error":{"code":"invalid_argument","message":"only WebSocket version 13 is supported"}})";
    res.keep_alive(false);
    res.prepare_payload();
    co_await answer_and_close(up, res);
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
    const auto& hdr = up->request;
    // The opening handshake's own fields (RFC 6455 4.2.1); the listener checked the method,
    // the Connection and Upgrade headers.
    if (hdr[http::field::sec_websocket_version] != "13") {
        co_await refuse_version(*up);
        co_return;
    }
    const std::string client_key(hdr[http::field::sec_websocket_key]);
    if (!ws_codec::valid_client_key(client_key)) {
        co_await refuse(*up, make_error(errc::invalid_argument,
                                        "Sec-WebSocket-Key must be the base64 of 16 bytes"));
        co_return;
    }
    // A page of another site must not open a socket with the user's token (a browser sends
    // Origin with every WebSocket handshake; other clients need not).
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
    // The session takes the connection over, and this coroutine ends: nothing of the upgrade
    // (its request, buffers, the TCP stream's state, this frame) stays for the connection's
    // life.
    auto on_close = std::exchange(up->on_close, nullptr);
    notice.up = nullptr;
    std::string response = handshake_response(client_key, protocols.v1);
    std::string early(static_cast<const char*>(up->buffer.data().data()), up->buffer.size());
    if (auto* tls_s = std::get_if<tls_stream>(&up->stream)) {
        auto session = std::make_shared<ws_session<tls_stream>>(
            shared_from_this(), std::move(*tls_s), std::move(*who), std::move(on_close));
        up.reset();
        session->start(std::move(response), std::move(early));
    } else {
        auto socket = std::move(std::get<plain_stream>(up->stream).socket());
        auto session = std::make_shared<ws_session<net::ip::tcp::socket>>(
            shared_from_this(), std::move(socket), std::move(*who), std::move(on_close));
        up.reset();
        session->start(std::move(response), std::move(early));
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
