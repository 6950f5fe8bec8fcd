// The HTTP/WebSocket edge (issue 17, shared/protocol.md Version 1.1 "Request bodies" and
// "WebSocket authentication"): refusals reach a client that is still sending as answers, not
// resets; request bodies share a memory budget; upgrades are checked for their Origin, may
// carry the token as a subprotocol, and end when their token does.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "integration/rest_test_support.hpp"
#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/prometheus.hpp"
#include "support/server_process.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

// A blocking TCP connection with deadlines on every call (SO_SNDTIMEO / SO_RCVTIMEO), and
// writes that report the error (EPIPE, ECONNRESET) instead of raising SIGPIPE.
class raw_socket {
public:
    raw_socket(const std::string& host, int port, int send_buffer = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) {
            throw std::runtime_error("socket failed");
        }
        timeval tv{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (send_buffer > 0) {
            ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
        }
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd_);
            throw std::runtime_error("connect failed");
        }
    }
    ~raw_socket() { ::close(fd_); }
    raw_socket(const raw_socket&) = delete;
    raw_socket& operator=(const raw_socket&) = delete;

    // 0 when every byte went out, else the errno of the failed send.
    int write(std::string_view bytes) {
        while (!bytes.empty()) {
            const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return errno;
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return 0;
    }

    // Everything until the server closes (or the receive deadline passes, or a reset).
    std::string read_all() {
        std::string out;
        char buf[16384];
        for (;;) {
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return out;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
    }

private:
    int fd_ = -1;
};

struct parsed_response {
    int status = 0;
    std::string retry_after;
    std::string body;
    bool complete = false;
};

parsed_response parse_response(const std::string& raw) {
    parsed_response out;
    http::response_parser<http::string_body> p;
    p.eager(true);
    beast::error_code ec;
    p.put(net::buffer(raw), ec);
    if (ec || !p.is_header_done()) {
        return out;
    }
    out.status = static_cast<int>(p.get().result_int());
    out.retry_after = std::string(p.get()[http::field::retry_after]);
    out.complete = p.is_done();
    out.body = p.get().body();
    return out;
}

void check_json_error(const parsed_response& r, int status, const std::string& code) {
    INFO(r.status << " " << r.body);
    REQUIRE(r.complete);
    CHECK(r.status == status);
    const auto j = json::parse(r.body, nullptr, false);
    REQUIRE(j.is_object());
    REQUIRE(j.contains("error"));
    CHECK(j["error"]["code"] == code);
    CHECK(j["error"]["message"].is_string());
}

double metric(const server_process& server, const std::string& name,
              const std::map<std::string, std::string>& labels = {}) {
    http_client http(server.host(), server.port());
    const auto r = http.get("/metrics");
    REQUIRE(r.status == 200);
    return parse_prometheus(r.body).value(name, labels);
}

std::string chunk(std::size_t n, char fill) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    return size + std::string(n, fill) + "\r\n";
}

// A WebSocket handshake with chosen headers; the answer's status and subprotocol, and the
// open stream when it was accepted.
struct ws_attempt {
    int status = 0;
    std::string protocol;  // Sec-WebSocket-Protocol of the answer
    std::unique_ptr<net::io_context> ioc;
    std::unique_ptr<websocket::stream<tcp::socket>> ws;
};

ws_attempt ws_connect(const server_process& server, const std::string& target,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
    ws_attempt a;
    a.ioc = std::make_unique<net::io_context>();
    tcp::resolver resolver(*a.ioc);
    a.ws = std::make_unique<websocket::stream<tcp::socket>>(*a.ioc);
    net::connect(a.ws->next_layer(), resolver.resolve(server.host(), std::to_string(server.port())));
    a.ws->set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
        for (const auto& [k, v] : headers) {
            req.set(k, v);
        }
    }));
    websocket::response_type res;
    beast::error_code ec;
    a.ws->handshake(res, server.host() + ":" + std::to_string(server.port()), target, ec);
    a.status = static_cast<int>(res.result_int());
    a.protocol = std::string(res[http::field::sec_websocket_protocol]);
    if (ec) {
        a.ws.reset();
    }
    return a;
}

