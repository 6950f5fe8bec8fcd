// Outgoing webhooks (issue 21; docs/integrations.md) against the real binary and a loopback
// receiver the test runs: every message of a followed conversation arrives in seq order with a
// valid signature; a 500 is retried until a 200; a receiver failing past webhooks.max_retry_s
// gets the message dropped (and counted); a receiver down for 30 s gets what was sent meanwhile,
// in order, once it is back; a receiver down across a server restart gets what
// was pending after the restart, and nothing already delivered again; refused addresses are
// 400 at registration and refused again at delivery. Membership events: a receiver for them
// gets a group's messages and its joins, renames and leaves interleaved in the order they
// happened, a receiver for messages only gets none of them, other groups' changes are
// filtered out, and events pending while the receiver is down arrive in order after a restart.
// One server for the whole story (the suite's time budget), with short retry settings.

#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "rest_test_support.hpp"
#include "support/http_receiver.hpp"
#include "support/prometheus.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct delivery {
    std::uint64_t seq = 0;
    std::string text;
    int answered = 0;
};

// The deliveries a receiver got, in arrival order, each with its signature checked.
std::vector<delivery> checked_deliveries(const http_receiver& r, const std::string& secret,
                                         const std::string& webhook_id) {
    std::vector<delivery> out;
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    for (const auto& req : r.requests()) {
        INFO(req.body);
        CHECK(req.method == "POST");
        CHECK(req.target == "/hook");
        CHECK(req.headers.at("content-type") == "application/json");
        CHECK(req.headers.at("x-monochat-webhook") == webhook_id);
        // X-Monochat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
        const auto& sig = req.headers.at("x-monochat-signature");
        REQUIRE(sig.rfind("t=", 0) == 0);
        const auto comma = sig.find(",v1=");
        REQUIRE(comma != std::string::npos);
        const std::string t = sig.substr(2, comma - 2);
        CHECK(std::abs(std::stoll(t) - now_s) < 300);
        CHECK(sig.substr(comma + 4) == hmac_sha256_hex(secret, t + "." + req.body));
        // A signature made with another key does not match.
        CHECK(sig.substr(comma + 4) != hmac_sha256_hex(secret + "x", t + "." + req.body));
        const auto j = json::parse(req.body);
        CHECK(j["event"] == "message");
        CHECK(j["webhook_id"] == webhook_id);
        const auto& m = j["message"];
        CHECK(req.headers.at("x-monochat-delivery") ==
              webhook_id + ":" + m["conversation_id"].get<std::string>() + ":" +
                  std::to_string(m["seq"].get<std::uint64_t>()));
        out.push_back({m["seq"].get<std::uint64_t>(), m["body"]["text"].get<std::string>(),
                       req.answered});
    }
    return out;
}

std::uint64_t send_text(http_client& http, const account& who, const std::string& cid,
                        const std::string& text) {
    static int n = 0;
    auto r = http.post(api("/conversations/" + cid + "/messages"),
                       {{"client_msg_id", "wh-" + std::to_string(++n)},
                        {"body", {{"type", "text"}, {"text", text}}}},
                       who.token);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["message"]["seq"].get<std::uint64_t>();
}

json webhook_status(http_client& http, const account& ops, const std::string& id) {
    auto r = http.get(api("/admin/webhooks/" + id), ops.token);
    INFO(r.body);
    REQUIRE(r.status == 200);
    return r.json()["webhook"];
}

// A receiver's requests, in arrival order, as parsed bodies: each signature checked, each
// X-Monochat-Delivery as the body names it.
std::vector<json> signed_bodies(const http_receiver& r, const std::string& secret,
                                const std::string& webhook_id) {
    std::vector<json> out;
    for (const auto& req : r.requests()) {
        INFO(req.body);
        CHECK(req.headers.at("x-monochat-webhook") == webhook_id);
        const auto& sig = req.headers.at("x-monochat-signature");
        const auto comma = sig.find(",v1=");
        REQUIRE(comma != std::string::npos);
        CHECK(sig.substr(comma + 4) ==
              hmac_sha256_hex(secret, sig.substr(2, comma - 2) + "." + req.body));
        auto j = json::parse(req.body);
        CHECK(j["webhook_id"] == webhook_id);
        CHECK(req.headers.at("x-monochat-delivery") == j["delivery_id"]);
        j["answered"] = req.answered;
        out.push_back(std::move(j));
    }
    return out;
}

