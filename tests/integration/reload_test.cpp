// Hot reload (issue 11) against the real binary: SIGHUP re-reads the configuration file; live
// keys take effect on open connections, restart-only keys are reported and kept, and an invalid
// file is refused with the old settings left in place.

#include <csignal>
#include <fstream>
#include <catch2/catch.hpp>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json text_send(const std::string& id, const std::string& cid, const std::string& cmid) {
    return {{"type", "send"},
            {"id", id},
            {"conversation_id", cid},
            {"client_msg_id", cmid},
            {"body", {{"type", "text"}, {"text", "hello " + cmid}}}};
}

// Rewrites the server's config file: the current file with `patch` merged in.
void rewrite_config(const server_process& server, const json& patch) {
    json cfg;
    {
        std::ifstream in(server.config_path());
        in >> cfg;
    }
    cfg.merge_patch(patch);
    std::ofstream out(server.config_path(), std::ios::trunc);
    out << cfg.dump(2);
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

// Sends SIGHUP and waits for the reload's outcome line (the `n`th reload of this run).
void reload_and_wait(server_process& server, const std::string& outcome, std::size_t n) {
    server.signal(SIGHUP);
    REQUIRE(wait_until([&] { return count_of(server.log(), outcome) >= n; }, 10s));
}

struct pair_fixture : two_friends {
    // Sends `n` messages on `ws` and returns how many were acked (the rest got rate_limited).
    int acked_of(ws_client& ws, int n, const std::string& prefix) {
        int acked = 0;
        for (int i = 0; i < n; ++i) {
            const auto id = prefix + std::to_string(i);
            ws.send(text_send(id, dm, unique_name(id)));
            for (;;) {
                auto f = ws.recv(5s);
                REQUIRE(f.has_value());
                if ((*f)["type"] == "ack" && (*f)["id"] == id) {
                    ++acked;
                    break;
                }
                if ((*f)["type"] == "error" && (*f)["id"] == id) {
                    CHECK((*f)["code"] == "rate_limited");
                    break;
                }
            }
        }
        return acked;
    }
};

}  // namespace

TEST_CASE("a reload changes the send rate limit of an open connection without closing it",
          "[integration][reload]") {
    pair_fixture t;
    ws_client a(t.server.host(), t.server.port(), t.alice.token);
    CHECK(t.acked_of(a, 5, "before") == 5);

    // A live key and a key that needs a restart change together.
    rewrite_config(t.server, {{"limits", {{"send_rate", 0.001}, {"send_burst", 2}}},
                              {"storage", {{"max_batch", 7}}}});
    reload_and_wait(t.server, "msg=\"configuration reloaded\"", 1);
    const auto log = t.server.log();
    CHECK(log.find("applied=limits.send_rate,limits.send_burst") != std::string::npos);
    CHECK(log.find("key=storage.max_batch") != std::string::npos);
    CHECK(log.find("needs restart") != std::string::npos);

    CHECK(t.acked_of(a, 4, "after") == 2);  // the new burst, then rate_limited
    CHECK_FALSE(a.wait_closed(200ms));

    // Looser again, still on the same connection.
    rewrite_config(t.server, {{"limits", {{"send_rate", 100000}, {"send_burst", 100000}}}});
    reload_and_wait(t.server, "msg=\"configuration reloaded\"", 2);
    CHECK(t.acked_of(a, 3, "again") == 3);
    CHECK_FALSE(a.wait_closed(100ms));

    const auto metrics = t.http->get("/metrics").body;
    CHECK(metrics.find("monochat_config_reloads_total{result=\"ok\"} 2") != std::string::npos);
}

TEST_CASE("an invalid reload is refused naming the key, and the old limit stays",
          "[integration][reload]") {
    pair_fixture t;
    rewrite_config(t.server, {{"limits", {{"send_rate", 0.001}, {"send_burst", 2}}}});
    reload_and_wait(t.server, "msg=\"configuration reloaded\"", 1);
    ws_client a(t.server.host(), t.server.port(), t.alice.token);

    // Would loosen the limit, but one value is of the wrong type: nothing is applied.
    rewrite_config(t.server,
                   {{"limits", {{"send_rate", "fast"}, {"send_burst", 100000}}}});
    reload_and_wait(t.server, "configuration reload refused", 1);
    CHECK(t.server.log().find("limits.send_rate: expected a number") != std::string::npos);
    CHECK(t.acked_of(a, 4, "x") == 2);
    CHECK_FALSE(a.wait_closed(100ms));

    const auto metrics = t.http->get("/metrics").body;
    CHECK(metrics.find("monochat_config_reloads_total{result=\"refused\"} 1") != std::string::npos);
    CHECK(metrics.find("monochat_config_last_reload_success 0") != std::string::npos);

    // Not JSON at all: also refused, and the server keeps serving.
    {
        std::ofstream out(t.server.config_path(), std::ios::trunc);
        out << "{ not json";
    }
    reload_and_wait(t.server, "configuration reload refused", 2);
    CHECK(t.http->get("/healthz").status == 200);
}
