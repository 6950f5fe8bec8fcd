// TLS (issue 11): HTTPS and WSS on the listening port with a self-signed certificate made in
// the test, plain and TLS on one port when allowed, a renewed certificate picked up by a reload
// while open connections stay, and the TLS handshake timeout.

#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/prometheus.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_client.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;

namespace {

// A server whose certificate and key live in files the test can replace.
struct tls_server {
    temp_dir dir;
    std::string cert_path = dir.str() + "/cert.pem";
    std::string key_path = dir.str() + "/key.pem";
    test_certificate cert;
    std::unique_ptr<server_process> server;

    explicit tls_server(bool allow_plain, nlohmann::json server_extra = nlohmann::json::object()) {
        cert = make_self_signed("monochat test", 1);
        write_text_file(cert_path, cert.cert_pem);
        write_text_file(key_path, cert.key_pem);
        auto cfg = fast_test_config();
        cfg["storage"]["engine"] = "memory";
        cfg["server"]["tls"] = {
            {"cert_file", cert_path}, {"key_file", key_path}, {"allow_plain", allow_plain}};
        cfg["server"].merge_patch(server_extra);
        server = std::make_unique<server_process>(cfg);
        const std::string trusted = cert.cert_pem;
        server->ready_probe = [trusted](const std::string& host, int port) {
            return https_request(host, port, trusted, "GET", "/readyz", std::nullopt, {}, 2000ms)
                       .status == 200;
        };
        server->start();
    }

    https_reply get(const std::string& target, const std::string& trusted) const {
        return https_request(server->host(), server->port(), trusted, "GET", target);
    }
    https_reply get(const std::string& target) const { return get(target, cert.cert_pem); }

    account register_user(const std::string& name) const {
        auto r = https_request(
            server->host(), server->port(), cert.cert_pem, "POST", "/api/v1/auth/register",
            nlohmann::json{{"username", name}, {"password", "correct horse"}}.dump());
        REQUIRE(r.status == 201);
        const auto j = r.json();
        return {j["user"]["user_id"].get<std::string>(), name, j["token"].get<std::string>()};
    }
};

double refused(const tls_server& t, const std::string& reason) {
    return parse_prometheus(t.get("/metrics").body)
        .value("monochat_connections_refused_total", {{"reason", reason}});
}

}  // namespace