// Runs one asynchronous operation of `a` for at most `timeout` (a server that neither
// answers nor closes fails the test instead of hanging it): its error, or timed_out.
template <class Start>
beast::error_code run_for(ws_attempt& a, std::chrono::milliseconds timeout, Start start) {
    beast::error_code result = net::error::timed_out;
    bool done = false;
    start([&](beast::error_code ec, std::size_t) {
        result = ec;
        done = true;
    });
    a.ioc->restart();
    a.ioc->run_for(timeout);
    if (!done) {
        beast::error_code ignored;
        a.ws->next_layer().cancel(ignored);
        a.ioc->restart();
        a.ioc->run();
        return net::error::timed_out;
    }
    return result;
}

beast::error_code read_for(ws_attempt& a, beast::flat_buffer& b, std::chrono::milliseconds timeout) {
    return run_for(a, timeout, [&](auto handler) { a.ws->async_read(b, handler); });
}

// The first frame of an accepted connection (the hello).
json read_frame(ws_attempt& a) {
    beast::flat_buffer b;
    const auto ec = read_for(a, b, 5000ms);
    if (ec) {
        throw std::runtime_error("no frame: " + ec.message());
    }
    return json::parse(beast::buffers_to_string(b.data()));
}

}  // namespace

TEST_CASE("a body far over max_body_bytes gets a complete 413 while the client keeps sending",
          "[integration][edge]") {
    // The drain bound is raised so that this client, which writes its whole 24 MiB body before
    // it reads, is drained to its end; the default server.max_body_bytes (64 KiB) applies.
    server_process server(rest_test_config({{"server", {{"linger_bytes", 64 << 20}, {"linger_ms", 20000}}}}));
    server.start();
    constexpr std::size_t body_bytes = 24u << 20;
    const std::string piece(64 * 1024, 'x');

    SECTION("declared by Content-Length") {
        raw_socket s(server.host(), server.port(), 64 * 1024);
        REQUIRE(s.write("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: " + std::to_string(body_bytes) + "\r\n\r\n") == 0);
        int err = 0;
        for (std::size_t sent = 0; sent < body_bytes && err == 0; sent += piece.size()) {
            err = s.write(piece);
        }
        INFO("send failed with " << std::strerror(err));
        CHECK(err == 0);
        check_json_error(parse_response(s.read_all()), 413, "too_large");
    }
    SECTION("chunked") {
        raw_socket s(server.host(), server.port(), 64 * 1024);
        REQUIRE(s.write("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n") == 0);
        const std::string c = chunk(piece.size(), 'y');
        int err = 0;
        for (std::size_t sent = 0; sent < body_bytes && err == 0; sent += piece.size()) {
            err = s.write(c);
        }
        if (err == 0) {
            err = s.write("0\r\n\r\n");
        }
        INFO("send failed with " << std::strerror(err));
        CHECK(err == 0);
        check_json_error(parse_response(s.read_all()), 413, "too_large");
    }
    http_client http(server.host(), server.port());
    CHECK(http.get("/healthz").status == 200);
}

