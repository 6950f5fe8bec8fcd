#include <catch2/catch.hpp>
#include <monochat/logic/messaging.hpp>
#include <nlohmann/json.hpp>

#include "gateway/ws_frames.hpp"

using namespace monochat;

TEST_CASE("an ack written without a DOM is the JSON of its fields, escapes included",
          "[gateway][frames]") {
    logic::send_result r;
    r.client_msg_id = "q\"uote\\back\nline\t\x01\x1f-\xc3\xa9-\xe4\xb8\xad";
    r.message_id = 18446744073709551615ULL;
    r.conversation_id = "dm:1:2";
    r.seq = 42;
    r.ts = 1795000000123;
    const std::string id = "id \"7\" \x02";
    const auto text = gateway::ws_frames::ack(id, r);
    const auto j = nlohmann::json::parse(text);
    CHECK(j.at("type") == "ack");
    CHECK(j.at("id") == id);
    CHECK(j.at("client_msg_id") == r.client_msg_id);
    CHECK(j.at("message_id") == "18446744073709551615");
    CHECK(j.at("conversation_id") == "dm:1:2");
    CHECK(j.at("seq") == 42);
    CHECK(j.at("ts") == 1795000000123);
    CHECK(j.size() == 7);

    const auto no_id = nlohmann::json::parse(gateway::ws_frames::ack(std::nullopt, r));
    CHECK_FALSE(no_id.contains("id"));
    CHECK(no_id.size() == 6);
}

namespace {

namespace frames = gateway::ws_frames;

// Every field of a parsed frame, for comparing the two readers.
std::string describe(const frames::client_frame& f) {
    const auto opt = [](const auto& o) {
        if (!o) {
            return std::string("-");
        }
        if constexpr (std::is_same_v<std::decay_t<decltype(*o)>, std::string>) {
            return "'" + *o + "'";
        } else {
            return std::to_string(*o);
        }
    };
    std::string mentions = "-";
    if (f.body.mentions) {
        mentions = "[";
        for (const auto id : *f.body.mentions) {
            mentions += std::to_string(id) + ",";
        }
        mentions += "]";
    }
    return "type=" + std::to_string(static_cast<int>(f.type)) + " id=" + opt(f.id) +
           " conversation='" + f.conversation_id + "' client_msg_id='" + f.client_msg_id +
           "' after_seq=" + opt(f.after_seq) + " limit=" + std::to_string(f.limit) +
           " seq=" + std::to_string(f.seq) + " body.type='" + f.body.type +
           "' text=" + opt(f.body.text) + " reply_to=" + opt(f.body.reply_to) +
           " mentions=" + mentions + " target_seq=" + opt(f.body.target_seq) +
           " emoji=" + opt(f.body.emoji) + " op=" + opt(f.body.op) +
           " file_id=" + opt(f.body.file_id) + " caption=" + opt(f.body.caption);
}

}  // namespace

