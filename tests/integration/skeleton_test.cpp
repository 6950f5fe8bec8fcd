// The skeleton's promises (issue 2): health, readiness, metrics, configuration errors, HTTP
// limits and a graceful stop, all against the real binary.

#include <signal.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "support/http_client.hpp"
#include "support/prometheus.hpp"
#include "support/server_process.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;

TEST_CASE("a started server answers healthz, readyz and metrics", "[integration][skeleton]") {
    server_process server;
    server.start();
    http_client http(server.host(), server.port());

    auto health = http.get("/healthz");
    CHECK(health.status == 200);
    CHECK(health.json() == nlohmann::json{{"status", "ok"}});
    CHECK(health.header("content-type") == "application/json");

    auto ready = http.get("/readyz");
    CHECK(ready.status == 200);

    auto metrics = http.get("/metrics");
    REQUIRE(metrics.status == 200);
    CHECK(metrics.header("content-type").rfind("text/plain", 0) == 0);
    const auto doc = parse_prometheus(metrics.body);
    // The requests above were counted under their route template.
    CHECK(doc.value("monochat_http_requests_total", {{"route", "/healthz"}, {"code", "200"}}) == 1);
    CHECK(doc.families.at("monochat_http_request_duration_seconds").type == "histogram");
    CHECK(doc.value("monochat_build_info") == 1);
}

TEST_CASE("the listening address is logged with the ephemeral port", "[integration][skeleton]") {
    server_process server;
    server.start();
    CHECK(server.port() > 0);
    CHECK(server.log().find("msg=listening addr=127.0.0.1:" + std::to_string(server.port())) !=
          std::string::npos);
}

TEST_CASE("unknown routes, wrong methods and bad targets get the protocol's error shape",
          "[integration][skeleton]") {
    server_process server;
    server.start();
    http_client http(server.host(), server.port());

    auto missing = http.get("/api/v1/no/such/route");
    CHECK(missing.status == 404);
    CHECK(missing.json()["error"]["code"] == "not_found");

    auto wrong = http.request("DELETE", "/healthz");
    CHECK(wrong.status == 405);
    CHECK(wrong.json()["error"]["code"] == "method_not_allowed");
    CHECK(wrong.header("allow") == "GET");

    auto bad_escape = http.get("/api/v1/users/%zz");
    CHECK(bad_escape.status == 400);
    CHECK(bad_escape.json()["error"]["code"] == "invalid_argument");

    // The server keeps serving after each of them.
    CHECK(http.get("/healthz").status == 200);
}

TEST_CASE("a body over the limit gets 413 and a huge header block 431", "[integration][skeleton]") {
    server_process server(nlohmann::json{{"server", {{"max_body_bytes", 2048}}}});
    server.start();
    http_client http(server.host(), server.port());

    auto big = http.request("POST", "/api/v1/auth/login", std::string(4096, 'x'));
    CHECK(big.status == 413);
    CHECK(big.json()["error"]["code"] == "too_large");

    auto huge_header = http.request("GET", "/healthz", std::nullopt, {},
                                    {{"X-Padding", std::string(20 * 1024, 'a')}});
    CHECK(huge_header.status == 431);

    CHECK(http.get("/healthz").status == 200);
}

TEST_CASE("malformed HTTP gets 400 and the server keeps serving", "[integration][skeleton]") {
    server_process server;
    server.start();
    const auto reply = raw_exchange(server.host(), server.port(), "GARBAGE\r\n\r\n");
    CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
    http_client http(server.host(), server.port());
    CHECK(http.get("/healthz").status == 200);
}

