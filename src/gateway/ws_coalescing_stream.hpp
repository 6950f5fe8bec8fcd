#pragma once
// A stream layer under Beast's WebSocket stream that turns many small writes into one.
//
// Why: the fan-out profile (docs/benchmarks.md, "Fan-out profile") showed ~41 % of the server's
// CPU in sendmsg: one system call, one TCP segment and one Beast write operation per frame per
// recipient. A connection that has 20 pushes queued now gets them in one write.
//
// How: the session appends whole, already encoded text messages as WebSocket frames
// (`append_text`: a 2-10 byte header and the payload; server frames are unmasked) and then
// calls `async_flush`, which writes everything appended in one gather of the buffer. Beast's
// own writes (the handshake response, pings, pongs, the close frame) come through
// `async_write_some` and are queued behind what is already appended, so frames never interleave
// and Beast's operations complete only once their bytes were written. After Beast wrote a close
// frame, `append_text` refuses further data frames (RFC 6455 5.5.1).
//
// Every member runs on the connection's strand (the executor of the next layer); nothing here
// is thread-safe. One write to the next layer is in flight at a time.
//
// Memory: the two buffers keep their capacity between flushes up to `keep_capacity` bytes, so
// a busy connection does not reallocate them on every write; `trim()` gives them back once
// nothing is being written (the session calls it after its first flush and on each heartbeat),
// so an idle connection holds none.
//
// Teardown: after the closing handshake (or a close Beast starts itself, such as 1009 for a
// frame over `read_message_max`), Beast tears this layer down. Beast's own TCP teardown reads
// at most once before closing (beast issue #1373), so a client still sending a large frame got
// a reset, which destroys the close frame before the client reads it (it saw 1006, not 1009).
// With `set_linger()` this layer instead half-closes and reads and drops what the client still
// sends until it closes, for at most `server.linger_ms` and `server.linger_bytes`.

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <monochat/gateway/websocket_gateway.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace monochat::gateway {

template <class Next>
class coalescing_stream {
public:
    using next_layer_type = Next;
    using executor_type = typename Next::executor_type;

    template <class... Args>
    explicit coalescing_stream(Args&&... args) : next_(std::forward<Args>(args)...) {}

    coalescing_stream(coalescing_stream&&) = delete;
    coalescing_stream& operator=(coalescing_stream&&) = delete;

    Next& next_layer() { return next_; }
    const Next& next_layer() const { return next_; }
    executor_type get_executor() { return next_.get_executor(); }

    // The lingering close's bounds (`linger_ms`, `linger_bytes`, read at teardown); `limits`
    // outlives the stream. Without it the teardown is Beast's.
    void set_linger(const ws_limits* limits) { linger_ = limits; }
    const ws_limits* linger() const { return linger_; }

    // Bytes appended and not yet handed to the next layer.
    std::size_t buffered_bytes() const { return pending_.size(); }

    // Heap bytes the write buffers hold (their capacity beyond the in-object small buffer).
    std::size_t held_bytes() const {
        const auto heap = [](const std::string& s) {
            return s.capacity() > std::string().capacity() ? s.capacity() : 0;
        };
        return heap(pending_) + heap(inflight_);
    }

    // Appends one complete text message as a single unmasked frame. False once a close frame
    // was written or a write failed: the connection takes no more data.
    bool append_text(std::string_view payload) {
        if (closed_ || failed_) {
            return false;
        }
        char header[10];
        std::size_t n = 0;
        header[n++] = static_cast<char>(0x81);  // FIN, opcode 1 (text)
        const auto size = static_cast<std::uint64_t>(payload.size());
        if (size < 126) {
            header[n++] = static_cast<char>(size);
        } else if (size <= 0xffff) {
            header[n++] = static_cast<char>(126);
            header[n++] = static_cast<char>((size >> 8) & 0xff);
            header[n++] = static_cast<char>(size & 0xff);
        } else {
            header[n++] = static_cast<char>(127);
            for (int shift = 56; shift >= 0; shift -= 8) {
                header[n++] = static_cast<char>((size >> shift) & 0xff);
            }
        }
        pending_.append(header, n);
        pending_.append(payload);
        appended_ += n + payload.size();
        return true;
    }

    // Gives the write buffers back when nothing is being written or waiting. The session calls
    // it after its first flush and on each heartbeat, not after every write: an idle connection
    // holds no write buffers, and a busy one does not reallocate them for each flush.
    void trim() {
        if (!writing_ && pending_.empty()) {
            std::string().swap(pending_);
            std::string().swap(inflight_);
        }
    }

    // Completes once everything appended before the call was written (or the write failed).
    template <class Token>
    auto async_flush(Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::beast::error_code)>(
            [this](auto handler) {
                waiter w;
                w.until = appended_;
                w.handler = erase(std::move(handler), [](auto& h, boost::beast::error_code ec,
                                                          std::size_t) { std::move(h)(ec); });
                queue_waiter(std::move(w));
            },
            token);
    }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return next_.async_read_some(buffers, std::forward<Token>(token));
    }

    // Beast's writes: queued behind the appended frames, complete when written.
    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& bufs) {
                std::size_t size = 0;
                bool first = true;
                for (auto it = boost::asio::buffer_sequence_begin(bufs);
                     it != boost::asio::buffer_sequence_end(bufs); ++it) {
                    const boost::asio::const_buffer b(*it);
                    if (b.size() == 0) {
                        continue;
                    }
                    // A close frame (FIN and opcode 8; control frames are never fragmented):
                    // no data frames after it. (The handshake response starts with 'H'.)
                    if (first && static_cast<const unsigned char*>(b.data())[0] == 0x88) {
                        closed_ = true;
                    }
                    first = false;
                    pending_.append(static_cast<const char*>(b.data()), b.size());
                    size += b.size();
                }
                appended_ += size;
                waiter w;
                w.until = appended_;
                w.bytes = size;
                w.handler = erase(std::move(handler), [](auto& h, boost::beast::error_code ec,
                                                          std::size_t n) { std::move(h)(ec, n); });
                queue_waiter(std::move(w));
            },
            token, buffers);
    }