// One delivery in a few words: "message <text>", "member_joined <user ids>",
// "member_left <user ids>", "group_updated <changed>=<name>"; the receiver's 2xx answers only.
std::vector<std::string> story(const std::vector<json>& bodies, const std::string& group) {
    std::vector<std::string> out;
    for (const auto& j : bodies) {
        if (j["answered"].get<int>() / 100 != 2) {
            continue;
        }
        const std::string event = j["event"];
        if (event == "message") {
            out.push_back("message " + j["message"]["body"]["text"].get<std::string>());
            continue;
        }
        INFO(j.dump());
        CHECK(j["conversation_id"] == group);
        CHECK(j["group_id"] == group.substr(6));
        CHECK(j["journal_id"].is_number_unsigned());
        CHECK(j["ts"].get<std::int64_t>() > 1'700'000'000'000);
        CHECK(j["delivery_id"] == j["webhook_id"].get<std::string>() + ":journal:" +
                                      std::to_string(j["journal_id"].get<std::uint64_t>()));
        std::string line = event;
        if (event == "group_updated") {
            line += " " + j["changed"].dump() + "=" + j["group"]["name"].get<std::string>();
        } else {
            for (const auto& u : j["user_ids"]) {
                line += " " + u.get<std::string>();
            }
            if (j.contains("banned_by")) {
                line += " by " + j["banned_by"].get<std::string>();
            }
        }
        out.push_back(line);
    }
    return out;
}

// Polls the webhook's status until `done` holds (a deadline of seconds, never a fixed sleep).
bool status_until(http_client& http, const account& ops, const std::string& id,
                  const std::function<bool(const json&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done(webhook_status(http, ops, id))) {
            return true;
        }
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

}  // namespace

