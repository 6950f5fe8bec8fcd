// Reactions under contract v1.1 (issue 17, "Reactions are unbounded"), against the real binary:
// one emoji per reaction, a limit on distinct emoji, the summary shape with `me` per reader,
// the paged list of reactors, and a message with thousands of reactions that stays small.

#include <algorithm>
#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "integration/rest_test_support.hpp"
#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using nlohmann::json;

namespace {

const std::string thumbs = "\xF0\x9F\x91\x8D";                  // U+1F44D
const std::string thumbs_query = "%F0%9F%91%8D";                // the same, percent-encoded
const std::string heart = "\xE2\x9D\xA4\xEF\xB8\x8F";           // U+2764 U+FE0F
const std::string party = "\xF0\x9F\x8E\x89";                   // U+1F389
const std::string fire = "\xF0\x9F\x94\xA5";                    // U+1F525
const std::string france = "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7";  // regional indicators F R

// A server and guests in `world`, which every guest may read and write.
struct world_fixture {
    server_process server;
    std::unique_ptr<http_client> http;
    int next_id = 0;

    explicit world_fixture(json cfg = fast_test_config()) : server(std::move(cfg)) {
        server.start();
        http = std::make_unique<http_client>(server.host(), server.port());
    }

    http_reply send(http_client& c, const account& who, const json& body) {
        return c.post(api("/conversations/world/messages"),
                      {{"client_msg_id", "c" + std::to_string(next_id++)}, {"body", body}},
                      who.token);
    }
    http_reply send(const account& who, const json& body) { return send(*http, who, body); }

    std::uint64_t send_text(const account& who, const std::string& text) {
        auto r = send(who, {{"type", "text"}, {"text", text}});
        REQUIRE(r.status == 201);
        return r.json()["message"]["seq"].get<std::uint64_t>();
    }

    http_reply react(http_client& c, const account& who, std::uint64_t seq,
                     const std::string& emoji, const std::string& op = "add") {
        return send(c, who,
                    {{"type", "reaction"}, {"target_seq", seq}, {"emoji", emoji}, {"op", op}});
    }
    http_reply react(const account& who, std::uint64_t seq, const std::string& emoji,
                     const std::string& op = "add") {
        return react(*http, who, seq, emoji, op);
    }

    // The message as `reader` sees it in history, and the raw bytes of that history entry.
    json message(std::uint64_t seq, const account& reader, std::string* raw = nullptr) {
        auto r = http->get(
            api("/conversations/world/messages?limit=1&after_seq=" + std::to_string(seq - 1)),
            reader.token);
        REQUIRE(r.status == 200);
        auto page = r.json();
        REQUIRE(page["messages"].size() == 1);
        if (raw != nullptr) {
            *raw = page["messages"][0].dump();
        }
        return page["messages"][0];
    }

    http_reply list(const account& reader, std::uint64_t seq, const std::string& query) {
        return http->get(
            api("/conversations/world/messages/" + std::to_string(seq) + "/reactions" + query),
            reader.token);
    }

    // Every reactor of `emoji`, following `next` with pages of `limit`.
    std::vector<std::string> all_reactors(const account& reader, std::uint64_t seq,
                                          const std::string& emoji_query, int limit) {
        std::vector<std::string> out;
        std::string after;
        for (int pages = 0; pages < 10000; ++pages) {
            auto r = list(reader, seq,
                          "?emoji=" + emoji_query + "&limit=" + std::to_string(limit) +
                              (after.empty() ? "" : "&after=" + after));
            REQUIRE(r.status == 200);
            const auto j = r.json();
            for (const auto& u : j["users"]) {
                out.push_back(u.get<std::string>());
            }
            if (j["next"].is_null()) {
                return out;
            }
            REQUIRE(static_cast<int>(j["users"].size()) == limit);
            after = j["next"].get<std::string>();
            REQUIRE(after == out.back());
        }
        FAIL("the list never ended");
        return out;
    }
};

std::vector<std::string> ids_of(const std::vector<account>& accounts) {
    std::vector<std::string> out;
    for (const auto& a : accounts) {
        out.push_back(a.user_id);
    }
    return out;
}

// Sorted as numbers (user ids are decimal strings of snowflakes).
std::vector<std::string> by_number(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
        return std::stoull(a) < std::stoull(b);
    });
    return ids;
}

}  // namespace

