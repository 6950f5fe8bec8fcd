// Message search (issue 6) against the real binary: words, case and accents, Chinese and
// Japanese without spaces, phrases, edits and recalls, permission filtering, hostile queries,
// and catching up from the message log after a kill -9.

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::string url_encode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : s) {
        if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// `prefix` followed by `n`. (GCC 12 at -O3 reports "text" + std::to_string(n) as an
// overlapping memcpy, a false positive that -Werror turns into a build failure.)
std::string numbered(std::string prefix, int n) {
    prefix += std::to_string(n);
    return prefix;
}

json merged(json a, const json& b) {
    a.merge_patch(b);
    return a;
}

struct search_server {
    server_process server;
    std::unique_ptr<http_client> http;
    int cmid = 0;

    explicit search_server(json overrides = json::object())
        : server(merged(fast_test_config(), overrides)) {
        server.start();
        connect();
    }

    void connect() { http = std::make_unique<http_client>(server.host(), server.port()); }

    // Sends a message over HTTP; returns the stored message.
    json send(const account& who, const std::string& cid, const json& body) {
        auto r = http->post("/api/v1/conversations/" + cid + "/messages",
                            {{"client_msg_id", numbered("c", ++cmid)}, {"body", body}},
                            who.token);
        if (r.status != 201) {
            FAIL("send to " << cid << ": HTTP " << r.status << " " << r.body);
        }
        return r.json()["message"];
    }
    json say(const account& who, const std::string& cid, const std::string& text) {
        return send(who, cid, {{"type", "text"}, {"text", text}});
    }

    http_reply search(const account& who, const std::string& q, const std::string& cid = "",
                      const std::string& limit = "") {
        std::string target = "/api/v1/search/messages?q=" + url_encode(q);
        if (!cid.empty()) {
            target += "&conversation_id=" + url_encode(cid);
        }
        if (!limit.empty()) {
            target += "&limit=" + limit;
        }
        return http->get(target, who.token);
    }

    // The texts found for `q`, newest first; fails on anything but 200.
    std::vector<std::string> texts(const account& who, const std::string& q,
                                   const std::string& cid = "") {
        auto r = search(who, q, cid);
        if (r.status != 200) {
            FAIL("search " << q << ": HTTP " << r.status << " " << r.body);
        }
        std::vector<std::string> out;
        const json reply = r.json();  // named: a range-for over a temporary's member dangles
        for (const auto& m : reply["messages"]) {
            out.push_back(m["body"].value("text", ""));
        }
        return out;
    }

    // Polls until the search answers `expected` (indexing is asynchronous), for up to 5 s.
    std::vector<std::string> eventually(const account& who, const std::string& q,
                                        const std::vector<std::string>& expected,
                                        const std::string& cid = "") {
        std::vector<std::string> got;
        wait_until(
            [&] {
                got = texts(who, q, cid);
                return got == expected;
            },
            5000ms);
        return got;
    }
};

using texts = std::vector<std::string>;

}  // namespace

TEST_CASE("words are found whatever their case and accents", "[integration][search]") {
    search_server s;
    auto alice = register_user(*s.http, unique_name("alice"));
    s.say(alice, "world", "Hello World from Alice");
    s.say(alice, "world", "Le café est ouvert");
    s.say(alice, "world", "CAFE SOCIETY tonight");
    CHECK(s.eventually(alice, "cafe", {"CAFE SOCIETY tonight", "Le café est ouvert"}) ==
          texts{"CAFE SOCIETY tonight", "Le café est ouvert"});
    CHECK(s.texts(alice, "CAFÉ") == texts{"CAFE SOCIETY tonight", "Le café est ouvert"});
    CHECK(s.texts(alice, "café") == texts{"CAFE SOCIETY tonight", "Le café est ouvert"});
    CHECK(s.texts(alice, "hello") == texts{"Hello World from Alice"});
    CHECK(s.texts(alice, "HELLO alice") == texts{"Hello World from Alice"});
    CHECK(s.texts(alice, "hello cafe").empty());
    CHECK(s.texts(alice, "caf*") == texts{"CAFE SOCIETY tonight", "Le café est ouvert"});

    // Hits are whole messages in the wire form of history.
    auto r = s.search(alice, "hello");
    REQUIRE(r.status == 200);
    const json reply = r.json();
    const auto& m = reply["messages"][0];
    CHECK(m["conversation_id"] == "world");
    CHECK(m["seq"] == 1);
    CHECK(m["sender_id"] == alice.user_id);
    CHECK(m["message_id"].is_string());
    CHECK(m["body"]["type"] == "text");
}

