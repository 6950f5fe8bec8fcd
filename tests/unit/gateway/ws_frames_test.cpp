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