TEST_CASE("the event reader takes well-formed frames exactly as the tree reader does",
          "[gateway][frames]") {
    const std::vector<std::string> taken = {
        R"({"type":"send","id":"7","conversation_id":"dm:1:2","client_msg_id":"c1","body":{"type":"text","text":"hi"}})",
        R"({"body":{"text":"q\"uote\\ \u00e9 \ud83d\ude00 \n","type":"text","reply_to":3,"mentions":["12","13"]},"client_msg_id":"c","conversation_id":"group:9","type":"send"})",
        R"({"type":"send","conversation_id":"group:9","client_msg_id":"c","body":{"type":"text","text":"x","mentions":[]}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"edit","target_seq":4,"text":"y"}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"reaction","target_seq":4,"emoji":"👍","op":"remove"}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"file","file_id":"123","caption":"c"}})",
        // null fields are absent ones; unknown fields of any shape are skipped
        R"({"type":"send","id":null,"conversation_id":"g","client_msg_id":"c","body":{"type":"text","text":null,"reply_to":null,"x":[1,{"a":[]}]},"extra":{"deep":[[{}]]},"n":-1.5,"b":true})",
        R"({"type":"ping"})",
        R"({"type":"ping","id":"p","conversation_id":"x"})",
        R"({"type":"sync","conversation_id":"dm:1:2","after_seq":10,"limit":500})",
        R"({"type":"sync","conversation_id":"dm:1:2","limit":3})",
        R"({"type":"sync","conversation_id":"dm:1:2"})",
        R"({"type":"read","conversation_id":"dm:1:2","seq":18446744073709551615})",
        R"({"type":"typing","conversation_id":"dm:1:2"})",
        R"({"type":"subscribe","conversation_id":"world"})",
        R"({"type":"unsubscribe","conversation_id":"world","id":"u"})",
        " \n{\"type\":\"ping\"}\t ",
    };
    for (const auto& text : taken) {
        INFO(text);
        const auto fast = frames::detail::parse_client_frame_fast(text);
        const auto tree = frames::detail::parse_client_frame_tree(text);
        REQUIRE(fast.has_value());
        REQUIRE(tree.has_value());
        CHECK(describe(*fast) == describe(*tree));
        CHECK((*fast == *tree));
        const auto chosen = frames::parse_client_frame(text);
        REQUIRE(chosen.has_value());
        CHECK(describe(*chosen) == describe(*tree));
    }
}

TEST_CASE("the event reader leaves every doubtful frame to the tree reader and its error",
          "[gateway][frames]") {
    const std::vector<std::string> declined = {
        "",
        "[]",
        "\"send\"",
        "5",
        "null",
        R"({"type":"send"})",
        R"({"type":"send",)",
        R"({"type":"send"} {})",
        R"({"type":5})",
        R"({"type":"nope","conversation_id":"g"})",
        R"({"conversation_id":"g"})",
        R"({"type":"send","id":7,"conversation_id":"g","client_msg_id":"c","body":{"type":"text","text":"x"}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":"text"})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":null})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"text":"x"}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"text","text":7}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"text","reply_to":-1}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"text","reply_to":1.5}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"text","mentions":"12"}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"text","mentions":[12]}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"text","mentions":["x"]}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"text","mentions":[["1"]]}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"file","file_id":12}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"file","file_id":"0x"}})",
        // a repeated field: the tree keeps the last one
        R"({"type":"ping","type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"text","text":"x"}})",
        R"({"type":"send","conversation_id":"g","client_msg_id":"c","body":{"type":"text","text":"a","text":"b"}})",
        R"({"type":"sync","conversation_id":"g","limit":0})",
        R"({"type":"sync","conversation_id":"g","limit":-3})",
        R"({"type":"sync","conversation_id":"g","limit":9223372036854775808})",
        R"({"type":"sync","conversation_id":"g","after_seq":"1"})",
        R"({"type":"read","conversation_id":"g"})",
        R"({"type":"read","conversation_id":"g","seq":-1})",
        R"({"type":"typing"})",
        // a field of a wrong type that this frame type does not read: the tree takes the frame
        R"({"type":"ping","id":"p","conversation_id":5})",
        R"({"type":"typing","conversation_id":["g"]})",
        "{\"type\":\"ping\",\"id\":\"\xff\"}",
    };
    for (const auto& text : declined) {
        INFO(text);
        CHECK_FALSE(frames::detail::parse_client_frame_fast(text).has_value());
        const auto tree = frames::detail::parse_client_frame_tree(text);
        const auto chosen = frames::parse_client_frame(text);
        REQUIRE(chosen.has_value() == tree.has_value());
        if (tree) {
            CHECK(describe(*chosen) == describe(*tree));
        } else {
            CHECK(chosen.error().message == tree.error().message);
            CHECK(chosen.error().id == tree.error().id);
        }
    }
    // The tree's wording reaches the client.
    const auto bad = frames::parse_client_frame(
        R"({"type":"send","id":"9","conversation_id":"g","client_msg_id":"c","body":{"type":"text","mentions":[12]}})");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().message == "body.mentions must hold user id strings");
    CHECK(bad.error().id == "9");
}