TEST_CASE("a reaction must be one emoji", "[integration][reactions]") {
    world_fixture w;
    const auto sender = guest(*w.http);
    const auto seq = w.send_text(sender, "react to me");
    for (const std::string& bad : {std::string(""), std::string("a"), std::string("ok"),
                                   std::string("1"), thumbs + thumbs, thumbs + "a",
                                   std::string("\xF0\x9F\x87\xAB"),  // half a flag
                                   // a family of six with joiners: 39 bytes
                                   std::string("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"
                                               "\xE2\x80\x8D\xF0\x9F\x91\xA7\xE2\x80\x8D"
                                               "\xF0\x9F\x91\xA6\xE2\x80\x8D\xF0\x9F\x91\xA6"
                                               "\xE2\x80\x8D\xF0\x9F\x91\xA6")}) {
        INFO("emoji: " << bad);
        check_error(w.react(sender, seq, bad), 400, "invalid_argument");
    }
    // Cut UTF-8 cannot even be written as JSON text: the body is refused the same way.
    const std::string cut = R"({"client_msg_id":"cut","body":{"type":"reaction","target_seq":)" +
                            std::to_string(seq) + R"(,"emoji":")" + "\xF0\x9F\x91" +
                            R"(","op":"add"}})";
    check_error(w.http->request("POST", api("/conversations/world/messages"), cut, sender.token),
                400, "invalid_argument");
    // Flags, skin tones, keycaps and ZWJ sequences are one emoji each.
    for (const std::string& good :
         {thumbs, heart, france, std::string("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"),
          std::string("1\xEF\xB8\x8F\xE2\x83\xA3"),
          std::string("\xF0\x9F\x8F\xB3\xEF\xB8\x8F\xE2\x80\x8D\xF0\x9F\x8C\x88")}) {
        INFO("emoji: " << good);
        CHECK(w.react(sender, seq, good).status == 201);
    }
    CHECK(w.message(seq, sender)["reactions"].size() == 6);
}

TEST_CASE("a message holds at most limits.max_reaction_kinds distinct emoji",
          "[integration][reactions]") {
    auto cfg = fast_test_config();
    cfg["limits"]["max_reaction_kinds"] = 3;
    world_fixture w(cfg);
    const auto a = guest(*w.http);
    const auto b = guest(*w.http);
    const auto seq = w.send_text(a, "pick three");
    REQUIRE(w.react(a, seq, thumbs).status == 201);
    REQUIRE(w.react(a, seq, heart).status == 201);
    REQUIRE(w.react(b, seq, party).status == 201);
    auto refused = w.react(b, seq, fire);
    check_error(refused, 409, "conflict");
    // A refused reaction is not stored: the next message takes the next seq.
    CHECK(w.send_text(a, "after") == seq + 4);
    // An emoji the message has already is not a new kind.
    CHECK(w.react(b, seq, thumbs).status == 201);
    CHECK(w.message(seq, a)["reactions"][thumbs]["count"] == 2);
    // Once a kind is gone, a new one fits again.
    REQUIRE(w.react(b, seq, party, "remove").status == 201);
    CHECK(w.react(b, seq, fire).status == 201);
    const auto m = w.message(seq, a);
    CHECK(m["reactions"].size() == 3);
    CHECK(m["reactions"].contains(fire));
    CHECK_FALSE(m["reactions"].contains(party));
}