TEST_CASE("past max_body_bytes_in_flight new bodies get 503 with Retry-After until bodies finish",
          "[integration][edge]") {
    // Room for two 60000-byte bodies at once, not three.
    server_process server(rest_test_config(
        {{"server", {{"max_body_bytes", 65536}, {"max_body_bytes_in_flight", 150000}}}}));
    server.start();
    const auto upload_head = [](std::size_t n) {
        return "POST /api/v1/nothing-here HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Connection: close\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n";
    };
    const auto in_flight = [&] { return metric(server, "monochat_http_body_bytes_in_flight"); };

    // Two slow uploads: headers and the first bytes, then nothing for now.
    raw_socket a(server.host(), server.port());
    raw_socket b(server.host(), server.port());
    REQUIRE(a.write(upload_head(60000) + std::string(1000, ' ')) == 0);
    REQUIRE(b.write(upload_head(60000) + std::string(1000, ' ')) == 0);
    // Each is charged what its body holds: the 60000 bytes reserved for it (a few more bytes
    // of string capacity at most).
    REQUIRE(wait_until([&] { return in_flight() >= 120000; }, 5000ms));
    REQUIRE(in_flight() < 121000);

    SECTION("a declared body past the budget") {
        raw_socket c(server.host(), server.port());
        REQUIRE(c.write(upload_head(60000)) == 0);
        const auto r = parse_response(c.read_all());
        check_json_error(r, 503, "unavailable");
        CHECK(r.retry_after == "1");
    }
    SECTION("a chunked body that grows past the budget") {
        raw_socket c(server.host(), server.port());
        REQUIRE(c.write("POST /api/v1/nothing-here HTTP/1.1\r\nHost: x\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n") == 0);
        int err = 0;
        for (int i = 0; i < 10 && err == 0; ++i) {
            err = c.write(chunk(5000, ' '));
        }
        REQUIRE(err == 0);
        const auto r = parse_response(c.read_all());
        check_json_error(r, 503, "unavailable");
        CHECK(r.retry_after == "1");
    }
    CHECK(metric(server, "monochat_connections_refused_total", {{"reason", "body_budget"}}) == 1);

    // The slow uploads finish and are answered as usual; their budget comes back.
    REQUIRE(a.write(std::string(59000, ' ')) == 0);
    CHECK(parse_response(a.read_all()).status == 404);
    REQUIRE(wait_until([&] { return in_flight() < 61000; }, 5000ms));
    raw_socket d(server.host(), server.port());
    REQUIRE(d.write(upload_head(60000) + std::string(60000, ' ')) == 0);
    CHECK(parse_response(d.read_all()).status == 404);
    REQUIRE(b.write(std::string(59000, ' ')) == 0);
    CHECK(parse_response(b.read_all()).status == 404);
    const bool released = wait_until([&] { return in_flight() == 0; }, 5000ms);
    INFO("in flight at the end: " << in_flight());
    REQUIRE(released);
}

TEST_CASE("a WebSocket frame over limits.max_frame_bytes closes with 1009 that the client reads",
          "[integration][edge]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto u = register_user(http, unique_name("frame"));
    // The default limit (64 KiB): just over it, and 2 MiB, sent as one frame each.
    const std::size_t size = GENERATE(std::size_t{65537}, std::size_t{2u << 20});
    INFO("frame of " << size << " bytes");
    auto a = ws_connect(server, "/api/v1/ws", {{"Authorization", "Bearer " + u.token}});
    REQUIRE(a.status == 101);
    CHECK(read_frame(a)["type"] == "hello");
    a.ws->auto_fragment(false);
    a.ws->text(true);
    const std::string frame(size, ' ');
    auto ec = run_for(a, 10000ms, [&](auto handler) { a.ws->async_write(net::buffer(frame), handler); });
    INFO("write: " << ec.message());
    CHECK_FALSE(ec);
    beast::flat_buffer b;
    for (int i = 0; i < 10 && !ec; ++i) {
        ec = read_for(a, b, 10000ms);  // frames queued before the close may come first
        b.clear();
    }
    INFO("read: " << ec.message());
    CHECK(ec == websocket::error::closed);
    CHECK(a.ws->reason().code == 1009);
}