TEST_CASE("HTTPS and WSS work with a self-signed certificate made in the test",
          "[integration][tls]") {
    tls_server t(false);
    CHECK(t.server->log().find("tls=on") != std::string::npos);

    auto health = t.get("/healthz");
    CHECK(health.status == 200);
    CHECK(health.json() == nlohmann::json{{"status", "ok"}});
    CHECK(health.peer.common_name == "monochat test");
    CHECK(health.peer.serial == 1);

    // A whole exchange over TLS: register, open a WSS session, send, read back by HTTPS.
    auto alice = t.register_user(unique_name("tls"));
    wss_client ws(t.server->host(), t.server->port(), alice.token, t.cert.cert_pem);
    CHECK(ws.hello()["user_id"] == alice.user_id);
    CHECK(ws.peer().serial == 1);
    ws.send({{"type", "ping"}, {"id", "p1"}});
    CHECK(ws.expect("pong")["id"] == "p1");
    ws.send({{"type", "send"},
             {"id", "s1"},
             {"conversation_id", "world"},
             {"client_msg_id", "c1"},
             {"body", {{"type", "text"}, {"text", "over tls"}}}});
    const auto ack = ws.expect("ack");
    CHECK(ack["seq"].get<int>() >= 1);
    auto page =
        https_request(t.server->host(), t.server->port(), t.cert.cert_pem, "GET",
                      "/api/v1/conversations/world/messages?limit=5", std::nullopt, alice.token);
    REQUIRE(page.status == 200);
    CHECK(page.body.find("over tls") != std::string::npos);

    // A certificate the client does not trust fails the handshake.
    const auto stranger = make_self_signed("monochat test", 1);
    CHECK_THROWS(t.get("/healthz", stranger.cert_pem));
    // TLS only: a plain request is told to use TLS, and that is counted.
    const auto plain =
        raw_exchange(t.server->host(), t.server->port(),
                     "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(plain.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(plain.find("https://") != std::string::npos);
    CHECK(refused(t, "plain_on_tls") == 1);
    CHECK(refused(t, "tls_handshake") >= 1);
}

TEST_CASE("with allow_plain, plain and TLS clients share the port", "[integration][tls]") {
    tls_server t(true);
    http_client http(t.server->host(), t.server->port());
    CHECK(http.get("/healthz").status == 200);
    auto u = register_user(http, unique_name("both"));
    ws_client plain(t.server->host(), t.server->port(), u.token);
    wss_client secure(t.server->host(), t.server->port(), u.token, t.cert.cert_pem);
    // A message sent over TLS reaches the same user's plain connection.
    secure.send({{"type", "send"},
                 {"id", "s"},
                 {"conversation_id", "world"},
                 {"client_msg_id", "m1"},
                 {"body", {{"type", "text"}, {"text", "mixed"}}}});
    secure.expect("ack");
    plain.send({{"type", "subscribe"}, {"id", "sub"}, {"conversation_id", "world"}});
    plain.expect("ok");
    plain.send({{"type", "ping"}, {"id", "p"}});
    CHECK(plain.expect("pong")["id"] == "p");
    CHECK(t.get("/healthz").status == 200);
}

TEST_CASE("a reload picks up a renewed certificate and refuses a bad one, connections stay",
          "[integration][tls]") {
    tls_server t(false);
    auto u = t.register_user(unique_name("renew"));
    wss_client before(t.server->host(), t.server->port(), u.token, t.cert.cert_pem);
    CHECK(before.peer().serial == 1);

    // Renewal: new key and certificate at the same paths, then SIGHUP.
    const auto renewed = make_self_signed("monochat test", 2);
    write_text_file(t.key_path, renewed.key_pem);
    write_text_file(t.cert_path, renewed.cert_pem);
    t.server->signal(SIGHUP);
    https_reply r;
    // Until the reload is done the old certificate fails verification against the new one.
    REQUIRE(wait_until(
        [&] {
            try {
                r = t.get("/healthz", renewed.cert_pem);
                return r.peer.serial == 2;
            } catch (const std::exception&) {
                return false;
            }
        },
        10000ms));
    CHECK(r.status == 200);
    // The connection opened before the renewal is still there and still works.
    before.send({{"type", "ping"}, {"id", "after renewal"}});
    CHECK(before.expect("pong")["id"] == "after renewal");
    wss_client after(t.server->host(), t.server->port(), u.token, renewed.cert_pem);
    CHECK(after.peer().serial == 2);

    // A broken file is refused: the renewed certificate stays in use.
    write_text_file(t.cert_path, "not a certificate\n");
    t.server->signal(SIGHUP);
    REQUIRE(wait_until(
        [&] { return t.server->log().find("tls certificate refused") != std::string::npos; },
        10000ms));
    CHECK(t.server->log().find("server.tls.cert_file") != std::string::npos);
    // ... and the reload as a whole is refused, not reported as applied.
    REQUIRE(wait_until(
        [&] {
            return t.server->log().find("configuration reload refused") != std::string::npos;
        },
        10000ms));
    CHECK(t.get("/healthz", renewed.cert_pem).peer.serial == 2);
    before.send({{"type", "ping"}, {"id", "still"}});
    CHECK(before.expect("pong")["id"] == "still");
}

TEST_CASE("a client that does not finish its TLS handshake is dropped after handshake_timeout_ms",
          "[integration][tls]") {
    tls_server t(false, {{"handshake_timeout_ms", 300}});
    namespace net = boost::asio;
    const auto started = std::chrono::steady_clock::now();
    // One connection sends nothing, another the first bytes of a ClientHello.
    net::io_context ioc;
    net::ip::tcp::socket silent(ioc);
    net::ip::tcp::socket half(ioc);
    const net::ip::tcp::endpoint ep(net::ip::make_address(t.server->host()),
                                    static_cast<unsigned short>(t.server->port()));
    silent.connect(ep);
    half.connect(ep);
    const unsigned char hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
                                         0x00, 0x01, 0xfc, 0x03, 0x03};
    net::write(half, net::buffer(hello_start));
    // Meanwhile a real client is served.
    CHECK(t.get("/healthz").status == 200);
    for (auto* s : {&silent, &half}) {
        char buf[64];
        boost::system::error_code ec;
        s->read_some(net::buffer(buf), ec);  // returns when the server closes
        CHECK(ec);
    }
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    CHECK(refused(t, "handshake_timeout") == 2);
}

TEST_CASE("a missing certificate file stops the server at start with the key named",
          "[integration][tls]") {
    temp_dir dir;
    const auto r = run_monochat({}, {{"MONOCHAT_SERVER_PORT", "0"},
                                     {"MONOCHAT_STORAGE_ENGINE", "memory"},
                                     {"MONOCHAT_STORAGE_DATA_DIR", dir.str() + "/data"},
                                     {"MONOCHAT_SERVER_TLS_CERT_FILE", dir.str() + "/missing.pem"},
                                     {"MONOCHAT_SERVER_TLS_KEY_FILE", dir.str() + "/missing.key"}});
    REQUIRE(r.exit.exited);
    CHECK(r.exit.code != 0);
    CHECK(r.output.find("server.tls.cert_file") != std::string::npos);
    CHECK(r.output.find("missing.pem") != std::string::npos);
}
