#include "support/api.hpp"

#include <atomic>
#include <stdexcept>
#include <unistd.h>

namespace monochat::test {

namespace {
void expect_status(const http_reply& r, int status, const std::string& what) {
    if (r.status != status) {
        throw std::runtime_error(what + ": expected HTTP " + std::to_string(status) + ", got " +
                                 std::to_string(r.status) + " " + r.body);
    }
}
}  // namespace

nlohmann::json fast_test_config() {
    return {{"auth", {{"argon2_ops", 1}, {"argon2_memory_kib", 64}}},
            {"limits",
             {{"auth_rate", 1000000},
              {"send_rate", 100000},
              {"send_burst", 100000},
              // Tests open many connections from 127.0.0.1 and send frames back to back; the
              // connection-level limits have tests of their own.
              {"max_connections_per_address", 0},
              {"connection_rate", 0},
              {"ws_message_rate", 0}}}};
}

account register_user(http_client& http, const std::string& username, const std::string& password) {
    auto r = http.post("/api/v1/auth/register", {{"username", username}, {"password", password}});
    expect_status(r, 201, "register " + username);
    auto j = r.json();
    return {j["user"]["user_id"].get<std::string>(), username, j["token"].get<std::string>()};
}

account guest(http_client& http, const std::string& display_name) {
    auto r = http.post("/api/v1/auth/guest", {{"display_name", display_name}});
    expect_status(r, 201, "guest");
    auto j = r.json();
    return {j["user"]["user_id"].get<std::string>(), j["user"]["username"].get<std::string>(),
            j["token"].get<std::string>()};
}

void befriend(http_client& http, const account& a, const account& b) {
    auto r = http.post("/api/v1/friends/requests", {{"user_id", b.user_id}}, a.token);
    expect_status(r, 201, "friend request");
    const auto id = r.json()["request"]["request_id"].get<std::string>();
    expect_status(http.post("/api/v1/friends/requests/" + id + "/accept", b.token), 200, "accept");
}

std::string create_group(http_client& http, const account& owner, const std::vector<account>& members,
                         bool is_public) {
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& m : members) {
        // Contract v1.1: members come only from the owner's friends. 409: friends already.
        auto r = http.post("/api/v1/friends/requests", {{"user_id", m.user_id}}, owner.token);
        if (r.status != 409) {
            expect_status(r, 201, "friend request");
            const auto request = r.json()["request"];
            if (request["status"] == "pending") {
                expect_status(http.post("/api/v1/friends/requests/" +
                                            request["request_id"].get<std::string>() + "/accept",
                                        m.token),
                              200, "accept");
            }
        }
        ids.push_back(m.user_id);
    }
    auto r = http.post("/api/v1/groups", {{"name", "test group"}, {"member_ids", ids}, {"public", is_public}},
                       owner.token);
    expect_status(r, 201, "create group");
    return r.json()["group"]["group_id"].get<std::string>();
}

std::string dm_id(const account& a, const account& b) {
    const auto x = std::stoull(a.user_id);
    const auto y = std::stoull(b.user_id);
    return "dm:" + std::to_string(std::min(x, y)) + ":" + std::to_string(std::max(x, y));
}

std::string unique_name(const std::string& base) {
    static std::atomic<int> n{0};
    return base + std::to_string(::getpid() % 100000) + "_" + std::to_string(n++);
}

}  // namespace monochat::test
