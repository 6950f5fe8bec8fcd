// Real-time messaging (issue 5) against the real binary: durable acks, pushes, gap-free order,
// idempotent retries, sync after being offline, typing, presence, the world room, bad frames.

#include <signal.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <thread>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/prometheus.hpp"
#include "support/server_process.hpp"
#include "support/ws_client.hpp"
#include "support/ws_swarm.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json text_send(const std::string& id, const std::string& cid, const std::string& cmid,
               const std::string& text) {
    return {{"type", "send"},
            {"id", id},
            {"conversation_id", cid},
            {"client_msg_id", cmid},
            {"body", {{"type", "text"}, {"text", text}}}};
}

}  // namespace

TEST_CASE("a send is acked to its connection and pushed to every other connection",
          "[integration][messaging]") {
    two_friends t;
    ws_client a1(t.server.host(), t.server.port(), t.alice.token);
    ws_client a2(t.server.host(), t.server.port(), t.alice.token, {true, 0});  // token in query
    ws_client b1(t.server.host(), t.server.port(), t.bob.token);
    ws_client b2(t.server.host(), t.server.port(), t.bob.token);
    CHECK(a1.hello()["user_id"] == t.alice.user_id);
    CHECK(a1.hello()["heartbeat_ms"] == 30000);
    CHECK(a1.hello()["session_id"].is_string());
    CHECK(a1.hello()["server_time"].is_number());

    a1.send(text_send("r1", t.dm, "c-1", "hello bob"));
    auto ack = a1.expect("ack");
    CHECK(ack["id"] == "r1");
    CHECK(ack["client_msg_id"] == "c-1");
    CHECK(ack["conversation_id"] == t.dm);
    CHECK(ack["seq"] == 1);
    CHECK(ack["message_id"].is_string());
    CHECK(ack["ts"].is_number());

    for (auto* c : {&a2, &b1, &b2}) {
        auto push = c->expect("message");
        const auto& m = push["message"];
        CHECK(m["seq"] == 1);
        CHECK(m["message_id"] == ack["message_id"]);
        CHECK(m["sender_id"] == t.alice.user_id);
        CHECK(m["client_msg_id"] == "c-1");
        CHECK(m["body"] == json{{"type", "text"}, {"text", "hello bob"}});
    }
    // The sending connection got the ack only.
    std::this_thread::sleep_for(200ms);
    CHECK(a1.pending("message") == 0);

    // HTTP history shares the implementation.
    auto history = t.http->get("/api/v1/conversations/" + t.dm + "/messages", t.bob.token);
    REQUIRE(history.status == 200);
    REQUIRE(history.json()["messages"].size() == 1);
    CHECK(history.json()["messages"][0]["message_id"] == ack["message_id"]);
    CHECK(history.json()["has_more"] == false);
}

TEST_CASE("a retried client_msg_id gets the same ack and no second push", "[integration][messaging]") {
    two_friends t;
    ws_client a(t.server.host(), t.server.port(), t.alice.token);
    ws_client b(t.server.host(), t.server.port(), t.bob.token);
    a.send(text_send("1", t.dm, "same", "once"));
    auto first = a.expect("ack");
    b.expect("message");
    // Same client_msg_id, different body and id: the original ack, ts included.
    a.send(text_send("2", t.dm, "same", "twice?"));
    auto second = a.expect("ack");
    CHECK(second["id"] == "2");
    CHECK(second["message_id"] == first["message_id"]);
    CHECK(second["seq"] == first["seq"]);
    CHECK(second["ts"] == first["ts"]);
    // Over HTTP too: 200 with the same message.
    auto again = t.http->post("/api/v1/conversations/" + t.dm + "/messages",
                              {{"client_msg_id", "same"}, {"body", {{"type", "text"}, {"text", "x"}}}},
                              t.alice.token);
    REQUIRE(again.status == 200);
    CHECK(again.json()["message"]["message_id"] == first["message_id"]);
    CHECK(again.json()["message"]["body"]["text"] == "once");
    std::this_thread::sleep_for(300ms);
    CHECK(b.pending("message") == 0);
    auto history = t.http->get("/api/v1/conversations/" + t.dm + "/messages", t.alice.token);
    CHECK(history.json()["messages"].size() == 1);
}

