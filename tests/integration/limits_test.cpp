// Connection-level limits (issue 10): past each limit the client gets the refusal that
// docs/protocol.md documents and /metrics counts it; clients under the limit are unaffected.
// Per-address limits are shown with client sockets bound to different loopback addresses
// (127.0.0.0/8 is all loopback).

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/prometheus.hpp"
#include "support/server_process.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// A raw TCP connection from a chosen loopback source address.
class raw_conn {
public:
    raw_conn(const std::string& source, const std::string& host, int port) {
        socket_.open(tcp::v4());
        socket_.bind(tcp::endpoint(net::ip::make_address(source), 0));
        socket_.connect(
            tcp::endpoint(net::ip::make_address(host), static_cast<unsigned short>(port)));
    }

    void write(const std::string& bytes) { net::write(socket_, net::buffer(bytes)); }

    // Reads until the server closes the connection or `timeout` passes; `closed` tells which.
    std::string read_until_closed(std::chrono::milliseconds timeout, bool& closed) {
        std::string out;
        char buf[4096];
        closed = false;
        bool done = false;
        std::function<void()> next = [&] {
            socket_.async_read_some(net::buffer(buf),
                                    [&](boost::system::error_code ec, std::size_t n) {
                                        out.append(buf, n);
                                        if (ec) {
                                            closed = ec != net::error::operation_aborted;
                                            done = true;
                                            return;
                                        }
                                        next();
                                    });
        };
        next();
        ioc_.restart();
        ioc_.run_for(timeout);
        if (!done) {
            boost::system::error_code ignored;
            socket_.cancel(ignored);
            ioc_.restart();
            ioc_.run();
        }
        return out;
    }

    std::string exchange(const std::string& bytes, std::chrono::milliseconds timeout = 5000ms) {
        write(bytes);
        bool closed = false;
        return read_until_closed(timeout, closed);
    }

private:
    net::io_context ioc_;
    tcp::socket socket_{ioc_};
};

const std::string healthz = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

int status_of(const std::string& response) {
    if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) {
        return 0;
    }
    return std::stoi(response.substr(9, 3));
}

std::string header_of(const std::string& response, const std::string& name) {
    const auto pos = response.find("\r\n" + name + ": ");
    if (pos == std::string::npos) {
        return {};
    }
    const auto start = pos + name.size() + 4;
    return response.substr(start, response.find("\r\n", start) - start);
}

// The scrape comes from 127.0.0.1 like most test clients, so right after a test filled a limit
// it may be refused itself until the server has released a closed connection: retried.
double refused(const server_process& server, const std::string& reason) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
        try {
            http_client http(server.host(), server.port());
            const auto r = http.get("/metrics");
            if (r.status == 200) {
                return parse_prometheus(r.body)
                    .value("monochat_connections_refused_total", {{"reason", reason}});
            }
        } catch (const std::exception&) {
            if (std::chrono::steady_clock::now() > deadline) {
                throw;
            }
        }
        if (std::chrono::steady_clock::now() > deadline) {
            throw std::runtime_error("/metrics kept being refused");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

// server_process::start() probes /readyz from 127.0.0.1 on a keep-alive connection, which the
// server counts until it has seen that connection's end. Tests of counted limits wait for that
// first, scraping from an address of their own (a Connection: close scrape counts only itself).
void wait_until_only_scrape_open(const server_process& server) {
    const std::string scrape = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const bool quiet = wait_until(
        [&] {
            raw_conn c("127.0.0.9", server.host(), server.port());
            const auto reply = c.exchange(scrape);
            const auto body = reply.find("\r\n\r\n");
            return status_of(reply) == 200 && body != std::string::npos &&
                   parse_prometheus(reply.substr(body + 4)).value("monochat_http_connections") == 1;
        },
        5000ms);
    REQUIRE(quiet);
}

// fast_test_config with the connection-level limits under test set.
nlohmann::json limits_config(nlohmann::json limits,
                             nlohmann::json server = nlohmann::json::object()) {
    auto cfg = fast_test_config();
    cfg["storage"]["engine"] = "memory";
    if (limits.is_object()) {
        cfg["limits"].merge_patch(limits);
    }
    if (server.is_object()) {
        cfg["server"].merge_patch(server);
    }
    return cfg;
}

}  // namespace

