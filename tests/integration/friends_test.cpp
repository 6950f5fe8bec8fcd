// Friends over HTTP (issue 4): requests, answers, the friend list and removal, the rules of
// "Details that clients rely on", and the friend_request / friend_added events on WebSockets.

#include <catch2/catch.hpp>
#include <chrono>

#include "integration/rest_test_support.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;

TEST_CASE("a request is sent, listed, accepted, and both become friends",
          "[integration][friends]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto alice = register_user(http, "alice");
    const auto bob = register_user(http, "bob");
    ws_client bob_ws(server.host(), server.port(), bob.token);
    ws_client alice_ws(server.host(), server.port(), alice.token);

    auto sent = http.post(api("/friends/requests"), {{"user_id", bob.user_id}, {"note", "hi!"}},
                          alice.token);
    REQUIRE(sent.status == 201);
    const auto request = sent.json()["request"];
    CHECK(request["from_user_id"] == alice.user_id);
    CHECK(request["to_user_id"] == bob.user_id);
    CHECK(request["note"] == "hi!");
    CHECK(request["status"] == "pending");
    CHECK(request["ts"].is_number());
    const std::string rid = request["request_id"];

    const auto event = bob_ws.expect("event");
    CHECK(event["event"] == "friend_request");
    CHECK(event["request"] == request);

    auto bob_lists = http.get(api("/friends/requests"), bob.token).json();
    REQUIRE(bob_lists["incoming"].size() == 1);
    CHECK(bob_lists["incoming"][0]["request_id"] == rid);
    CHECK(bob_lists["outgoing"].empty());
    auto alice_lists = http.get(api("/friends/requests"), alice.token).json();
    CHECK(alice_lists["incoming"].empty());
    REQUIRE(alice_lists["outgoing"].size() == 1);

    auto accepted = http.post(api("/friends/requests/" + rid + "/accept"), bob.token);
    REQUIRE(accepted.status == 200);
    CHECK(accepted.json()["request"]["status"] == "accepted");
    CHECK(http.get(api("/friends/requests"), bob.token).json()["incoming"].empty());

    const auto to_alice = alice_ws.expect("event");
    CHECK(to_alice["event"] == "friend_added");
    CHECK(to_alice["user"]["user_id"] == bob.user_id);
    CHECK(to_alice["user"]["online"] == true);
    const auto to_bob = bob_ws.expect("event");
    CHECK(to_bob["event"] == "friend_added");
    CHECK(to_bob["user"]["user_id"] == alice.user_id);

    auto friends = http.get(api("/friends"), alice.token);
    REQUIRE(friends.status == 200);
    REQUIRE(friends.json()["friends"].size() == 1);
    CHECK(friends.json()["friends"][0]["username"] == "bob");
    CHECK(friends.json()["friends"][0]["guest"] == false);

    auto removed = http.del(api("/friends/" + alice.user_id), bob.token);
    CHECK(removed.status == 204);
    CHECK(http.get(api("/friends"), alice.token).json()["friends"].empty());
    check_error(http.del(api("/friends/" + alice.user_id), bob.token), 404, "not_found");
}

TEST_CASE("friend request rules: oneself, unknown, repeats, crossing and answered requests",
          "[integration][friends]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto alice = register_user(http, "alice");
    const auto bob = register_user(http, "bob");
    const auto carol = register_user(http, "carol");

    check_error(http.post(api("/friends/requests"), {{"user_id", alice.user_id}}, alice.token), 400,
                "invalid_argument");
    check_error(http.post(api("/friends/requests"), {{"user_id", "12345"}}, alice.token), 404,
                "not_found");
    check_error(http.post(api("/friends/requests"),
                          {{"user_id", bob.user_id}, {"note", std::string(257, 'n')}}, alice.token),
                400, "invalid_argument");
    check_error(http.post(api("/friends/requests"), {{"user_id", bob.user_id}}), 401,
                "unauthenticated");

    auto first = http.post(api("/friends/requests"), {{"user_id", bob.user_id}}, alice.token);
    REQUIRE(first.status == 201);
    const std::string rid = first.json()["request"]["request_id"];
    // A second pending request to the same user.
    check_error(http.post(api("/friends/requests"), {{"user_id", bob.user_id}}, alice.token), 409,
                "conflict");
    // Only the addressee answers.
    check_error(http.post(api("/friends/requests/" + rid + "/accept"), alice.token), 403,
                "forbidden");
    check_error(http.post(api("/friends/requests/" + rid + "/accept"), carol.token), 403,
                "forbidden");
    // Bob asks Alice back: that accepts hers, and the answer is her request, accepted.
    auto crossing = http.post(api("/friends/requests"), {{"user_id", alice.user_id}}, bob.token);
    REQUIRE(crossing.status == 200);
    CHECK(crossing.json()["request"]["request_id"] == rid);
    CHECK(crossing.json()["request"]["status"] == "accepted");
    CHECK(http.get(api("/friends"), alice.token).json()["friends"].size() == 1);
    // Already friends; answering a request that is no longer pending.
    check_error(http.post(api("/friends/requests"), {{"user_id", bob.user_id}}, alice.token), 409,
                "conflict");
    check_error(http.post(api("/friends/requests/" + rid + "/accept"), bob.token), 409, "conflict");
    check_error(http.post(api("/friends/requests/" + rid + "/reject"), bob.token), 409, "conflict");

    auto to_carol = http.post(api("/friends/requests"), {{"user_id", carol.user_id}}, alice.token);
    REQUIRE(to_carol.status == 201);
    const std::string cid = to_carol.json()["request"]["request_id"];
    auto rejected = http.post(api("/friends/requests/" + cid + "/reject"), carol.token);
    REQUIRE(rejected.status == 200);
    CHECK(rejected.json()["request"]["status"] == "rejected");
    check_error(http.post(api("/friends/requests/" + cid + "/accept"), carol.token), 409,
                "conflict");
    CHECK(http.get(api("/friends/requests"), alice.token).json()["outgoing"].empty());
    // After a rejection a new request may be sent.
    CHECK(http.post(api("/friends/requests"), {{"user_id", carol.user_id}}, alice.token).status ==
          201);

    check_error(http.post(api("/friends/requests/424242/accept"), bob.token), 404, "not_found");
    check_error(http.post(api("/friends/requests/abc/accept"), bob.token), 400, "invalid_argument");
    check_error(http.post(api("/friends/requests/abc/reject"), bob.token), 400, "invalid_argument");
    check_error(http.del(api("/friends/abc"), bob.token), 400, "invalid_argument");
    check_error(http.del(api("/friends/" + carol.user_id), bob.token), 404, "not_found");
}
