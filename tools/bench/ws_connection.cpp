#include "bench/ws_connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cstring>
#include <random>

namespace monochat::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto token = net::as_tuple(net::use_awaitable);

// Linux: let connect() pick the source port for the whole 4-tuple, so that one source address
// is not limited to one ephemeral port range across all servers it talks to.
#ifndef IP_BIND_ADDRESS_NO_PORT
constexpr int IP_BIND_ADDRESS_NO_PORT = 24;
#endif

constexpr std::size_t initial_read_buffer = 4096;
constexpr std::size_t max_read_chunk = 256 * 1024;

enum opcode : std::uint8_t {
    op_continuation = 0x0,
    op_text = 0x1,
    op_binary = 0x2,
    op_close = 0x8,
    op_ping = 0x9,
    op_pong = 0xA,
};

std::string base64(const unsigned char* data, std::size_t n) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < n; i += 3) {
        const std::uint32_t v = (static_cast<std::uint32_t>(data[i]) << 16) |
                                (i + 1 < n ? static_cast<std::uint32_t>(data[i + 1]) << 8 : 0) |
                                (i + 2 < n ? static_cast<std::uint32_t>(data[i + 2]) : 0);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        out += i + 2 < n ? alphabet[v & 63] : '=';
    }
    return out;
}

std::uint32_t seed() {
    static thread_local std::mt19937 gen{std::random_device{}()};
    return gen() | 1U;
}

}  // namespace

ws_connection::ws_connection(net::io_context& ioc, ws_handler& handler)
    : ioc_(ioc), handler_(handler), socket_(ioc), deadline_(ioc), mask_state_(seed()) {}

ws_connection::~ws_connection() = default;

void ws_connection::start(const tcp::endpoint& server, const net::ip::address& source,
                          const std::string& host_header, const std::string& token_text,
                          std::chrono::milliseconds timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && !opened_ && !closed_) {
            fail("timed out before hello");
        }
    });
    run(server, source, host_header, token_text);
}

void ws_connection::run(tcp::endpoint server, net::ip::address source, std::string host_header,
                        std::string token_text) {
    net::co_spawn(
        ioc_,
        [this, server, source, host_header = std::move(host_header),
         token_text = std::move(token_text)]() -> net::awaitable<void> {
            boost::system::error_code ec;
            socket_.open(server.protocol(), ec);
            if (ec) {
                fail("socket: " + ec.message());
                co_return;
            }
            const int one = 1;
            ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                         sizeof one);
            ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            socket_.bind(tcp::endpoint(source, 0), ec);
            if (ec) {
                fail("bind " + source.to_string() + ": " + ec.message());
                co_return;
            }
            auto [cec] = co_await socket_.async_connect(server, token);
            if (cec) {
                fail("connect: " + cec.message());
                co_return;
            }

            unsigned char key[16];
            for (std::size_t i = 0; i < sizeof key; i += 4) {
                mask_state_ ^= mask_state_ << 13;
                mask_state_ ^= mask_state_ >> 17;
                mask_state_ ^= mask_state_ << 5;
                std::memcpy(key + i, &mask_state_, 4);
            }
            http::request<http::empty_body> req{http::verb::get, "/api/v1/ws", 11};
            req.set(http::field::host, host_header);
            req.set(http::field::upgrade, "websocket");
            req.set(http::field::connection, "Upgrade");
            req.set(http::field::sec_websocket_key, base64(key, sizeof key));
            req.set(http::field::sec_websocket_version, "13");
            req.set(http::field::authorization, "Bearer " + token_text);
            auto [wec, wn] = co_await http::async_write(socket_, req, token);
            if (wec) {
                fail("upgrade request: " + wec.message());
                co_return;
            }
            beast::flat_buffer buffer;
            http::response_parser<http::empty_body> parser;
            parser.skip(true);  // a 101 has no body; a refusal's body is not needed
            auto [rec, rn] = co_await http::async_read_header(socket_, buffer, parser, token);
            if (rec) {
                fail("upgrade response: " + rec.message());
                co_return;
            }
            if (parser.get().result() != http::status::switching_protocols) {
                fail("upgrade refused: HTTP " + std::to_string(parser.get().result_int()));
                co_return;
            }
            // The hello may have arrived with the 101: keep what Beast read past the headers.
            const auto left = buffer.size();
            rbuf_.resize(std::max(initial_read_buffer, left * 2));
            std::memcpy(rbuf_.data(), buffer.data().data(), left);
            rend_ = left;
            if (!parse_frames()) {
                co_return;
            }
            read_more();
        },
        net::detached);
}

void ws_connection::read_more() {
    if (closed_) {
        return;
    }
    if (rbegin_ == rend_) {
        rbegin_ = rend_ = 0;
    }
    if (rend_ == rbuf_.size()) {
        if (rbegin_ > 0) {
            std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, rend_ - rbegin_);
            rend_ -= rbegin_;
            rbegin_ = 0;
        } else {
            rbuf_.resize(rbuf_.size() * 2);
        }
    }
    const std::size_t room = std::min(rbuf_.size() - rend_, max_read_chunk);
    socket_.async_read_some(
        net::buffer(rbuf_.data() + rend_, room),
        [this](const boost::system::error_code& ec, std::size_t n) {
            if (ec) {
                fail(ec == net::error::eof ? "closed by the server" : ec.message());
                return;
            }
            // A full buffer means more is waiting: read bigger next time.
            const bool filled = rend_ + n == rbuf_.size();
            rend_ += n;
            if (!parse_frames()) {
                return;
            }
            if (filled && rbegin_ == rend_ && rbuf_.size() < max_read_chunk) {
                rbuf_.resize(rbuf_.size() * 2);
            }
            read_more();
        });
}