TEST_CASE("the token may come as the subprotocol monochat.token.<token> next to monochat.v1",
          "[integration][edge]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto u = register_user(http, unique_name("subproto"));

    SECTION("offered with monochat.v1: accepted, and monochat.v1 is selected") {
        auto a = ws_connect(server, "/api/v1/ws",
                            {{"Sec-WebSocket-Protocol", "monochat.v1, monochat.token." + u.token}});
        REQUIRE(a.status == 101);
        CHECK(a.protocol == "monochat.v1");
        const auto hello = read_frame(a);
        CHECK(hello["type"] == "hello");
        CHECK(hello["user_id"] == u.user_id);
    }
    SECTION("monochat.v1 alone with the Authorization header: selected too") {
        auto a = ws_connect(server, "/api/v1/ws",
                            {{"Sec-WebSocket-Protocol", "monochat.v1"}, {"Authorization", "Bearer " + u.token}});
        REQUIRE(a.status == 101);
        CHECK(a.protocol == "monochat.v1");
    }
    SECTION("the header and ?token= without subprotocols still work, and select none") {
        auto a = ws_connect(server, "/api/v1/ws", {{"Authorization", "Bearer " + u.token}});
        REQUIRE(a.status == 101);
        CHECK(a.protocol.empty());
        auto q = ws_connect(server, "/api/v1/ws?token=" + u.token, {});
        CHECK(q.status == 101);
    }
    SECTION("a token without monochat.v1 is 401") {
        auto a = ws_connect(server, "/api/v1/ws", {{"Sec-WebSocket-Protocol", "monochat.token." + u.token}});
        CHECK(a.status == 401);
    }
    SECTION("a bad token is 401, also with a good Authorization header") {
        auto a = ws_connect(server, "/api/v1/ws",
                            {{"Sec-WebSocket-Protocol", "monochat.v1, monochat.token." + std::string(64, 'f')},
                             {"Authorization", "Bearer " + u.token}});
        CHECK(a.status == 401);
    }
    SECTION("two tokens, or an empty one, are 401") {
        auto two = ws_connect(server, "/api/v1/ws",
                              {{"Sec-WebSocket-Protocol",
                                "monochat.v1, monochat.token." + u.token + ", monochat.token." + u.token}});
        CHECK(two.status == 401);
        auto empty = ws_connect(server, "/api/v1/ws", {{"Sec-WebSocket-Protocol", "monochat.v1, monochat.token."}});
        CHECK(empty.status == 401);
    }
}

TEST_CASE("an upgrade from a foreign Origin is 403, from its own, a listed one or none it is not",
          "[integration][edge]") {
    server_process server(rest_test_config({{"server", {{"allowed_origins", json::array({"https://App.Example"})}}}}));
    server.start();
    http_client http(server.host(), server.port());
    const auto u = register_user(http, unique_name("origin"));
    const auto with_origin = [&](const std::string& origin) {
        std::vector<std::pair<std::string, std::string>> h{{"Authorization", "Bearer " + u.token}};
        if (!origin.empty()) {
            h.emplace_back("Origin", origin);
        }
        return ws_connect(server, "/api/v1/ws", h).status;
    };
    const std::string own = "http://" + server.host() + ":" + std::to_string(server.port());
    CHECK(with_origin("") == 101);
    CHECK(with_origin(own) == 101);
    CHECK(with_origin("https://app.example") == 101);
    CHECK(with_origin("https://app.example:443") == 101);
    CHECK(with_origin("https://evil.example") == 403);
    CHECK(with_origin("https://" + server.host() + ":" + std::to_string(server.port())) == 403);
    CHECK(with_origin("http://" + server.host() + ":1") == 403);
    CHECK(with_origin("null") == 403);
    // A refused origin learns nothing about the token: a bad one is 403 too.
    auto bad = ws_connect(server, "/api/v1/ws", {{"Authorization", "Bearer nope"}, {"Origin", "https://evil.example"}});
    CHECK(bad.status == 403);
    CHECK(metric(server, "monochat_connections_refused_total", {{"reason", "origin"}}) == 5);
}

TEST_CASE("a WebSocket closes with 4001 when its token expires", "[integration][edge]") {
    // Tokens live 3 s; the heartbeat (30 s) is far off, so the close comes from the expiry.
    server_process server(rest_test_config({{"auth", {{"token_ttl_s", 3}}}}));
    server.start();
    http_client http(server.host(), server.port());
    const auto u = register_user(http, unique_name("expiry"));
    const auto opened = std::chrono::steady_clock::now();
    auto a = ws_connect(server, "/api/v1/ws", {{"Authorization", "Bearer " + u.token}});
    REQUIRE(a.status == 101);
    CHECK(read_frame(a)["type"] == "hello");
    beast::flat_buffer b;
    const auto ec = read_for(a, b, 10000ms);
    CHECK(ec == websocket::error::closed);
    CHECK(a.ws->reason().code == 4001);
    CHECK(std::chrono::steady_clock::now() - opened < 8s);
    CHECK(metric(server, "monochat_ws_token_ended_total") == 1);
}