TEST_CASE("reactions show a count, the first ten users in order and me for each reader",
          "[integration][reactions]") {
    world_fixture w;
    const auto author = guest(*w.http);
    std::vector<account> reactors;
    for (int i = 0; i < 12; ++i) {
        reactors.push_back(guest(*w.http, "r" + std::to_string(i)));
    }
    const auto onlooker = guest(*w.http);
    const auto seq = w.send_text(author, "how was it?");
    for (const auto& r : reactors) {
        REQUIRE(w.react(r, seq, thumbs).status == 201);
    }
    REQUIRE(w.react(reactors[3], seq, thumbs).status == 201);  // again: counted once
    REQUIRE(w.react(author, seq, heart).status == 201);

    const auto first_ten = [&](std::size_t from) {
        json users = json::array();
        for (std::size_t i = from; i < reactors.size() && users.size() < 10; ++i) {
            users.push_back(reactors[i].user_id);
        }
        return users;
    };
    auto m = w.message(seq, reactors[0]);
    REQUIRE(m["reactions"].size() == 2);
    CHECK(m["reactions"][thumbs] == json({{"count", 12}, {"users", first_ten(0)}, {"me", true}}));
    CHECK(m["reactions"][heart] ==
          json({{"count", 1}, {"users", json::array({author.user_id})}, {"me", false}}));
    // The eleventh reactor is not listed, yet sees `me`; the onlooker does not.
    CHECK(w.message(seq, reactors[11])["reactions"][thumbs]["me"] == true);
    CHECK(w.message(seq, onlooker)["reactions"][thumbs]["me"] == false);
    CHECK(w.message(seq, author)["reactions"][heart]["me"] == true);

    // Removal: the first reactor leaves and the eleventh moves up; a remove of a reaction
    // nobody has changes nothing.
    REQUIRE(w.react(reactors[0], seq, thumbs, "remove").status == 201);
    REQUIRE(w.react(onlooker, seq, thumbs, "remove").status == 201);
    m = w.message(seq, reactors[0]);
    CHECK(m["reactions"][thumbs] == json({{"count", 11}, {"users", first_ten(1)}, {"me", false}}));
    REQUIRE(w.react(author, seq, heart, "remove").status == 201);
    CHECK_FALSE(w.message(seq, author)["reactions"].contains(heart));

    // Sync over the WebSocket sees the same shape (both use history's formatting).
    ws_client ws(w.server.host(), w.server.port(), reactors[11].token);
    ws.send({{"type", "sync"}, {"id", "s"}, {"conversation_id", "world"}, {"after_seq", 0}});
    const auto page = ws.expect("sync_result");
    bool seen = false;
    for (const auto& msg : page["messages"]) {
        if (msg["seq"] == seq) {
            seen = true;
            CHECK(msg["reactions"][thumbs]["me"] == true);
        } else {
            CHECK_FALSE(msg.contains("reactions"));  // the operations themselves carry none
        }
    }
    CHECK(seen);
}

TEST_CASE("the reactions route lists every reactor of an emoji, page by page",
          "[integration][reactions]") {
    world_fixture w;
    const auto author = guest(*w.http);
    std::vector<account> reactors;
    for (int i = 0; i < 25; ++i) {
        reactors.push_back(guest(*w.http));
    }
    const auto seq = w.send_text(author, "list us");
    for (const auto& r : reactors) {
        REQUIRE(w.react(r, seq, thumbs).status == 201);
    }
    const auto expected = by_number(ids_of(reactors));
    CHECK(w.all_reactors(author, seq, thumbs_query, 10) == expected);
    CHECK(w.all_reactors(author, seq, thumbs_query, 25) == expected);
    CHECK(w.all_reactors(author, seq, thumbs_query, 7) == expected);
    // No reaction of that emoji: an empty list.
    auto none = w.list(author, seq, "?emoji=%E2%9D%A4%EF%B8%8F");
    REQUIRE(none.status == 200);
    CHECK(none.json() == json({{"users", json::array()}, {"next", nullptr}}));
    // After the last user: empty, no cursor.
    auto past = w.list(author, seq, "?emoji=" + thumbs_query + "&after=" + expected.back());
    REQUIRE(past.status == 200);
    CHECK(past.json()["users"].empty());
    CHECK(past.json()["next"].is_null());

    check_error(w.list(author, seq, ""), 400, "invalid_argument");
    check_error(w.list(author, seq, "?emoji=a"), 400, "invalid_argument");
    check_error(w.list(author, seq, "?emoji=" + thumbs_query + "&limit=0"), 400,
                "invalid_argument");
    check_error(w.list(author, seq, "?emoji=" + thumbs_query + "&after=x"), 400,
                "invalid_argument");
    check_error(w.list(author, seq + 1000, "?emoji=" + thumbs_query), 404, "not_found");
    check_error(w.list(author, 0, "?emoji=" + thumbs_query), 404, "not_found");
    check_error(w.http->get(api("/conversations/world/messages/x/reactions?emoji=" + thumbs_query),
                            author.token),
                400, "invalid_argument");
    CHECK(w.list(account{}, seq, "?emoji=" + thumbs_query).status == 401);
}