bool ws_connection::parse_frames() {
    while (!closed_) {
        const std::size_t avail = rend_ - rbegin_;
        if (avail < 2) {
            break;
        }
        const auto* p = reinterpret_cast<const unsigned char*>(rbuf_.data() + rbegin_);
        const bool fin = (p[0] & 0x80) != 0;
        const std::uint8_t op = p[0] & 0x0F;
        const bool masked = (p[1] & 0x80) != 0;
        std::uint64_t len = p[1] & 0x7F;
        std::size_t header = 2;
        if (len == 126) {
            if (avail < 4) {
                break;
            }
            len = (static_cast<std::uint64_t>(p[2]) << 8) | p[3];
            header = 4;
        } else if (len == 127) {
            if (avail < 10) {
                break;
            }
            len = 0;
            for (int i = 0; i < 8; ++i) {
                len = (len << 8) | p[2 + i];
            }
            header = 10;
        }
        const std::size_t mask_at = header;
        if (masked) {
            header += 4;
        }
        if (len > (64ULL << 20)) {
            fail("frame over 64 MiB");
            return false;
        }
        const std::size_t total = header + static_cast<std::size_t>(len);
        if (avail < total) {
            if (rbuf_.size() - rbegin_ < total) {
                // Make room for the whole frame: move it to the front, grow if still too small.
                std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, avail);
                rbegin_ = 0;
                rend_ = avail;
                if (rbuf_.size() < total) {
                    rbuf_.resize(total);
                }
            }
            break;
        }
        char* payload = rbuf_.data() + rbegin_ + header;
        if (masked) {  // servers do not mask; unmask anyway rather than misread
            const unsigned char* m = p + mask_at;
            for (std::size_t i = 0; i < len; ++i) {
                payload[i] = static_cast<char>(payload[i] ^ m[i & 3]);
            }
        }
        const std::string_view body(payload, static_cast<std::size_t>(len));
        rbegin_ += total;
        switch (op) {
            case op_text:
            case op_binary:
                if (fin) {
                    deliver(body);
                } else {
                    fragments_.assign(body);
                    in_fragments_ = true;
                }
                break;
            case op_continuation:
                if (in_fragments_) {
                    fragments_.append(body);
                    if (fin) {
                        in_fragments_ = false;
                        const std::string whole = std::move(fragments_);
                        fragments_.clear();
                        deliver(whole);
                    }
                }
                break;
            case op_ping:
                queue_frame(op_pong, body);
                break;
            case op_close:
                close_code_ = body.size() >= 2 ? (static_cast<unsigned char>(body[0]) << 8) |
                                                     static_cast<unsigned char>(body[1])
                                               : 1005;
                fail("closed by the server with " + std::to_string(close_code_));
                return false;
            default:
                break;
        }
    }
    return !closed_;
}

void ws_connection::deliver(std::string_view payload) {
    if (!opened_) {
        opened_ = true;
        deadline_.cancel();
        handler_.on_open(payload);
        return;
    }
    handler_.on_text(payload);
}

void ws_connection::send_text(std::string_view payload) { queue_frame(op_text, payload); }

void ws_connection::queue_frame(std::uint8_t op, std::string_view payload) {
    if (closed_) {
        return;
    }
    const std::size_t n = payload.size();
    out_.push_back(static_cast<char>(0x80 | op));
    if (n < 126) {
        out_.push_back(static_cast<char>(0x80 | n));
    } else if (n < 65536) {
        out_.push_back(static_cast<char>(0x80 | 126));
        out_.push_back(static_cast<char>((n >> 8) & 0xFF));
        out_.push_back(static_cast<char>(n & 0xFF));
    } else {
        out_.push_back(static_cast<char>(0x80 | 127));
        for (int i = 7; i >= 0; --i) {
            out_.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF));
        }
    }
    // Clients must mask (RFC 6455 5.3); the key needs no cryptographic quality here.
    mask_state_ ^= mask_state_ << 13;
    mask_state_ ^= mask_state_ >> 17;
    mask_state_ ^= mask_state_ << 5;
    unsigned char m[4];
    std::memcpy(m, &mask_state_, 4);
    out_.append(reinterpret_cast<const char*>(m), 4);
    const std::size_t at = out_.size();
    out_.resize(at + n);
    char* dst = out_.data() + at;
    for (std::size_t i = 0; i < n; ++i) {
        dst[i] = static_cast<char>(payload[i] ^ static_cast<char>(m[i & 3]));
    }
    if (!write_active_ && !flush_posted_) {
        flush_posted_ = true;
        net::post(ioc_, [this] {
            flush_posted_ = false;
            flush();
        });
    }
}

void ws_connection::flush() {
    if (write_active_ || out_.empty() || closed_) {
        return;
    }
    writing_.swap(out_);
    out_.clear();
    write_active_ = true;
    net::async_write(socket_, net::buffer(writing_),
                     [this](const boost::system::error_code& ec, std::size_t) {
                         write_active_ = false;
                         writing_.clear();
                         if (ec) {
                             fail("write: " + ec.message());
                             return;
                         }
                         flush();
                     });
}

void ws_connection::drop() {
    if (closed_) {
        return;
    }
    fail("dropped by the client");
}

void ws_connection::fail(std::string_view why) {
    if (closed_) {
        return;
    }
    closed_ = true;
    deadline_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    out_.clear();
    handler_.on_closed(opened_, close_code_, why);
}

}  // namespace monochat::bench