TEST_CASE("past limits.max_connections a new connection gets 503 and is counted",
          "[integration][limits]") {
    server_process server(limits_config({{"max_connections", 2}}));
    server.start();
    wait_until_only_scrape_open(server);
    {
        raw_conn a("127.0.0.1", server.host(), server.port());
        raw_conn b("127.0.0.2", server.host(), server.port());
        // Both are accepted and wait for a request; the third connection is one too many.
        REQUIRE(wait_until(
            [&] {
                raw_conn c("127.0.0.3", server.host(), server.port());
                return status_of(c.exchange(healthz)) == 503;
            },
            5000ms));
        raw_conn d("127.0.0.4", server.host(), server.port());
        const auto reply = d.exchange(healthz);
        CHECK(status_of(reply) == 503);
        CHECK(reply.find("\"unavailable\"") != std::string::npos);
    }
    // Once the two are gone, connections are served again, and the refusals were counted.
    REQUIRE(wait_until(
        [&] {
            raw_conn c("127.0.0.1", server.host(), server.port());
            return status_of(c.exchange(healthz)) == 200;
        },
        5000ms));
    CHECK(refused(server, "max_connections") >= 2);
}

TEST_CASE("past limits.max_connections_per_address that address gets 429, others connect",
          "[integration][limits]") {
    server_process server(limits_config({{"max_connections_per_address", 2}}));
    server.start();
    // 127.0.0.6 is used by nothing else here (the start-up probe and the metrics scrape come
    // from 127.0.0.1), so the two open connections are exactly what that address holds.
    const std::string address = "127.0.0.6";
    raw_conn a1(address, server.host(), server.port());
    raw_conn a2(address, server.host(), server.port());
    std::string reply;
    int attempts = 0;
    const bool refused_third = wait_until(
        [&] {
            ++attempts;
            raw_conn a3(address, server.host(), server.port());
            reply = a3.exchange(healthz);
            return status_of(reply) == 429;
        },
        5000ms);
    INFO("attempts: " << attempts << ", last reply: " << reply);
    REQUIRE(refused_third);
    CHECK(reply.find("\"rate_limited\"") != std::string::npos);
    CHECK(header_of(reply, "Retry-After") == "1");

    // Another address is not affected, and neither are the two open connections.
    raw_conn b("127.0.0.2", server.host(), server.port());
    CHECK(status_of(b.exchange(healthz)) == 200);
    CHECK(status_of(a1.exchange(healthz)) == 200);
    // a1 is closed now (Connection: close): the address has room for one again.
    REQUIRE(wait_until(
        [&] {
            raw_conn a4(address, server.host(), server.port());
            return status_of(a4.exchange(healthz)) == 200;
        },
        5000ms));
    CHECK(refused(server, "per_address") >= 1);
}

TEST_CASE("past limits.connection_rate an address gets 429 with Retry-After, others connect",
          "[integration][limits]") {
    // A bucket of 10 that refills once per 100 s: the 11th connection is refused.
    server_process server(limits_config({{"connection_rate", 0.01}, {"connection_burst", 10}}));
    server.start();
    for (int i = 0; i < 10; ++i) {
        raw_conn c("127.0.0.5", server.host(), server.port());
        REQUIRE(status_of(c.exchange(healthz)) == 200);
    }
    raw_conn over("127.0.0.5", server.host(), server.port());
    const auto reply = over.exchange(healthz);
    CHECK(status_of(reply) == 429);
    CHECK(reply.find("\"rate_limited\"") != std::string::npos);
    CHECK(std::stoi(header_of(reply, "Retry-After")) >= 50);

    raw_conn other("127.0.0.6", server.host(), server.port());
    CHECK(status_of(other.exchange(healthz)) == 200);
    // The server's own metrics request comes from 127.0.0.1, which has its own bucket.
    CHECK(refused(server, "connection_rate") == 1);
}

TEST_CASE("a client holding half a request is dropped after request_timeout_ms and counted",
          "[integration][limits]") {
    server_process server(limits_config({}, {{"request_timeout_ms", 300}}));
    server.start();
    raw_conn slow("127.0.0.1", server.host(), server.port());
    const auto started = std::chrono::steady_clock::now();
    slow.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    // Meanwhile a normal client is served.
    raw_conn normal("127.0.0.1", server.host(), server.port());
    CHECK(status_of(normal.exchange(healthz)) == 200);
    bool closed = false;
    const auto got = slow.read_until_closed(5000ms, closed);
    CHECK(closed);
    CHECK(got.empty());
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    // A connection that sends nothing at all is dropped the same way.
    raw_conn silent("127.0.0.1", server.host(), server.port());
    silent.read_until_closed(5000ms, closed);
    CHECK(closed);
    // The server counts after closing: the client may see the close first.
    CHECK(wait_until([&] { return refused(server, "request_timeout") >= 2; }, 3000ms));
}