TEST_CASE("concurrent senders in one group get contiguous seqs, pushed in order",
          "[integration][messaging]") {
    server_process server(fast_test_config());
    server.start();
    http_client http(server.host(), server.port());
    std::vector<account> users;
    for (int i = 0; i < 5; ++i) {
        users.push_back(register_user(http, unique_name("member")));
    }
    const auto gid = create_group(http, users[0], {users.begin() + 1, users.end()});
    const std::string cid = "group:" + gid;
    ws_client listener(server.host(), server.port(), users[0].token);

    constexpr int per_sender = 40;
    std::vector<std::thread> senders;
    std::vector<std::vector<std::uint64_t>> seqs(4);
    for (int s = 0; s < 4; ++s) {
        senders.emplace_back([&, s] {
            ws_client c(server.host(), server.port(), users[static_cast<std::size_t>(s) + 1].token);
            for (int i = 0; i < per_sender; ++i) {
                c.send(text_send(std::to_string(i), cid, "m" + std::to_string(s) + "-" + std::to_string(i), "hi"));
            }
            for (int i = 0; i < per_sender; ++i) {
                seqs[static_cast<std::size_t>(s)].push_back(c.expect("ack", 20s)["seq"].get<std::uint64_t>());
            }
        });
    }
    for (auto& t : senders) {
        t.join();
    }
    std::set<std::uint64_t> all;
    for (auto& v : seqs) {
        all.insert(v.begin(), v.end());
    }
    REQUIRE(all.size() == 4 * per_sender);
    CHECK(*all.begin() == 1);
    CHECK(*all.rbegin() == 4 * per_sender);
    for (std::uint64_t expected = 1; expected <= 4 * per_sender; ++expected) {
        auto m = listener.expect("message", 10s);
        REQUIRE(m["message"]["seq"] == expected);
    }
}

TEST_CASE("an offline member gets everything through sync after reconnecting", "[integration][messaging]") {
    two_friends t;
    {
        ws_client b(t.server.host(), t.server.port(), t.bob.token);
        ws_client a(t.server.host(), t.server.port(), t.alice.token);
        a.send(text_send("1", t.dm, "c1", "one"));
        a.expect("ack");
        b.expect("message");
    }
    ws_client a(t.server.host(), t.server.port(), t.alice.token);
    for (int i = 2; i <= 7; ++i) {
        a.send(text_send(std::to_string(i), t.dm, "c" + std::to_string(i), "n" + std::to_string(i)));
        a.expect("ack");
    }
    ws_client b(t.server.host(), t.server.port(), t.bob.token);
    b.send({{"type", "sync"}, {"id", "s"}, {"conversation_id", t.dm}, {"after_seq", 1}, {"limit", 4}});
    auto page = b.expect("sync_result");
    CHECK(page["id"] == "s");
    CHECK(page["conversation_id"] == t.dm);
    REQUIRE(page["messages"].size() == 4);
    CHECK(page["messages"][0]["seq"] == 2);
    CHECK(page["has_more"] == true);
    b.send({{"type", "sync"}, {"id", "s2"}, {"conversation_id", t.dm}, {"after_seq", 5}});
    auto rest = b.expect("sync_result");
    REQUIRE(rest["messages"].size() == 2);
    CHECK(rest["messages"][1]["seq"] == 7);
    CHECK(rest["messages"][1]["body"]["text"] == "n7");
    CHECK(rest["has_more"] == false);

    // History before_seq returns ascending pages with has_more towards older messages.
    auto older = t.http->get("/api/v1/conversations/" + t.dm + "/messages?before_seq=4&limit=2", t.bob.token);
    REQUIRE(older.status == 200);
    REQUIRE(older.json()["messages"].size() == 2);
    CHECK(older.json()["messages"][0]["seq"] == 2);
    CHECK(older.json()["messages"][1]["seq"] == 3);
    CHECK(older.json()["has_more"] == true);
    auto both = t.http->get("/api/v1/conversations/" + t.dm + "/messages?before_seq=4&after_seq=1", t.bob.token);
    CHECK(both.status == 400);
}

