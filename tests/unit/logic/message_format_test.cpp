#include <catch2/catch.hpp>
#include <monochat/logic/message_format.hpp>
#include <nlohmann/json.hpp>

using namespace monochat;

namespace {
storage::stored_message sample() {
    storage::stored_message m;
    m.conversation_id = "dm:7:9";
    m.seq = 12;
    m.message_id = 18446744073709551615ULL;
    m.sender_id = 7;
    m.client_msg_id = "c-\"1\"\\\n\x01-\xe4\xb8\xad";
    m.ts_ms = 1795000000123;
    m.body = nlohmann::json{{"type", "text"}, {"text", "h\xc3\xa9llo \"you\"\n"},
                            {"mentions", {"9"}}}
                 .dump();
    return m;
}
}  // namespace

TEST_CASE("a new message's JSON splices its stored body and is what a DOM would write",
          "[logic][format]") {
    const auto m = sample();
    const auto text = logic::message_json(m);
    const auto j = nlohmann::json::parse(text);
    // Byte for byte what nlohmann writes for the same object (key order, escapes): history,
    // pushes and the REST answer agree whichever path wrote them.
    CHECK(j.dump() == text);
    CHECK(j.at("body") == nlohmann::json::parse(m.body));
    CHECK(j.at("client_msg_id") == m.client_msg_id);
    CHECK(j.at("message_id") == "18446744073709551615");
    CHECK(j.at("sender_id") == "7");
    CHECK(j.at("seq") == 12);
    CHECK(j.at("ts") == 1795000000123);

    const auto push = nlohmann::json::parse(logic::push_message_frame(m));
    CHECK(push.at("type") == "message");
    CHECK(push.at("message") == j);
}

TEST_CASE("a changed message's JSON shows its state", "[logic][format]") {
    auto m = sample();
    m.state = R"({"edited_at":5,"text":"new"})";
    const auto j = nlohmann::json::parse(logic::message_json(m));
    CHECK(j.at("body").at("text") == "new");
    CHECK(j.at("edited_at") == 5);
    m.state = R"({"recalled":true})";
    const auto r = nlohmann::json::parse(logic::message_json(m));
    CHECK_FALSE(r.at("body").contains("text"));
    CHECK(r.at("recalled") == true);
}

TEST_CASE("a text body written without a tree is byte for byte the tree's dump",
          "[logic][format]") {
    using json = nlohmann::json;
    const std::vector<std::string> texts = {
        "hi", "q\"uote\\back\nline\r\t\b\f\x01\x1f\x7f-\xc3\xa9-\xe4\xb8\xad-\xf0\x9f\x98\x80", "/",
        std::string(3000, 'x')};
    const std::vector<std::uint64_t> some = {18446744073709551615ULL, 12, 1};
    const std::vector<std::uint64_t> none;
    for (const auto& text : texts) {
        for (const std::optional<std::uint64_t> reply_to : {std::optional<std::uint64_t>(),
                                                           std::optional<std::uint64_t>(7)}) {
            for (const auto* mentions : {static_cast<const std::vector<std::uint64_t>*>(nullptr),
                                         &none, &some}) {
                json tree = {{"type", "text"}, {"text", text}};
                if (reply_to) {
                    tree["reply_to"] = *reply_to;
                }
                if (mentions != nullptr) {
                    json ids = json::array();
                    for (const auto id : *mentions) {
                        ids.push_back(std::to_string(id));
                    }
                    tree["mentions"] = std::move(ids);
                }
                INFO(text.substr(0, 40) << " reply_to " << reply_to.value_or(0) << " mentions "
                                        << (mentions == nullptr ? -1 : static_cast<int>(mentions->size())));
                CHECK(logic::text_body_json(text, reply_to, mentions) == tree.dump());
            }
        }
    }
}