TEST_CASE("webhooks are signed, ordered, retried, dropped, resumed after a restart, and refuse "
          "private addresses",
          "[integration][webhooks]") {
    const auto ops_name = unique_name("ops");
    auto cfg = fast_test_config();
    cfg["auth"]["admins"] = json::array({ops_name});
    cfg["webhooks"] = {{"retry_initial_ms", 100}, {"retry_max_ms", 300}, {"max_retry_s", 4},
                       {"timeout_ms", 2000}};
    server_process server(cfg);
    server.start();
    auto http = std::make_unique<http_client>(server.host(), server.port());
    auto ops = register_user(*http, ops_name);
    auto alice = register_user(*http, unique_name("alice"));
    auto bob = register_user(*http, unique_name("bob"));
    befriend(*http, alice, bob);
    const std::string group = "group:" + create_group(*http, alice, {bob});
    const std::string dm = dm_id(alice, bob);

    // ---- registration: who, and which URLs ----
    const json ok_spec = {{"url", "http://127.0.0.1:9/hook"},
                          {"events", {"message"}},
                          {"conversation_ids", {group}}};
    check_error(http->post(api("/admin/webhooks"), ok_spec), 401, "unauthenticated");
    check_error(http->post(api("/admin/webhooks"), ok_spec, alice.token), 403, "forbidden");
    for (const std::string url :
         {"http://10.0.0.1/hook", "https://10.1.2.3/hook", "https://172.16.5.4/",
          "https://192.168.1.1:8443/x", "https://169.254.169.254/latest/meta-data",
          "https://100.64.0.1/", "https://[fe80::1]/hook", "https://[fd00::1]/",
          "https://[::ffff:10.0.0.1]/", "https://0.0.0.0/", "https://224.0.0.1/",
          "http://8.8.8.8/hook", "http://[2001:4860:4860::8888]/", "ftp://127.0.0.1/",
          "https://user:pw@127.0.0.1/", "https://127.0.0.1/#frag", "127.0.0.1/hook",
          "https://127.0.0.1:0/", "https://127.0.0.1:70000/", "https:///nohost"}) {
        INFO(url);
        json spec = ok_spec;
        spec["url"] = url;
        check_error(http->post(api("/admin/webhooks"), spec, ops.token), 400, "invalid_argument");
    }
    for (const json& bad :
         {json{{"url", "http://127.0.0.1/"}}, json{{"url", "http://127.0.0.1/"}, {"events", json::array()}},
          json{{"url", "http://127.0.0.1/"}, {"events", {"member_joined", "typing"}}},
          json{{"url", "http://127.0.0.1/"}, {"events", "message"}},
          json{{"url", "http://127.0.0.1/"},
               {"events", {"message"}},
               {"conversation_ids", json::array()}},
          json{{"url", "http://127.0.0.1/"},
               {"events", {"message"}},
               {"conversation_ids", {"dm:2:1"}}},
          json{{"events", {"message"}}}}) {
        INFO(bad.dump());
        check_error(http->post(api("/admin/webhooks"), bad, ops.token), 400, "invalid_argument");
    }
    check_error(http->get(api("/admin/webhooks/123"), ops.token), 404, "not_found");

    // A private address passes only while webhooks.allow_private is on, and is checked again
    // at every delivery: turned off afterwards, the delivery is refused without a connection.
    REQUIRE(http->patch(api("/admin/settings"), {{"webhooks.allow_private", true}}, ops.token)
                .status == 200);
    auto priv = http->post(api("/admin/webhooks"),
                           {{"url", "https://10.9.9.9/hook"},
                            {"events", {"message"}},
                            {"conversation_ids", {"world"}}},
                           ops.token);
    INFO(priv.body);
    REQUIRE(priv.status == 201);
    const std::string priv_id = priv.json()["webhook"]["webhook_id"];
    REQUIRE(http->patch(api("/admin/settings"), {{"webhooks.allow_private", false}}, ops.token)
                .status == 200);
    send_text(*http, alice, "world", "to a private address");
    CHECK(status_until(*http, ops, priv_id, [](const json& w) {
        return w["failed"].get<int>() >= 1 && w["last_error"].is_string() &&
               w["last_error"].get<std::string>().find("webhooks.allow_private") !=
                   std::string::npos;
    }));
    CHECK(webhook_status(*http, ops, priv_id)["delivered"] == 0);
    REQUIRE(http->del(api("/admin/webhooks/" + priv_id), ops.token).status == 204);
    check_error(http->del(api("/admin/webhooks/" + priv_id), ops.token), 404, "not_found");

    // ---- delivery: every message of the group, in order, signed ----
    send_text(*http, alice, group, "before the webhook");  // not delivered: it predates it
    auto receiver = std::make_unique<http_receiver>();
    const int receiver_port = receiver->port();
    json spec = ok_spec;
    spec["url"] = receiver->url("/hook");
    auto made = http->post(api("/admin/webhooks"), spec, ops.token);
    INFO(made.body);
    REQUIRE(made.status == 201);
    const std::string secret = made.json()["secret"];
    const std::string id = made.json()["webhook"]["webhook_id"];
    CHECK(secret.size() == 64);
    CHECK(made.json()["webhook"]["conversation_ids"] == json::array({group}));
    const auto listed = http->get(api("/admin/webhooks"), ops.token).json();
    REQUIRE(listed["webhooks"].size() == 1);
    CHECK(listed["webhooks"][0]["webhook_id"] == id);
    CHECK_FALSE(listed["webhooks"][0].contains("secret"));

    std::vector<std::uint64_t> sent;
    for (int i = 0; i < 10; ++i) {
        sent.push_back(send_text(*http, i % 2 == 0 ? alice : bob, group, "m" + std::to_string(i)));
        if (i == 4) {
            send_text(*http, alice, dm, "not followed");
        }
    }
    REQUIRE(receiver->wait_for([](const auto& rs) { return rs.size() >= 10; }));
    {
        const auto got = checked_deliveries(*receiver, secret, id);
        REQUIRE(got.size() == 10);
        for (std::size_t i = 0; i < got.size(); ++i) {
            CHECK(got[i].seq == sent[i]);
            CHECK(got[i].text == "m" + std::to_string(i));
        }
    }
    CHECK(status_until(*http, ops, id, [](const json& w) {
        return w["delivered"] == 10 && w["backlog"] == 0 && !w["last_delivery_at"].is_null();
    }));

    // ---- a 500 is retried with backoff until the receiver takes it ----
    receiver->set_status(500);
    const auto s11 = send_text(*http, alice, group, "m10");
    REQUIRE(receiver->wait_for([](const auto& rs) { return rs.size() >= 12; }));
    CHECK(webhook_status(*http, ops, id)["backlog"] == 1);
    receiver->set_status(200);
    REQUIRE(receiver->wait_for([](const auto& rs) { return rs.back().answered == 200; }));
    {
        const auto got = checked_deliveries(*receiver, secret, id);
        for (std::size_t i = 10; i < got.size(); ++i) {
            CHECK(got[i].seq == s11);
            CHECK(got[i].answered == (i + 1 == got.size() ? 200 : 500));
        }
    }
    auto w = webhook_status(*http, ops, id);
    CHECK(w["delivered"] == 11);
    CHECK(w["failed"].get<int>() >= 2);
    CHECK(w["last_error"].get<std::string>().find("HTTP 500") != std::string::npos);

    // ---- failing past webhooks.max_retry_s (4 s here): dropped, counted, and the next goes ----
    receiver->set_status(503);
    const auto s12 = send_text(*http, alice, group, "m11 is dropped");
    CHECK(status_until(*http, ops, id, [](const json& w) { return w["dropped"] == 1; }));
    receiver->set_status(200);
    const auto s13 = send_text(*http, alice, group, "m12");
    REQUIRE(receiver->wait_for([&](const auto& rs) {
        return !rs.empty() && rs.back().answered == 200 &&
               rs.back().body.find("\"m12\"") != std::string::npos;
    }));
    {
        const auto got = checked_deliveries(*receiver, secret, id);
        std::size_t attempts_of_dropped = 0;
        for (const auto& d : got) {
            if (d.seq == s12) {
                ++attempts_of_dropped;
                CHECK(d.answered == 503);
            }
        }
        CHECK(attempts_of_dropped >= 3);
        CHECK(got.back().seq == s13);
    }
    const auto metrics = parse_prometheus(http->get("/metrics").body);
    CHECK(metrics.value("monochat_webhook_deliveries_total", {{"result", "delivered"}}) >= 12);
    CHECK(metrics.value("monochat_webhook_deliveries_total", {{"result", "failed"}}) >= 5);
    CHECK(metrics.value("monochat_webhook_deliveries_total", {{"result", "dropped"}}) >= 1);
    CHECK(metrics.has("monochat_webhook_backlog"));
    CHECK(metrics.value("monochat_webhook_backlog") == 0);

    // ---- the receiver down for 30 s (connection refused), then back: what was sent during
    // the outage arrives in order, nothing dropped (webhooks.max_retry_s raised live past it) ----
    const auto raised =
        http->patch(api("/admin/settings"), {{"webhooks.max_retry_s", 120}}, ops.token);
    REQUIRE(raised.status == 200);
    receiver.reset();
    const auto o1 = send_text(*http, alice, group, "o1 during the outage");
    const auto o2 = send_text(*http, bob, group, "o2 during the outage");
    std::this_thread::sleep_for(30s);
    {
        const auto during = webhook_status(*http, ops, id);
        CHECK(during["backlog"] == 2);
        CHECK(during["dropped"] == 1);  // only m11, above
        CHECK_FALSE(during["last_error"].is_null());
    }
    receiver = std::make_unique<http_receiver>(receiver_port);
    REQUIRE(receiver->wait_for([](const auto& rs) {
        return !rs.empty() && rs.back().answered == 200 &&
               rs.back().body.find("o2 during the outage") != std::string::npos;
    }));
    {
        const auto got = checked_deliveries(*receiver, secret, id);
        std::vector<std::uint64_t> seqs;
        for (const auto& d : got) {
            seqs.push_back(d.seq);
        }
        CHECK(seqs == std::vector<std::uint64_t>{o1, o2});
    }
    CHECK(status_until(*http, ops, id, [](const json& w) { return w["backlog"] == 0; }));

    // ---- receiver down, server restarted, receiver up again: what was pending arrives ----
    receiver.reset();
    const auto s14 = send_text(*http, alice, group, "m13 while down");
    const auto s15 = send_text(*http, bob, group, "m14 while down");
    CHECK(status_until(*http, ops, id, [](const json& w) { return w["backlog"] == 2; }));
    http.reset();
    const auto stopped = server.stop();
    REQUIRE(stopped.exited);
    CHECK(stopped.code == 0);
    receiver = std::make_unique<http_receiver>(receiver_port);
    server.start();
    http = std::make_unique<http_client>(server.host(), server.port());
    REQUIRE(receiver->wait_for([&](const auto& rs) {
        return !rs.empty() && rs.back().answered == 200 &&
               rs.back().body.find("m14 while down") != std::string::npos;
    }));
    {
        const auto got = checked_deliveries(*receiver, secret, id);
        // In order, both there, and nothing delivered before the restart comes again.
        std::set<std::uint64_t> seqs;
        std::uint64_t previous = 0;
        for (const auto& d : got) {
            CHECK(d.seq >= previous);
            previous = d.seq;
            seqs.insert(d.seq);
            CHECK(d.seq >= s14);
        }
        CHECK(seqs == std::set<std::uint64_t>{s14, s15});
    }
    CHECK(status_until(*http, ops, id, [](const json& w) {
        return w["backlog"] == 0 && w["delivered"] == 2;  // counts since this start
    }));

    // ---- deleted: nothing more goes out ----
    REQUIRE(http->del(api("/admin/webhooks/" + id), ops.token).status == 204);
    check_error(http->get(api("/admin/webhooks/" + id), ops.token), 404, "not_found");
    const auto before = receiver->requests().size();
    send_text(*http, alice, group, "after the delete");
    std::this_thread::sleep_for(300ms);  // a negative: nothing may arrive within a while
    CHECK(receiver->requests().size() == before);

    // ---- membership events, interleaved with the messages in the order they happened ----
    {
        auto r = http->post(api("/admin/webhooks"),
                            {{"url", "http://127.0.0.1/"}, {"events", {"message", "member_kicked"}}},
                            ops.token);
        check_error(r, 400, "invalid_argument");
        CHECK(r.json()["error"]["message"].get<std::string>().find(
                  "message, member_joined, member_left, group_updated") != std::string::npos);
    }
    auto carol = register_user(*http, unique_name("carol"));
    befriend(*http, alice, carol);
    const std::string g2 = create_group(*http, alice, {bob});
    const std::string g3 = create_group(*http, alice, {bob});
    const std::string group2 = "group:" + g2;
    auto events_rx = std::make_unique<http_receiver>();
    const int events_port = events_rx->port();
    http_receiver messages_rx;
    auto made_events = http->post(
        api("/admin/webhooks"),
        {{"url", events_rx->url("/hook")},
         {"events", {"message", "member_joined", "member_left", "group_updated"}},
         {"conversation_ids", {group2}}},
        ops.token);
    INFO(made_events.body);
    REQUIRE(made_events.status == 201);
    const std::string ev_id = made_events.json()["webhook"]["webhook_id"];
    const std::string ev_secret = made_events.json()["secret"];
    CHECK(made_events.json()["webhook"]["events"] ==
          json({"group_updated", "member_joined", "member_left", "message"}));
    auto made_messages = http->post(api("/admin/webhooks"),
                                    {{"url", messages_rx.url("/hook")},
                                     {"events", {"message"}},
                                     {"conversation_ids", {group2}}},
                                    ops.token);
    REQUIRE(made_messages.status == 201);
    const std::string msg_id = made_messages.json()["webhook"]["webhook_id"];
    const std::string msg_secret = made_messages.json()["secret"];

    auto add = [&](const std::string& g, const account& who) {
        auto r = http->post(api("/groups/" + g + "/members"), {{"user_ids", {who.user_id}}},
                            alice.token);
        INFO(r.body);
        REQUIRE(r.status == 200);
    };
    auto rename = [&](const std::string& g, const std::string& name) {
        auto r = http->patch(api("/groups/" + g), {{"name", name}}, alice.token);
        INFO(r.body);
        REQUIRE(r.status == 200);
    };
    auto leave = [&](const std::string& g, const account& who) {
        auto r = http->del(api("/groups/" + g + "/members/" + who.user_id), who.token);
        INFO(r.body);
        REQUIRE(r.status == 204);
    };
    send_text(*http, alice, group2, "e1");
    add(g3, carol);  // another group: filtered out
    add(g2, carol);
    send_text(*http, carol, group2, "e2");
    rename(g3, "elsewhere");
    rename(g2, "renamed");
    leave(g2, carol);
    leave(g3, carol);
    send_text(*http, bob, group2, "e3");
    const std::vector<std::string> want_live{
        "message e1",       "member_joined " + carol.user_id,      "message e2",
        "group_updated [\"name\"]=renamed", "member_left " + carol.user_id, "message e3"};
    REQUIRE(events_rx->wait_for([](const auto& rs) { return rs.size() >= 6; }));
    REQUIRE(messages_rx.wait_for([](const auto& rs) { return rs.size() >= 3; }));
    CHECK(story(signed_bodies(*events_rx, ev_secret, ev_id), group2) == want_live);
    CHECK(story(signed_bodies(messages_rx, msg_secret, msg_id), group2) ==
          std::vector<std::string>{"message e1", "message e2", "message e3"});
    CHECK(status_until(*http, ops, ev_id, [](const json& w) {
        return w["delivered"] == 6 && w["backlog"] == 0;
    }));

    // ---- receiver down, server restarted: the pending events arrive after both are back ----
    events_rx.reset();
    send_text(*http, alice, group2, "e4");
    add(g2, carol);
    send_text(*http, carol, group2, "e5");
    {
        auto r = http->post(api("/groups/" + g2 + "/bans"), {{"user_id", carol.user_id}},
                            alice.token);
        INFO(r.body);
        REQUIRE(r.status / 100 == 2);
    }
    // Two messages and two events wait (the first of them retried meanwhile).
    CHECK(status_until(*http, ops, ev_id, [](const json& w) { return w["backlog"] == 4; }));
    http.reset();
    const auto stopped_again = server.stop();
    REQUIRE(stopped_again.exited);
    CHECK(stopped_again.code == 0);
    events_rx = std::make_unique<http_receiver>(events_port);
    server.start();
    http = std::make_unique<http_client>(server.host(), server.port());
    REQUIRE(events_rx->wait_for([](const auto& rs) {
        return !rs.empty() && rs.back().answered == 200 &&
               rs.back().body.find("member_left") != std::string::npos;
    }));
    CHECK(story(signed_bodies(*events_rx, ev_secret, ev_id), group2) ==
          std::vector<std::string>{"message e4", "member_joined " + carol.user_id, "message e5",
                                   "member_left " + carol.user_id + " by " + alice.user_id});
    CHECK(status_until(*http, ops, ev_id, [](const json& w) {
        return w["backlog"] == 0 && w["delivered"] == 4;
    }));
    REQUIRE(messages_rx.wait_for([](const auto& rs) { return rs.size() >= 5; }));
    CHECK(story(signed_bodies(messages_rx, msg_secret, msg_id), group2) ==
          std::vector<std::string>{"message e1", "message e2", "message e3", "message e4",
                                   "message e5"});
}