TEST_CASE("the reactions route needs the same permission as history", "[integration][reactions]") {
    server_process server(fast_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto owner = register_user(http, unique_name("owner"));
    const auto outsider = register_user(http, unique_name("outsider"));
    const auto cid = "group:" + create_group(http, owner, {});
    auto sent = http.post(api("/conversations/" + cid + "/messages"),
                          {{"client_msg_id", "t"}, {"body", {{"type", "text"}, {"text", "hi"}}}},
                          owner.token);
    REQUIRE(sent.status == 201);
    REQUIRE(
        http.post(api("/conversations/" + cid + "/messages"),
                  {{"client_msg_id", "r"},
                   {"body",
                    {{"type", "reaction"}, {"target_seq", 1}, {"emoji", thumbs}, {"op", "add"}}}},
                  owner.token)
            .status == 201);
    const auto route = api("/conversations/" + cid + "/messages/1/reactions?emoji=" + thumbs_query);
    auto mine = http.get(route, owner.token);
    REQUIRE(mine.status == 200);
    CHECK(mine.json()["users"] == json::array({owner.user_id}));
    const auto history = http.get(api("/conversations/" + cid + "/messages"), outsider.token);
    const auto listed = http.get(route, outsider.token);
    CHECK(history.status == 403);
    check_error(listed, history.status, "forbidden");
}

TEST_CASE("a message with thousands of reactions stays small and exact",
          "[integration][reactions]") {
    world_fixture w;
    constexpr int reactors = 2000;
    constexpr int threads = 8;
    const auto author = guest(*w.http);
    const auto seq = w.send_text(author, "popular");
    std::vector<account> guests(reactors);
    std::mutex failures_mutex;
    std::vector<std::string> failures;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            http_client c(w.server.host(), w.server.port());
            for (int i = t; i < reactors; i += threads) {
                auto g = c.post(api("/auth/guest"), {{"display_name", "g"}});
                if (g.status != 201) {
                    std::lock_guard lock(failures_mutex);
                    failures.push_back("guest: " + g.body);
                    continue;
                }
                const auto j = g.json();
                guests[static_cast<std::size_t>(i)] = {j["user"]["user_id"].get<std::string>(),
                                                       j["user"]["username"].get<std::string>(),
                                                       j["token"].get<std::string>()};
                auto sent = c.post(api("/conversations/world/messages"),
                                   {{"client_msg_id", "x"},
                                    {"body",
                                     {{"type", "reaction"},
                                      {"target_seq", seq},
                                      {"emoji", thumbs},
                                      {"op", "add"}}}},
                                   guests[static_cast<std::size_t>(i)].token);
                if (sent.status != 201) {
                    std::lock_guard lock(failures_mutex);
                    failures.push_back("react: " + sent.body);
                }
            }
        });
    }
    for (auto& t : workers) {
        t.join();
    }
    REQUIRE(failures.empty());

    std::string raw;
    const auto m = w.message(seq, guests[1500], &raw);
    INFO(raw);
    // The summary is bounded: ten ids, whatever the count. (The old shape held 2,000 ids,
    // about 40 KB.)
    CHECK(raw.size() < 1024);
    CHECK(m["reactions"][thumbs]["count"] == reactors);
    CHECK(m["reactions"][thumbs]["users"].size() == 10);
    CHECK(m["reactions"][thumbs]["me"] == true);
    CHECK(w.message(seq, author)["reactions"][thumbs]["me"] == false);
    const auto all = w.all_reactors(author, seq, thumbs_query, 200);
    CHECK(all == by_number(ids_of(guests)));

    // Half of them leave; the state follows exactly.
    for (int i = 0; i < reactors; i += 2) {
        REQUIRE(w.react(guests[static_cast<std::size_t>(i)], seq, thumbs, "remove").status == 201);
    }
    const auto after = w.message(seq, guests[1]);
    CHECK(after["reactions"][thumbs]["count"] == reactors / 2);
    CHECK(after["reactions"][thumbs]["me"] == true);
    CHECK(w.message(seq, guests[0])["reactions"][thumbs]["me"] == false);
    // The reaction order among the threads is not known, but the listed users are the
    // remaining ones, and every remaining one is listed by the route.
    std::set<std::string> remaining;
    for (int i = 1; i < reactors; i += 2) {
        remaining.insert(guests[static_cast<std::size_t>(i)].user_id);
    }
    for (const auto& u : after["reactions"][thumbs]["users"]) {
        CHECK(remaining.count(u.get<std::string>()) == 1);
    }
    const auto listed = w.all_reactors(author, seq, thumbs_query, 200);
    CHECK(std::set<std::string>(listed.begin(), listed.end()) == remaining);

    // A recall takes every reaction with it.
    REQUIRE(w.send(author, {{"type", "recall"}, {"target_seq", seq}}).status == 201);
    CHECK_FALSE(w.message(seq, author).contains("reactions"));
    CHECK(w.all_reactors(author, seq, thumbs_query, 100).empty());
}
