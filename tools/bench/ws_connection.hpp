#pragma once
// One client WebSocket connection of the load generator.
//
// The opening handshake is Beast's HTTP client (the upgrade request carries the bearer token);
// after the 101 the connection frames RFC 6455 itself: every text frame queued while one
// handler runs leaves in a single write (a sender's burst of `send` frames costs one syscall),
// and each read parses every frame the kernel handed over. Beast's websocket::stream writes one
// frame per call and cannot share the socket with an outside writer (its automatic pong would
// interleave), and the generator shares the two cores with the server, so its cost per message
// decides how much CPU the server gets.
//
// Thread-safety: none. A connection belongs to one io_context run by one thread; every call and
// every callback happens on that thread. The object must outlive its io_context's run().

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::bench {

class ws_handler {
public:
    virtual ~ws_handler() = default;
    // The server's first frame (`hello`) arrived: the connection is usable.
    virtual void on_open(std::string_view hello) = 0;
    // Every later text frame; the view is valid during the call only.
    virtual void on_text(std::string_view frame) = 0;
    // The connection failed before `hello` (opened = false) or ended after it. `close_code` is
    // the server's WebSocket close code, or 0 when there was no close frame.
    virtual void on_closed(bool opened, int close_code, std::string_view why) = 0;
};

class ws_connection {
public:
    ws_connection(boost::asio::io_context& ioc, ws_handler& handler);
    ~ws_connection();
    ws_connection(const ws_connection&) = delete;
    ws_connection& operator=(const ws_connection&) = delete;

    // Connects from `source` (port chosen by the kernel at connect time, so one address serves
    // many servers' 4-tuples), upgrades GET /api/v1/ws with `Authorization: Bearer token`, and
    // waits for the hello. Fails (on_closed(false)) if that takes longer than `timeout`.
    // Call once per object.
    void start(const boost::asio::ip::tcp::endpoint& server, const boost::asio::ip::address& source,
               const std::string& host_header, const std::string& token,
               std::chrono::milliseconds timeout);

    // Queues a masked text frame. Frames queued before control returns to the io_context
    // leave in one write. Ignored once the connection is closed.
    void send_text(std::string_view payload);

    // Closes the socket at once, without a closing handshake: a client that vanished.
    void drop();

    bool is_open() const { return opened_ && !closed_; }

private:
    void run(boost::asio::ip::tcp::endpoint server, boost::asio::ip::address source,
             std::string host_header, std::string token);
    void read_more();
    bool parse_frames();  // false when the connection must end
    void deliver(std::string_view payload);
    void queue_frame(std::uint8_t opcode, std::string_view payload);
    void flush();
    void fail(std::string_view why);

    boost::asio::io_context& ioc_;
    ws_handler& handler_;
    boost::asio::ip::tcp::socket socket_;
    boost::asio::steady_timer deadline_;

    std::vector<char> rbuf_;
    std::size_t rbegin_ = 0;
    std::size_t rend_ = 0;
    std::string fragments_;  // a fragmented message being reassembled
    bool in_fragments_ = false;

    std::string out_;      // frames queued, not yet written
    std::string writing_;  // frames of the write in flight
    bool write_active_ = false;
    bool flush_posted_ = false;

    std::uint32_t mask_state_;
    int close_code_ = 0;
    bool opened_ = false;
    bool closed_ = false;
};

}  // namespace monochat::bench
