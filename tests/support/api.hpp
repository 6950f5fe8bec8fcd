#pragma once
// Protocol-level helpers for integration tests: accounts, friendships and groups through the
// real HTTP API, failing the test (by throwing) when the server answers otherwise than the
// protocol says.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace monochat::test {

struct account {
    std::string user_id;
    std::string username;
    std::string token;
};

// The config overrides every messaging test wants: cheap password hashing (registration is
// not what is tested) and limits that do not get in the way.
nlohmann::json fast_test_config();

account register_user(http_client& http, const std::string& username,
                      const std::string& password = "correct horse battery");
account guest(http_client& http, const std::string& display_name = "visitor");
void befriend(http_client& http, const account& a, const account& b);
// Creates a group owned by `owner` with `members`, befriending each with the owner first
// unless they are friends already (members come only from friends); returns the group id.
std::string create_group(http_client& http, const account& owner,
                         const std::vector<account>& members, bool is_public = false);
std::string dm_id(const account& a, const account& b);

// A unique username prefix per test run, so parallel tests never collide.
std::string unique_name(const std::string& base);

// A running server (fast_test_config) with two registered friends and their direct chat.
struct two_friends {
    server_process server{fast_test_config()};
    std::unique_ptr<http_client> http;
    account alice;
    account bob;
    std::string dm;

    two_friends() {
        server.start();
        http = std::make_unique<http_client>(server.host(), server.port());
        alice = register_user(*http, unique_name("alice"));
        bob = register_user(*http, unique_name("bob"));
        befriend(*http, alice, bob);
        dm = dm_id(alice, bob);
    }
};

}  // namespace monochat::test