TEST_CASE("typing reaches the other member only, and presence reaches friends", "[integration][messaging]") {
    two_friends t;
    ws_client a(t.server.host(), t.server.port(), t.alice.token);
    ws_client a2(t.server.host(), t.server.port(), t.alice.token);
    {
        ws_client b(t.server.host(), t.server.port(), t.bob.token);
        auto online = a.expect("presence");
        CHECK(online["user_id"] == t.bob.user_id);
        CHECK(online["online"] == true);
        a.send({{"type", "typing"}, {"conversation_id", t.dm}});
        auto typing = b.expect("typing");
        CHECK(typing["conversation_id"] == t.dm);
        CHECK(typing["user_id"] == t.alice.user_id);
        std::this_thread::sleep_for(200ms);
        CHECK(a2.pending("typing") == 0);  // never the typer's own connections
    }
    auto offline = a.expect("presence");
    CHECK(offline["user_id"] == t.bob.user_id);
    CHECK(offline["online"] == false);
}

TEST_CASE("a guest chats in the world room with a registered user", "[integration][messaging]") {
    server_process server(fast_test_config());
    server.start();
    http_client http(server.host(), server.port());
    auto g = guest(http, "visitor");
    auto u = register_user(http, unique_name("local"));
    ws_client gc(server.host(), server.port(), g.token);
    ws_client uc(server.host(), server.port(), u.token);
    ws_client lurker(server.host(), server.port(), u.token);  // not subscribed: gets nothing
    for (auto* c : {&gc, &uc}) {
        c->send({{"type", "subscribe"}, {"id", "sub"}, {"conversation_id", "world"}});
        CHECK(c->expect("ok")["id"] == "sub");
    }
    gc.send(text_send("1", "world", "g1", "hello world"));
    CHECK(gc.expect("ack")["conversation_id"] == "world");
    auto m = uc.expect("message");
    CHECK(m["message"]["sender_id"] == g.user_id);
    CHECK(m["message"]["body"]["text"] == "hello world");
    std::this_thread::sleep_for(200ms);
    CHECK(lurker.pending("message") == 0);
    // A guest may not use anything else.
    gc.send(text_send("2", dm_id(g, u), "g2", "psst"));
    CHECK(gc.expect("error")["code"] == "forbidden");
    gc.send({{"type", "subscribe"}, {"id", "x"}, {"conversation_id", "group:1"}});
    CHECK(gc.expect("error")["code"] == "invalid_argument");
    // Unsubscribed connections stop receiving.
    uc.send({{"type", "unsubscribe"}, {"id", "u"}, {"conversation_id", "world"}});
    uc.expect("ok");
    gc.send(text_send("3", "world", "g3", "anyone?"));
    gc.expect("ack");
    std::this_thread::sleep_for(200ms);
    CHECK(uc.pending("message") == 0);
    auto online = http.get("/api/v1/conversations/world/online", g.token);
    REQUIRE(online.status == 200);
    CHECK(online.json()["online"] == 2);
}

TEST_CASE("bad frames get error frames and the connection stays open", "[integration][messaging]") {
    two_friends t;
    ws_client a(t.server.host(), t.server.port(), t.alice.token);
    ws_client b(t.server.host(), t.server.port(), t.bob.token);
    a.send_text("this is not json");
    CHECK(a.expect("error")["code"] == "invalid_argument");
    a.send_text("[1,2,3]");
    CHECK(a.expect("error")["code"] == "invalid_argument");
    a.send({{"type", "dance"}, {"id", "d"}});
    auto unknown = a.expect("error");
    CHECK(unknown["code"] == "invalid_argument");
    CHECK(unknown["id"] == "d");
    a.send_binary("\x01\x02\x03");
    CHECK(a.expect("error")["code"] == "invalid_argument");
    a.send({{"type", "send"}, {"id", "s"}, {"conversation_id", t.dm}, {"client_msg_id", 5}, {"body", {}}});
    CHECK(a.expect("error")["code"] == "invalid_argument");
    a.send(text_send("long", t.dm, std::string(65, 'x'), "hi"));
    CHECK(a.expect("error")["code"] == "invalid_argument");
    a.send(text_send("big", t.dm, "big", std::string(8193, 'x')));
    CHECK(a.expect("error")["code"] == "too_large");
    a.send({{"type", "send"}, {"id", "bt"}, {"conversation_id", t.dm}, {"client_msg_id", "bt"},
            {"body", {{"type", "gif"}}}});
    CHECK(a.expect("error")["code"] == "invalid_argument");
    a.send(text_send("nc", "group:999999", "nc", "hi"));
    CHECK(a.expect("error")["code"] == "not_found");
    a.send(text_send("bad", "nowhere", "bad", "hi"));
    CHECK(a.expect("error")["code"] == "invalid_argument");
    a.send({{"type", "ping"}, {"id", "p"}});
    auto pong = a.expect("pong");
    CHECK(pong["id"] == "p");
    CHECK(pong["server_time"].is_number());
    // Still serving: a real message goes through.
    a.send(text_send("ok", t.dm, "ok", "still here"));
    CHECK(a.expect("ack")["seq"] == 1);
    CHECK(b.expect("message")["message"]["seq"] == 1);
}

