#pragma once
// Shared by the REST integration tests (accounts, friends, groups, conversations, bad input):
// the server configuration they run with and checks of the protocol's error shape.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace monochat::test {

// Cheap hashing and high limits (from api.hpp), and the in-memory engine: these tests are
// about the API, not durability, and start many servers.
inline nlohmann::json rest_test_config(nlohmann::json extra = nlohmann::json::object()) {
    nlohmann::json cfg = fast_test_config();
    cfg["storage"]["engine"] = "memory";
    cfg.merge_patch(extra);
    return cfg;
}

inline std::string api(const std::string& path) { return "/api/v1" + path; }

// `r` is the protocol's error: `status`, and {"error": {"code": code, "message": "..."}}.
inline void check_error(const http_reply& r, int status, const std::string& code) {
    INFO(r.status << " " << r.body);
    CHECK(r.status == status);
    const auto j = nlohmann::json::parse(r.body, nullptr, false);
    REQUIRE(j.is_object());
    REQUIRE(j.contains("error"));
    CHECK(j["error"]["code"] == code);
    CHECK(j["error"]["message"].is_string());
}

}  // namespace monochat::test