TEST_CASE("a two-character Chinese word is found inside a sentence without spaces",
          "[integration][search]") {
    search_server s;
    auto alice = register_user(*s.http, unique_name("alice"));
    s.say(alice, "world", "我们今天去北京旅游");
    s.say(alice, "world", "北方的冬天很冷");
    s.say(alice, "world", "上海和北京都是大城市");
    CHECK(s.eventually(alice, "北京", {"上海和北京都是大城市", "我们今天去北京旅游"}) ==
          texts{"上海和北京都是大城市", "我们今天去北京旅游"});
    CHECK(s.texts(alice, "北京旅游") == texts{"我们今天去北京旅游"});
    CHECK(s.texts(alice, "冬天") == texts{"北方的冬天很冷"});
    CHECK(s.texts(alice, "京北").empty());
    CHECK(s.texts(alice, "北") ==
          texts{"上海和北京都是大城市", "北方的冬天很冷", "我们今天去北京旅游"});
}

TEST_CASE("a Japanese phrase is found", "[integration][search]") {
    search_server s;
    auto alice = register_user(*s.http, unique_name("alice"));
    s.say(alice, "world", "昨日、東京タワーに行きました。");
    s.say(alice, "world", "大阪城は美しいです");
    CHECK(s.eventually(alice, "東京タワー", {"昨日、東京タワーに行きました。"}) ==
          texts{"昨日、東京タワーに行きました。"});
    CHECK(s.texts(alice, "タワーに行きました") == texts{"昨日、東京タワーに行きました。"});
    CHECK(s.texts(alice, "大阪城") == texts{"大阪城は美しいです"});
    CHECK(s.texts(alice, "東京大阪").empty());
}

TEST_CASE("a quoted phrase needs its words together and in order", "[integration][search]") {
    search_server s;
    auto alice = register_user(*s.http, unique_name("alice"));
    s.say(alice, "world", "I love New York in June");
    s.say(alice, "world", "new shoes from York");
    CHECK(s.eventually(alice, "new york", {"new shoes from York", "I love New York in June"}) ==
          texts{"new shoes from York", "I love New York in June"});
    CHECK(s.texts(alice, "\"new york\"") == texts{"I love New York in June"});
    CHECK(s.texts(alice, "\"york new\"").empty());
}

TEST_CASE("an edited message is found by its new text only, a recalled one is not found",
          "[integration][search]") {
    search_server s;
    auto alice = register_user(*s.http, unique_name("alice"));
    const auto first = s.say(alice, "world", "meeting at noon");
    const auto second = s.say(alice, "world", "password is swordfish");
    CHECK(s.eventually(alice, "swordfish", {"password is swordfish"}) ==
          texts{"password is swordfish"});
    s.send(alice, "world",
           {{"type", "edit"}, {"target_seq", first["seq"]}, {"text", "meeting at three"}});
    s.send(alice, "world", {{"type", "recall"}, {"target_seq", second["seq"]}});
    // A hit shows the message's current text: "meeting" finds the edited message before the
    // edit is indexed, so the old and new words are waited for on their own.
    CHECK(s.eventually(alice, "meeting", {"meeting at three"}) == texts{"meeting at three"});
    CHECK(s.eventually(alice, "three", {"meeting at three"}) == texts{"meeting at three"});
    CHECK(s.eventually(alice, "noon", {}).empty());
    CHECK(s.eventually(alice, "swordfish", {}).empty());
}

TEST_CASE("results come only from conversations the caller may read now",
          "[integration][search]") {
    search_server s;
    auto alice = register_user(*s.http, unique_name("alice"));
    auto bob = register_user(*s.http, unique_name("bob"));
    auto carol = register_user(*s.http, unique_name("carol"));
    auto visitor = guest(*s.http);
    befriend(*s.http, alice, bob);
    const auto group = "group:" + create_group(*s.http, alice, {bob});
    const auto dm = dm_id(alice, bob);

    s.say(alice, group, "zebra in the group");
    s.say(alice, dm, "zebra in private");
    s.say(alice, "world", "zebra for everyone");

    const texts all3{"zebra for everyone", "zebra in private", "zebra in the group"};
    CHECK(s.eventually(alice, "zebra", all3) == all3);
    CHECK(s.eventually(bob, "zebra", all3) == all3);
    CHECK(s.texts(carol, "zebra") == texts{"zebra for everyone"});
    CHECK(s.texts(visitor, "zebra") == texts{"zebra for everyone"});

    // One conversation only; one the caller may not read is 403, a missing one 404.
    CHECK(s.texts(bob, "zebra", group) == texts{"zebra in the group"});
    CHECK(s.search(carol, "zebra", group).status == 403);
    CHECK(s.search(carol, "zebra", dm).status == 403);
    CHECK(s.search(visitor, "zebra", group).status == 403);
    CHECK(s.search(carol, "zebra", "group:1").status == 404);
    CHECK(s.search(carol, "zebra", "not-a-conversation").status == 400);
    CHECK(s.texts(visitor, "zebra", "world") == texts{"zebra for everyone"});

    // Leaving the group ends finding its messages.
    REQUIRE(s.http->del("/api/v1/groups/" + group.substr(6) + "/members/" + bob.user_id, bob.token)
                .status == 204);
    CHECK(s.texts(bob, "zebra") == texts{"zebra for everyone", "zebra in private"});
    CHECK(s.search(bob, "zebra", group).status == 403);
    CHECK(s.texts(alice, "zebra") == all3);
}