TEST_CASE("an oversize frame closes with 1009 and invalid UTF-8 with 1007", "[integration][messaging]") {
    auto cfg = fast_test_config();
    cfg["limits"]["max_frame_bytes"] = 1024;
    server_process server(cfg);
    server.start();
    http_client http(server.host(), server.port());
    auto u = register_user(http, unique_name("big"));
    {
        ws_client c(server.host(), server.port(), u.token);
        c.send_text(std::string(2048, ' ') + "{}");
        REQUIRE(c.wait_closed(5s));
        CHECK(c.close_code() == 1009);
    }
    {
        ws_client c(server.host(), server.port(), u.token);
        c.send_text(std::string("{\"type\":\"ping\",\"id\":\"\xff\xfe\"}"));
        REQUIRE(c.wait_closed(5s));
        CHECK(c.close_code() == 1007);
    }
    ws_client fine(server.host(), server.port(), u.token);
    fine.send({{"type", "ping"}, {"id", "p"}});
    CHECK(fine.expect("pong")["id"] == "p");
}

TEST_CASE("a bad token is refused with 401 before the upgrade", "[integration][messaging]") {
    server_process server(fast_test_config());
    server.start();
    CHECK(ws_client::handshake_status(server.host(), server.port(), "/api/v1/ws") == 401);
    CHECK(ws_client::handshake_status(server.host(), server.port(), "/api/v1/ws?token=nope") == 401);
    CHECK(ws_client::handshake_status(server.host(), server.port(), "/api/v1/ws", "Bearer nope") == 401);
}

TEST_CASE("a silent connection is closed with 4002", "[integration][messaging]") {
    auto cfg = fast_test_config();
    cfg["server"]["heartbeat_ms"] = 200;
    server_process server(cfg);
    server.start();
    http_client http(server.host(), server.port());
    auto u = register_user(http, unique_name("quiet"));
    // A raw client that completes the handshake, then never answers pings.
    namespace net = boost::asio;
    net::io_context ioc;
    net::ip::tcp::socket s(ioc);
    s.connect({net::ip::make_address(server.host()), static_cast<unsigned short>(server.port())});
    const std::string req = "GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                            "Authorization: Bearer " + u.token + "\r\n\r\n";
    net::write(s, net::buffer(req));
    std::string got;
    char buf[4096];
    const auto started = std::chrono::steady_clock::now();
    boost::system::error_code ec;
    // Read until the server closes; the close frame (0x88) carries the code.
    while (!ec && std::chrono::steady_clock::now() - started < 10s) {
        const auto n = s.read_some(net::buffer(buf), ec);
        got.append(buf, n);
        const auto pos = got.find("\x88");
        if (pos != std::string::npos && got.size() >= pos + 4) {
            const int code = (static_cast<unsigned char>(got[pos + 2]) << 8) | static_cast<unsigned char>(got[pos + 3]);
            CHECK(code == 4002);
            CHECK(std::chrono::steady_clock::now() - started < 5s);
            return;
        }
    }
    FAIL("no close frame received");
}

namespace {
// A raw WebSocket client's handshake and frames, for what ws_client cannot send.
std::string raw_upgrade(const std::string& token, const std::string& version = "13",
                        const std::string& key = "dGhlIHNhbXBsZSBub25jZQ==") {
    return "GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: " + version +
           "\r\nAuthorization: Bearer " + token + "\r\n\r\n";
}

std::string masked_text(const std::string& payload) {
    std::string f{static_cast<char>(0x81), static_cast<char>(0x80 | payload.size())};
    const char mask[4] = {1, 2, 3, 4};
    f.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) {
        f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    }
    return f;
}