TEST_CASE("a client that holds half a request is dropped after the request timeout",
          "[integration][skeleton]") {
    server_process server(nlohmann::json{{"server", {{"request_timeout_ms", 300}}}});
    server.start();
    namespace net = boost::asio;
    net::io_context ioc;
    net::ip::tcp::socket s(ioc);
    s.connect({net::ip::make_address(server.host()), static_cast<unsigned short>(server.port())});
    net::write(s, net::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n")));
    const auto started = std::chrono::steady_clock::now();
    char buf[256];
    boost::system::error_code ec;
    s.read_some(net::buffer(buf), ec);  // blocks until the server closes
    const auto waited = std::chrono::steady_clock::now() - started;
    CHECK(ec);  // closed by the server, not answered
    CHECK(waited < 5s);
    http_client http(server.host(), server.port());
    CHECK(http.get("/healthz").status == 200);
}

TEST_CASE("SIGTERM stops the server with exit code 0 within 10 seconds", "[integration][skeleton]") {
    server_process server;
    server.start();
    // An idle keep-alive connection must not hold the stop up.
    http_client idle(server.host(), server.port());
    REQUIRE(idle.get("/healthz").status == 200);
    const auto started = std::chrono::steady_clock::now();
    const auto info = server.stop(10s);
    REQUIRE(info.exited);
    CHECK(info.code == 0);
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    CHECK(server.log().find("msg=stopped") != std::string::npos);
}

TEST_CASE("SIGINT stops the server like SIGTERM", "[integration][skeleton]") {
    server_process server;
    server.start();
    server.signal(SIGINT);
    const auto info = server.wait(10s);
    REQUIRE(info.exited);
    CHECK(info.code == 0);
}

TEST_CASE("readyz answers 503 while draining", "[integration][skeleton]") {
    server_process server(nlohmann::json{{"server", {{"drain_delay_ms", 3000}}}});
    server.start();
    http_client http(server.host(), server.port());
    REQUIRE(http.get("/readyz").status == 200);
    server.signal(SIGTERM);
    CHECK(wait_until([&] { return http.get("/readyz").status == 503; }, 2000ms));
    CHECK(http.get("/healthz").status == 200);  // alive, but not ready
    const auto info = server.wait(10s);
    REQUIRE(info.exited);
    CHECK(info.code == 0);
}

TEST_CASE("an unknown configuration key stops the start and is named", "[integration][config]") {
    temp_dir dir;
    const auto path = (dir.path() / "bad.json").string();
    {
        std::ofstream(path) << R"({"server": {"port": 0, "prot": 1}})";
    }
    const auto r = run_monochat({"--config", path});
    REQUIRE(r.exit.exited);
    CHECK(r.exit.code != 0);
    CHECK(r.output.find("server.prot") != std::string::npos);
    CHECK(r.output.find("unknown key") != std::string::npos);
}

TEST_CASE("a value of the wrong type stops the start and is named", "[integration][config]") {
    temp_dir dir;
    const auto path = (dir.path() / "bad.json").string();
    {
        std::ofstream(path) << R"({"limits": {"send_rate": "fast"}})";
    }
    const auto r = run_monochat({"--config", path});
    REQUIRE(r.exit.exited);
    CHECK(r.exit.code != 0);
    CHECK(r.output.find("limits.send_rate") != std::string::npos);
}

TEST_CASE("port 70000 stops the start and is named", "[integration][config]") {
    temp_dir dir;
    const auto path = (dir.path() / "bad.json").string();
    {
        std::ofstream(path) << R"({"server": {"port": 70000}})";
    }
    const auto r = run_monochat({"--config", path});
    REQUIRE(r.exit.exited);
    CHECK(r.exit.code != 0);
    CHECK(r.output.find("server.port: 70000 is outside 0..65535") != std::string::npos);

    const auto env = run_monochat({"--print-config"}, {{"MONOCHAT_SERVER_PORT", "70000"}});
    REQUIRE(env.exit.exited);
    CHECK(env.exit.code != 0);
    CHECK(env.output.find("MONOCHAT_SERVER_PORT") != std::string::npos);
}

TEST_CASE("print-config shows the effective configuration with overrides", "[integration][config]") {
    const auto r = run_monochat({"--print-config"}, {{"MONOCHAT_LIMITS_SEND_RATE", "100"}});
    REQUIRE(r.exit.exited);
    REQUIRE(r.exit.code == 0);
    const auto cfg = nlohmann::json::parse(r.output);
    CHECK(cfg["limits"]["send_rate"] == 100);
    CHECK(cfg["server"]["port"] == 8080);
    CHECK(cfg["server"]["host"] == "127.0.0.1");
    CHECK(cfg["storage"]["data_dir"] == "./data");
}

TEST_CASE("the example configuration file is valid and complete", "[integration][config]") {
    const auto r = run_monochat({"--config", MONOCHAT_SOURCE_DIR "/config/monochat.json", "--print-config"});
    REQUIRE(r.exit.exited);
    REQUIRE(r.exit.code == 0);
    // Every key of the effective configuration appears in the example.
    std::ifstream in(MONOCHAT_SOURCE_DIR "/config/monochat.json");
    const auto example = nlohmann::json::parse(in, nullptr, true, true);
    const auto effective = nlohmann::json::parse(r.output);
    CHECK(example.flatten().size() == effective.flatten().size());
}

TEST_CASE("the Docker configuration listens on every address and keeps data in /data",
          "[integration][config]") {
    const auto r = run_monochat({"--config", MONOCHAT_SOURCE_DIR "/config/docker.json", "--print-config"});
    REQUIRE(r.exit.exited);
    REQUIRE(r.exit.code == 0);
    const auto cfg = nlohmann::json::parse(r.output);
    CHECK(cfg["server"]["host"] == "0.0.0.0");
    CHECK(cfg["server"]["port"] == 8080);
    CHECK(cfg["storage"]["data_dir"] == "/data");
}

TEST_CASE("docs/configuration.md lists every key", "[integration][config]") {
    const auto r = run_monochat({"--config-reference"});
    REQUIRE(r.exit.exited);
    REQUIRE(r.exit.code == 0);
    std::ifstream in(MONOCHAT_SOURCE_DIR "/docs/configuration.md");
    const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream lines(r.output);
    std::string line;
    int keys = 0;
    while (std::getline(lines, line)) {
        if (line.rfind("| `", 0) == 0) {
            ++keys;
            INFO(line);
            CHECK(doc.find(line) != std::string::npos);
        }
    }
    CHECK(keys > 30);
}

TEST_CASE("the version option prints the version", "[integration][config]") {
    const auto r = run_monochat({"--version"});
    REQUIRE(r.exit.exited);
    CHECK(r.exit.code == 0);
    CHECK(r.output.rfind("monochat ", 0) == 0);
}