TEST_CASE("no query breaks the search: 200 or 400, never a 500", "[integration][search]") {
    search_server s;
    auto alice = register_user(*s.http, unique_name("alice"));
    s.say(alice, "world", "and or not near quote \" star * paren ( )");
    CHECK(s.eventually(alice, "AND", {"and or not near quote \" star * paren ( )"}).size() == 1);
    const std::vector<std::string> hostile = {
        "\"", "*", "AND(", "AND", "OR", "NOT", "NEAR(", ")", "^", ":", "-", "+", "{}", "\"\"\"",
        "a AND", "(a OR b)", "text:and", "NEAR(and or, 2)", "\"unterminated", "*prefix", "';--",
        "\\", "%", "_", "🎉", "!!!", "\xEF\xBC\x81", std::string(1024, 'x'), "\u3000"};
    for (const auto& q : hostile) {
        INFO("q = " << q);
        const auto r = s.search(alice, q);
        CHECK((r.status == 200 || r.status == 400));
        if (r.status == 400) {
            CHECK(r.json()["error"]["code"] == "invalid_argument");
        }
    }
    CHECK(s.search(alice, "\"").status == 200);
    CHECK(s.search(alice, "*").json()["messages"].empty());
    CHECK(s.texts(alice, "AND(") == texts{"and or not near quote \" star * paren ( )"});
    CHECK(s.http->get("/api/v1/search/messages", alice.token).status == 400);  // no q
    CHECK(s.search(alice, "").status == 400);
    CHECK(s.search(alice, "   ").status == 400);
    CHECK(s.search(alice, std::string(1025, 'x')).status == 400);
    CHECK(s.http->get("/api/v1/search/messages?q=%FF%FE", alice.token).status == 400);
    CHECK(s.search(alice, "and", "", "0").status == 400);
    CHECK(s.search(alice, "and", "", "-1").status == 400);
    CHECK(s.search(alice, "and", "", "ten").status == 400);
    CHECK(s.search(alice, "and", "", "100000").status == 200);  // clamped to 200
    CHECK(s.http->get("/api/v1/search/messages?q=and").status == 401);
}

TEST_CASE("limit gives the newest matches", "[integration][search]") {
    search_server s;
    auto alice = register_user(*s.http, unique_name("alice"));
    for (int i = 1; i <= 5; ++i) {
        s.say(alice, "world", numbered("apple number ", i));
    }
    CHECK(s.eventually(alice, "apple",
                       {"apple number 5", "apple number 4", "apple number 3", "apple number 2",
                        "apple number 1"})
              .size() == 5);
    auto r = s.search(alice, "apple", "", "2");
    REQUIRE(r.status == 200);
    REQUIRE(r.json()["messages"].size() == 2);
    CHECK(r.json()["messages"][0]["body"]["text"] == "apple number 5");
    CHECK(r.json()["messages"][1]["body"]["text"] == "apple number 4");
}

TEST_CASE("messages acknowledged before a kill -9 become searchable after the restart",
          "[integration][search]") {
    // A batch delay far longer than the test keeps the indexer from writing anything before
    // the kill: only the catch-up from the message log can make these messages searchable.
    const json slow_indexer = {{"search", {{"batch_delay_ms", 60000}}}};
    search_server s(slow_indexer);
    auto alice = register_user(*s.http, unique_name("alice"));
    std::vector<std::string> sent;
    for (int i = 0; i < 20; ++i) {
        sent.push_back(numbered("durable kiwi ", i));
        s.say(alice, "world", sent.back());
    }
    CHECK(s.texts(alice, "kiwi").empty());  // acknowledged, not indexed yet
    s.server.kill9();

    s.server.start();
    s.connect();
    std::vector<std::string> expected(sent.rbegin(), sent.rend());
    CHECK(s.eventually(alice, "kiwi", expected) == expected);
    CHECK(s.texts(alice, "durable 7") == texts{"durable kiwi 7"});

    // Caught up, the index takes new messages (after the batch delay) and old ones once.
    s.server.stop();
    s.server.set_overrides(fast_test_config());
    s.server.start();
    s.connect();
    s.say(alice, "world", "fresh kiwi");
    expected.insert(expected.begin(), "fresh kiwi");
    CHECK(s.eventually(alice, "kiwi", expected) == expected);
}