private:
    // A completion handler with its type erased (asio's any_completion_handler in Boost 1.81
    // recurses without end when moved, so a plain one is used). One allocation per Beast
    // write or flush, not per frame.
    struct erased_handler {
        virtual ~erased_handler() = default;
        virtual void invoke(boost::beast::error_code ec, std::size_t n) = 0;
    };
    template <class Handler, class Call>
    struct erased_impl final : erased_handler {
        erased_impl(Handler h, Call c) : handler(std::move(h)), call(c) {}
        void invoke(boost::beast::error_code ec, std::size_t n) override { call(handler, ec, n); }
        Handler handler;
        Call call;
    };
    template <class Handler, class Call>
    static std::unique_ptr<erased_handler> erase(Handler h, Call c) {
        return std::make_unique<erased_impl<Handler, Call>>(std::move(h), c);
    }
    static constexpr std::size_t keep_capacity = 16 * 1024;

    struct waiter {
        std::uint64_t until = 0;  // done once `written_` reaches this
        std::size_t bytes = 0;
        std::unique_ptr<erased_handler> handler;
    };

    void queue_waiter(waiter w) {
        if (failed_) {
            complete(std::move(w), failed_ec_);
            return;
        }
        waiters_.push_back(std::move(w));
        start_write();
    }

    void start_write() {
        if (writing_) {
            return;
        }
        if (pending_.empty()) {
            complete_reached(boost::beast::error_code{});
            return;
        }
        writing_ = true;
        inflight_.swap(pending_);
        boost::asio::async_write(next_, boost::asio::buffer(inflight_),
                                 [this](boost::beast::error_code ec, std::size_t) { on_written(ec); });
    }

    void on_written(boost::beast::error_code ec) {
        writing_ = false;
        written_ += inflight_.size();
        inflight_.clear();
        if (inflight_.capacity() > keep_capacity) {
            std::string().swap(inflight_);
        }
        if (ec) {
            failed_ = true;
            failed_ec_ = ec;
            pending_.clear();
            std::string().swap(pending_);
            for (auto& w : waiters_) {
                complete(std::move(w), ec);
            }
            waiters_.clear();
            return;
        }
        complete_reached(ec);
        if (!pending_.empty() && !waiters_.empty()) {
            start_write();
        }
    }

    // Completes every waiter whose bytes are all written.
    // complete() only posts, so nothing reenters and changes waiters_ during the loop.
    void complete_reached(boost::beast::error_code ec) {
        std::size_t done = 0;
        while (done < waiters_.size() && waiters_[done].until <= written_) {
            complete(std::move(waiters_[done]), ec);
            ++done;
        }
        waiters_.erase(waiters_.begin(), waiters_.begin() + static_cast<std::ptrdiff_t>(done));
    }

    // Handlers run as if posted: never inside the call that queued them. Every handler that
    // reaches this layer belongs to the connection's strand (Beast's operations and the
    // session's coroutines run there), which is the next layer's executor.
    void complete(waiter w, boost::beast::error_code ec) {
        boost::asio::post(next_.get_executor(),
                          [h = std::move(w.handler), ec, n = ec ? 0 : w.bytes]() mutable {
                              h->invoke(ec, n);
                          });
    }

    Next next_;
    const ws_limits* linger_ = nullptr;
    std::string pending_;   // appended, not yet handed to the next layer
    std::string inflight_;  // being written
    // Oldest first, rarely more than two. A vector, not a deque: libstdc++'s deque allocates
    // about 600 bytes on construction, and most connections are idle.
    std::vector<waiter> waiters_;
    std::uint64_t appended_ = 0;
    std::uint64_t written_ = 0;
    bool writing_ = false;
    bool closed_ = false;
    bool failed_ = false;
    boost::beast::error_code failed_ec_;
};