// Everything the server sends until it closes the connection or `limit` passes.
std::string read_until_closed(boost::asio::ip::tcp::socket& s, std::chrono::seconds limit) {
    std::string got;
    char buf[4096];
    boost::system::error_code ec;
    const auto started = std::chrono::steady_clock::now();
    while (!ec && std::chrono::steady_clock::now() - started < limit) {
        const auto n = s.read_some(boost::asio::buffer(buf), ec);
        got.append(buf, n);
    }
    return got;
}

// The code of the close frame in what a server sent after its 101 (0 if none).
int close_code_in(const std::string& got) {
    const auto body = got.find("\r\n\r\n");
    const auto pos = got.find('\x88', body == std::string::npos ? 0 : body + 4);
    if (pos == std::string::npos || got.size() < pos + 4) {
        return 0;
    }
    return (static_cast<unsigned char>(got[pos + 2]) << 8) | static_cast<unsigned char>(got[pos + 3]);
}
}  // namespace

TEST_CASE("the WebSocket handshake and frames follow RFC 6455 to the byte", "[integration][messaging]") {
    server_process server(fast_test_config());
    server.start();
    http_client http(server.host(), server.port());
    auto u = register_user(http, unique_name("rfc"));
    namespace net = boost::asio;
    net::io_context ioc;
    const net::ip::tcp::endpoint at{net::ip::make_address(server.host()),
                                    static_cast<unsigned short>(server.port())};
    SECTION("a version other than 13 gets 426 naming 13") {
        net::ip::tcp::socket s(ioc);
        s.connect(at);
        net::write(s, net::buffer(raw_upgrade(u.token, "8")));
        const auto got = read_until_closed(s, 5s);
        CHECK(got.rfind("HTTP/1.1 426", 0) == 0);
        CHECK(got.find("Sec-WebSocket-Version: 13") != std::string::npos);
    }
    SECTION("a key that is not base64 of 16 bytes gets 400") {
        net::ip::tcp::socket s(ioc);
        s.connect(at);
        net::write(s, net::buffer(raw_upgrade(u.token, "13", "short")));
        CHECK(read_until_closed(s, 5s).rfind("HTTP/1.1 400", 0) == 0);
    }
    SECTION("the accept key is RFC 6455's, and a frame sent right behind the request is read") {
        net::ip::tcp::socket s(ioc);
        s.connect(at);
        // One write: the request and a ping frame behind it, before any answer.
        net::write(s, net::buffer(raw_upgrade(u.token) + masked_text(R"({"type":"ping","id":"early"})")));
        std::string got;
        char buf[4096];
        const auto started = std::chrono::steady_clock::now();
        while (got.find("\"early\"") == std::string::npos && std::chrono::steady_clock::now() - started < 5s) {
            got.append(buf, s.read_some(net::buffer(buf)));
        }
        CHECK(got.rfind("HTTP/1.1 101", 0) == 0);
        CHECK(got.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
        CHECK(got.find(R"("type":"pong")") != std::string::npos);
        CHECK(got.find("\"early\"") != std::string::npos);
    }
    SECTION("an unmasked client frame closes with 1002") {
        net::ip::tcp::socket s(ioc);
        s.connect(at);
        net::write(s, net::buffer(raw_upgrade(u.token)));
        const std::string unmasked = std::string{static_cast<char>(0x81), 2} + "{}";
        net::write(s, net::buffer(unmasked));
        CHECK(close_code_in(read_until_closed(s, 10s)) == 1002);
    }
    SECTION("a client's close is answered with its code and the server closes the TCP connection") {
        net::ip::tcp::socket s(ioc);
        s.connect(at);
        net::write(s, net::buffer(raw_upgrade(u.token)));
        const char close_frame[] = {static_cast<char>(0x88), static_cast<char>(0x82), 0, 0, 0, 0,
                                    static_cast<char>(3000 >> 8), static_cast<char>(3000 & 0xFF)};
        net::write(s, net::buffer(close_frame, sizeof close_frame));
        const auto started = std::chrono::steady_clock::now();
        CHECK(close_code_in(read_until_closed(s, 10s)) == 3000);
        CHECK(std::chrono::steady_clock::now() - started < 5s);  // ended by the server, not the limit
    }
}

TEST_CASE("a client that stops reading is closed with 4008 and others keep chatting",
          "[integration][messaging][slow]") {
    auto cfg = fast_test_config();
    cfg["limits"]["outbox_frames"] = 200;
    cfg["limits"]["outbox_bytes"] = 256 * 1024;
    server_process server(cfg);
    server.start();
    http_client http(server.host(), server.port());
    std::vector<account> users;
    for (int i = 0; i < 3; ++i) {
        users.push_back(register_user(http, unique_name("chat")));
    }
    const auto cid = "group:" + create_group(http, users[0], {users[1], users[2]});
    ws_client slow(server.host(), server.port(), users[2].token, {false, 4096});
    ws_client sender(server.host(), server.port(), users[0].token);
    ws_client reader(server.host(), server.port(), users[1].token);
    slow.pause_reading(true);
    const std::string text(2000, 'x');
    int sent = 0;
    bool closed = false;
    for (; sent < 3000 && !closed; ++sent) {
        sender.send(text_send(std::to_string(sent), cid, "s" + std::to_string(sent), text));
        sender.expect("ack", 10s);
        reader.expect("message", 10s);  // the healthy reader keeps getting every message
        if (sent % 50 == 0) {
            auto metrics = parse_prometheus(http.get("/metrics").body);
            closed = metrics.value("monochat_push_dropped_total") >= 1;
        }
    }
    CHECK(closed);
    slow.pause_reading(false);
    REQUIRE(slow.wait_closed(10s));
    CHECK(slow.close_code() == 4008);
    // After the slow one is gone, the others go on.
    sender.send(text_send("after", cid, "after", "still fine"));
    sender.expect("ack");
    CHECK(reader.expect("message")["message"]["body"]["text"] == "still fine");
}

TEST_CASE("after SIGKILL and a restart nothing acknowledged is lost or doubled and seq continues",
          "[integration][messaging]") {
    two_friends t;
    std::map<std::string, std::string> acked;  // client_msg_id -> message_id
    {
        ws_client a(t.server.host(), t.server.port(), t.alice.token);
        for (int i = 1; i <= 30; ++i) {
            a.send(text_send(std::to_string(i), t.dm, "k" + std::to_string(i), "m" + std::to_string(i)));
        }
        for (int i = 1; i <= 30; ++i) {
            auto ack = a.expect("ack");
            acked[ack["client_msg_id"].get<std::string>()] = ack["message_id"].get<std::string>();
        }
    }
    t.server.kill9();
    t.server.start();
    http_client http(t.server.host(), t.server.port());
    ws_client b(t.server.host(), t.server.port(), t.bob.token);
    b.send({{"type", "sync"}, {"id", "s"}, {"conversation_id", t.dm}, {"after_seq", 0}, {"limit", 200}});
    auto page = b.expect("sync_result");
    REQUIRE(page["messages"].size() == 30);
    std::set<std::string> ids;
    for (std::size_t i = 0; i < 30; ++i) {
        CHECK(page["messages"][i]["seq"] == i + 1);
        ids.insert(page["messages"][i]["message_id"].get<std::string>());
    }
    std::set<std::string> acked_ids;
    for (const auto& [cmid, id] : acked) {
        acked_ids.insert(id);
    }
    CHECK(ids == acked_ids);
    // A retry after the restart is still idempotent, and new messages continue the seq.
    ws_client a(t.server.host(), t.server.port(), t.alice.token);
    a.send(text_send("r", t.dm, "k5", "again"));
    CHECK(a.expect("ack")["message_id"] == acked["k5"]);
    a.send(text_send("n", t.dm, "new", "next"));
    CHECK(a.expect("ack")["seq"] == 31);
}

TEST_CASE("a 2000-member public group: every member gets every message once, in order",
          "[integration][messaging][large]") {
    server_process server(fast_test_config());
    server.start();
    http_client http(server.host(), server.port());
    constexpr std::size_t members = 2000;
    constexpr int senders = 4;
    constexpr int per_sender = 5;
    auto owner = register_user(http, unique_name("owner"));
    const auto gid = create_group(http, owner, {}, true);
    std::vector<std::string> tokens;
    for (std::size_t i = 0; i < members - 1; ++i) {
        auto u = register_user(http, unique_name("m"));
        REQUIRE(http.post("/api/v1/groups/" + gid + "/join", u.token).status == 200);
        tokens.push_back(u.token);
    }
    tokens.push_back(owner.token);
    ws_swarm swarm(server.host(), server.port());
    swarm.connect(tokens, 120s);
    const std::string cid = "group:" + gid;
    for (int m = 0; m < per_sender; ++m) {
        for (int s = 0; s < senders; ++s) {
            swarm.send(static_cast<std::size_t>(s),
                       text_send("x", cid, "s" + std::to_string(s) + "m" + std::to_string(m), "fan out"));
        }
    }
    // Every member receives every message except its own (its sending connection gets an ack).
    const std::uint64_t total = senders * per_sender;
    REQUIRE(swarm.wait_messages(total - per_sender, 120s));
    std::this_thread::sleep_for(500ms);  // let any duplicate arrive before counting
    for (std::size_t i = 0; i < swarm.size(); ++i) {
        const auto st = swarm.stats_of(i);
        INFO("connection " << i);
        REQUIRE(st.out_of_order == 0);
        REQUIRE(st.duplicates == 0);
        REQUIRE(st.gaps == 0);
        REQUIRE(st.messages == (i < senders ? total - per_sender : total));
        REQUIRE(st.acks == (i < senders ? per_sender : 0));
        REQUIRE(st.errors == 0);
    }
    auto metrics = parse_prometheus(http.get("/metrics").body);
    CHECK(metrics.value("monochat_fanout_jobs_total") == total);
}

TEST_CASE("a read frame sends receipts to the others and the reader's other connections only",
          "[integration][messaging]") {
    two_friends t;
    ws_client a(t.server.host(), t.server.port(), t.alice.token);
    ws_client b1(t.server.host(), t.server.port(), t.bob.token);
    ws_client b2(t.server.host(), t.server.port(), t.bob.token);
    a.send(text_send("1", t.dm, "r1", "read me"));
    a.expect("ack");
    b1.expect("message");
    b2.expect("message");
    b1.send({{"type", "read"}, {"conversation_id", t.dm}, {"seq", 1}});
    auto receipt = a.expect("receipt");
    CHECK(receipt["conversation_id"] == t.dm);
    CHECK(receipt["user_id"] == t.bob.user_id);
    CHECK(receipt["seq"] == 1);
    CHECK(b2.expect("receipt")["seq"] == 1);
    std::this_thread::sleep_for(200ms);
    CHECK(b1.pending("receipt") == 0);
}

TEST_CASE("sends over the rate limit are refused and stored nothing, retries are still answered",
          "[integration][messaging]") {
    auto cfg = fast_test_config();
    cfg["limits"]["send_rate"] = 0.5;
    cfg["limits"]["send_burst"] = 3;
    server_process server(cfg);
    server.start();
    http_client http(server.host(), server.port());
    auto a = register_user(http, unique_name("fast"));
    auto b = register_user(http, unique_name("slow"));
    befriend(http, a, b);
    const auto dm = dm_id(a, b);
    ws_client c(server.host(), server.port(), a.token);
    for (int i = 0; i < 3; ++i) {
        c.send(text_send(std::to_string(i), dm, "b" + std::to_string(i), "burst"));
        c.expect("ack");
    }
    c.send(text_send("x", dm, "over", "one too many"));
    auto refused = c.expect("error");
    CHECK(refused["code"] == "rate_limited");
    CHECK(refused["id"] == "x");
    // A retry of a stored message is answered from the idempotency index, limit or not.
    c.send(text_send("retry", dm, "b1", "burst"));
    CHECK(c.expect("ack")["seq"] == 2);
    auto over_http = http.post("/api/v1/conversations/" + dm + "/messages",
                               {{"client_msg_id", "over2"}, {"body", {{"type", "text"}, {"text", "no"}}}}, a.token);
    CHECK(over_http.status == 429);
    CHECK(!over_http.header("retry-after").empty());
    auto history = http.get("/api/v1/conversations/" + dm + "/messages", a.token);
    CHECK(history.json()["messages"].size() == 3);
}
