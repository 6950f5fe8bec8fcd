// Expiry against the real binary: with a tiny auth.guest_ttl_s and sweep interval, an idle
// guest is purged (its token stops working, its world message stays, its profile reads
// "Deleted user"), while a guest that keeps making requests and one with a live connection
// are kept.

#include <catch2/catch.hpp>
#include <thread>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/prometheus.hpp"
#include "support/server_process.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json expiry_config() {
    json cfg = fast_test_config();
    cfg["auth"]["guest_ttl_s"] = 3;
    cfg["auth"]["sweep_interval_s"] = 1;
    cfg["auth"]["sweep_batch"] = 1;  // several batches per sweep
    return cfg;
}

}  // namespace

TEST_CASE("an idle guest is purged, its messages stay, active and connected guests stay",
          "[integration][expiry]") {
    server_process server(expiry_config());
    server.start();
    http_client http(server.host(), server.port());
    const account member = register_user(http, unique_name("member"));
    const account idle = guest(http, "idle visitor");
    const account active = guest(http, "busy visitor");
    const account connected = guest(http, "quiet visitor");
    ws_client live(server.host(), server.port(), connected.token);

    const auto started = std::chrono::steady_clock::now();  // before the idle guest's last request
    auto sent = http.post("/api/v1/conversations/world/messages",
                          {{"client_msg_id", "idle-1"}, {"body", {{"type", "text"}, {"text", "hi"}}}},
                          idle.token);
    REQUIRE(sent.status == 201);

    // The active guest keeps asking; the idle one is silent (a request with its token would be
    // activity), so the member watches its profile until it reads as deleted.
    bool purged = false;
    while (std::chrono::steady_clock::now() - started < 20s) {
        REQUIRE(http.get("/api/v1/me", active.token).status == 200);
        auto profile = http.get("/api/v1/users/" + idle.user_id, member.token);
        REQUIRE(profile.status == 200);
        if (profile.json()["user"].value("deleted", false)) {
            purged = true;
            break;
        }
        std::this_thread::sleep_for(200ms);
    }
    REQUIRE(purged);
    // Not before its TTL.
    CHECK(std::chrono::steady_clock::now() - started >= 3s);
    CHECK(http.get("/api/v1/me", idle.token).status == 401);
    // More than a TTL of activity: the active and the connected guest outlive several sweeps.
    const auto kept_since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - kept_since < 4s) {
        REQUIRE(http.get("/api/v1/me", active.token).status == 200);
        std::this_thread::sleep_for(200ms);
    }
    CHECK(http.get("/api/v1/me", connected.token).status == 200);
    CHECK_FALSE(live.wait_closed(10ms));

    // The purged guest reads as a deleted user; its message is still in world.
    auto profile = http.get("/api/v1/users/" + idle.user_id, member.token);
    REQUIRE(profile.status == 200);
    CHECK(profile.json()["user"] == json{{"user_id", idle.user_id},
                                         {"deleted", true},
                                         {"display_name", "Deleted user"}});
    auto history = http.get("/api/v1/conversations/world/messages", member.token);
    REQUIRE(history.status == 200);
    const json page = history.json();
    bool found = false;
    for (const auto& m : page["messages"]) {
        if (m["sender_id"] == idle.user_id && m["body"]["text"] == "hi") {
            found = true;
        }
    }
    CHECK(found);
    // The guests that stayed are still guests as before.
    auto kept = http.get("/api/v1/users/" + active.user_id, member.token);
    REQUIRE(kept.status == 200);
    CHECK(kept.json()["user"]["guest"] == true);
    CHECK_FALSE(kept.json()["user"].contains("deleted"));

    auto metrics = parse_prometheus(http.get("/metrics").body);
    CHECK(metrics.value("monochat_expired_purged_total", {{"kind", "guest"}}) == 1);
}