TEST_CASE("oversized headers and bodies are refused with 431 and 413 and counted",
          "[integration][limits]") {
    server_process server(
        limits_config({}, {{"max_header_bytes", 1024}, {"max_body_bytes", 2048}}));
    server.start();
    raw_conn h("127.0.0.1", server.host(), server.port());
    CHECK(status_of(h.exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                               std::string(4096, 'a') + "\r\n\r\n")) == 431);
    raw_conn b("127.0.0.1", server.host(), server.port());
    CHECK(status_of(
              b.exchange("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n"
                         "Content-Type: application/json\r\n\r\n" +
                         std::string(4096, ' '))) == 413);
    raw_conn fine("127.0.0.1", server.host(), server.port());
    CHECK(status_of(fine.exchange(healthz)) == 200);
    CHECK(refused(server, "header_too_large") == 1);
    CHECK(refused(server, "body_too_large") == 1);
}

TEST_CASE("a frame over limits.max_frame_bytes closes with 1009 and is counted",
          "[integration][limits]") {
    server_process server(limits_config({{"max_frame_bytes", 1024}}));
    server.start();
    http_client http(server.host(), server.port());
    auto u = register_user(http, unique_name("frame"));
    ws_client other(server.host(), server.port(), u.token);
    ws_client big(server.host(), server.port(), u.token);
    big.send_text(std::string(2048, ' ') + "{}");
    REQUIRE(big.wait_closed(5s));
    CHECK(big.close_code() == 1009);
    other.send({{"type", "ping"}, {"id", "still"}});
    CHECK(other.expect("pong")["id"] == "still");
    CHECK(refused(server, "frame_too_large") == 1);
}

TEST_CASE("frames past limits.ws_message_rate get rate_limited, and a flood closes with 1008",
          "[integration][limits]") {
    // A bucket of 5 frames that refills once per 100 s.
    server_process server(limits_config({{"ws_message_rate", 0.01}, {"ws_message_burst", 5}}));
    server.start();
    http_client http(server.host(), server.port());
    auto u = register_user(http, unique_name("flood"));
    ws_client flood(server.host(), server.port(), u.token);
    ws_client calm(server.host(), server.port(), u.token);
    for (int i = 0; i < 5; ++i) {
        flood.send({{"type", "ping"}, {"id", "p" + std::to_string(i)}});
        CHECK(flood.expect("pong")["id"] == "p" + std::to_string(i));
    }
    // The 6th frame is refused with the protocol's rate-limit error, carrying its id.
    flood.send({{"type", "ping"}, {"id", "over"}});
    auto err = flood.expect("error");
    CHECK(err["id"] == "over");
    CHECK(err["code"] == "rate_limited");
    CHECK(err["retry_after_s"].get<int>() >= 1);
    CHECK(flood.pending("pong") == 0);

    // Another connection of the same user from the same address has its own bucket.
    calm.send({{"type", "ping"}, {"id", "calm"}});
    CHECK(calm.expect("pong")["id"] == "calm");

    // Refusals have a bucket of the same size: four more are answered, the next one closes.
    for (int i = 0; i < 4; ++i) {
        flood.send({{"type", "ping"}, {"id", "r" + std::to_string(i)}});
        CHECK(flood.expect("error")["code"] == "rate_limited");
    }
    CHECK_FALSE(flood.wait_closed(200ms));
    flood.send({{"type", "ping"}, {"id", "last straw"}});
    REQUIRE(flood.wait_closed(5s));
    CHECK(flood.close_code() == 1008);

    calm.send({{"type", "ping"}, {"id", "calm2"}});
    CHECK(calm.expect("pong")["id"] == "calm2");
    auto metrics = parse_prometheus(http.get("/metrics").body);
    CHECK(metrics.value("monochat_ws_frames_refused_total", {{"reason", "rate_limited"}}) == 6);
    CHECK(metrics.value("monochat_connections_refused_total", {{"reason", "ws_flood"}}) == 1);
}