// Beast's WebSocket stream tears its next layer down after the closing handshake; the layer
// under this one knows how.
template <class Next>
void teardown(boost::beast::role_type role, coalescing_stream<Next>& stream,
              boost::beast::error_code& ec) {
    using boost::beast::websocket::teardown;
    teardown(role, stream.next_layer(), ec);
}

namespace detail {
// The server's lingering teardown (see the header comment). Runs on the connection's strand.
template <class Next>
boost::asio::awaitable<boost::beast::error_code> linger_teardown(Next& next, std::int64_t ms,
                                                                  std::uint64_t max_bytes) {
    constexpr auto token = boost::asio::as_tuple(boost::asio::use_awaitable);
    auto& lowest = boost::beast::get_lowest_layer(next);
    lowest.expires_after(std::chrono::milliseconds(ms));
    if constexpr (requires { next.async_shutdown(token); }) {
        // TLS: close_notify within the same deadline; what follows is dropped undecrypted.
        co_await next.async_shutdown(token);
    }
    boost::beast::error_code ignored;
    lowest.socket().shutdown(boost::asio::socket_base::shutdown_send, ignored);
    std::array<char, 16 * 1024> sink;
    std::uint64_t dropped = 0;
    while (dropped < max_bytes) {
        auto [ec, n] = co_await lowest.async_read_some(boost::asio::buffer(sink), token);
        if (ec) {
            break;  // end of file (the client closed too), the deadline, or a reset
        }
        dropped += n;
    }
    lowest.socket().close(ignored);
    co_return boost::beast::error_code{};
}
}  // namespace detail

template <class Next, class Handler>
void async_teardown(boost::beast::role_type role, coalescing_stream<Next>& stream,
                    Handler&& handler) {
    const ws_limits* limits = stream.linger();
    if (limits == nullptr || role != boost::beast::role_type::server) {
        using boost::beast::websocket::async_teardown;
        async_teardown(role, stream.next_layer(), std::forward<Handler>(handler));
        return;
    }
    boost::asio::co_spawn(
        stream.get_executor(),
        detail::linger_teardown(stream.next_layer(), limits->linger_ms.load(),
                                static_cast<std::uint64_t>(limits->linger_bytes.load())),
        [h = std::forward<Handler>(handler)](std::exception_ptr e,
                                             boost::beast::error_code ec) mutable {
            if (e) {
                ec = boost::asio::error::operation_aborted;  // only bad_alloc can get here
            }
            h(ec);
        });
}

}  // namespace monochat::gateway
