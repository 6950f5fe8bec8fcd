// A recall removes the text of its target's edits (issue 17), through the messaging service on
// the memory log: edits sent now are remembered by their target; edits stored before 1.1 (which
// their target does not list) are found by reading the log; a message takes a bounded number
// of edits.

#include <monochat/logic/messaging.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "unit/logic/logic_test_support.hpp"

namespace monochat::logic {
namespace {

using nlohmann::json;
using test::error_of;
using test::run;
using test::value_of;

struct messaging_world : test::world {
    access_control access{*store, *store, *store, live};
    std::unique_ptr<messaging_service> messaging = make_messaging_service(
        {*log, *store, *store, *store, *bus, access, presence, live, clock, ids, metrics});
    identity alice = user("alice");
    int cmid = 0;

    explicit messaging_world(infra::config cfg = test::test_config()) : test::world(std::move(cfg)) {}
    // As the server does: the stores' threads are joined before the service (and its thread
    // pool) goes, or a store thread may still be waking the pool as it is destroyed (TSan).
    ~messaging_world() {
        messaging->stop();
        log->close();
        store.reset();
    }

    result<send_result> send(message_body body, bool as_admin = false) {
        send_request r;
        r.who = alice;
        r.conversation_id = "world";
        r.client_msg_id = "m" + std::to_string(++cmid);
        r.body = std::move(body);
        r.as_admin = as_admin;
        return run(messaging->send(std::move(r)));
    }
    static message_body edit(std::uint64_t seq, std::string text) {
        message_body b;
        b.type = "edit";
        b.target_seq = seq;
        b.text = std::move(text);
        return b;
    }
    static message_body recall(std::uint64_t seq) {
        message_body b;
        b.type = "recall";
        b.target_seq = seq;
        return b;
    }
    storage::stored_message stored(std::uint64_t seq) { return value_of(run(log->get("world", seq))); }
};

void check_scrubbed(const storage::stored_message& m) {
    INFO("seq " << m.seq << " body " << m.body << " state " << m.state);
    CHECK(json::parse(m.body).count("text") == 0);
    CHECK(json::parse(m.state) == json{{"recalled", true}});
}

TEST_CASE("a recall rewrites the target and every edit sent through the service",
          "[logic][recall]") {
    messaging_world w;
    const auto target = w.say("world", w.alice.user_id, "secret one");
    const auto e1 = value_of(w.send(w.edit(target, "secret two"))).seq;
    w.say("world", w.alice.user_id, "unrelated");
    const auto e2 = value_of(w.send(w.edit(target, "secret three"))).seq;
    CHECK(json::parse(w.stored(target).state)["edits"] == json::array({e1, e2}));
    value_of(w.send(w.recall(target)));
    for (const auto seq : {target, e1, e2}) {
        check_scrubbed(w.stored(seq));
    }
    CHECK(json::parse(w.stored(3).body)["text"] == "unrelated");
}

TEST_CASE("edits stored before 1.1 are found by reading the log and rewritten too",
          "[logic][recall]") {
    messaging_world w;
    const auto target = w.say("world", w.alice.user_id, "old secret");
    // An edit as the server before 1.1 stored it: the target's state has no "edits".
    const auto legacy_edit = [&](const std::string& text) {
        storage::append_request a;
        a.conversation_id = "world";
        a.sender_id = w.alice.user_id;
        a.client_msg_id = "legacy" + text;
        a.message_id = w.ids.next();
        a.ts_ms = w.clock.now_ms();
        a.body = json{{"type", "edit"}, {"target_seq", target}, {"text", text}}.dump();
        a.target_seq = target;
        a.update_target = [&w, text](const storage::stored_message&) -> result<std::string> {
            return json{{"text", text}, {"edited_at", w.clock.now_ms()}}.dump();
        };
        return value_of(run(w.log->append(std::move(a)))).message.seq;
    };
    const auto e1 = legacy_edit("old edit");
    w.say("world", w.alice.user_id, "between");
    const auto e2 = legacy_edit("old edit two");
    // Long after the last edit: the read stops at the edit time, not at the end of the log.
    w.clock.advance(std::chrono::hours(2));
    const auto later = w.say("world", w.alice.user_id, "later");
    // Past the sender's recall window: an admin's delete.
    value_of(w.send(w.recall(target), true));
    for (const auto seq : {target, e1, e2}) {
        check_scrubbed(w.stored(seq));
    }
    CHECK(json::parse(w.stored(later).body)["text"] == "later");
}

TEST_CASE("a message takes at most limits.max_edits_per_message edits", "[logic][recall]") {
    auto cfg = test::test_config();
    cfg.limits.max_edits_per_message = 2;
    messaging_world w(cfg);
    const auto target = w.say("world", w.alice.user_id, "hello");
    value_of(w.send(w.edit(target, "one")));
    value_of(w.send(w.edit(target, "two")));
    CHECK(error_of(w.send(w.edit(target, "three"))) == errc::conflict);
    CHECK(json::parse(w.stored(target).state)["text"] == "two");
}

TEST_CASE("a text's stored body is its fields in name order, and text that is not UTF-8 is refused",
          "[logic][send]") {
    messaging_world w;
    const auto plain = [](std::string t) {
        message_body b;
        b.type = "text";
        b.text = std::move(t);
        return b;
    };
    message_body text;
    text.type = "text";
    text.text = "say \"hi\"\n";
    text.reply_to = 1;
    text.mentions = std::vector<std::uint64_t>{9, 8, 9};
    const auto first = value_of(w.send(plain("first")));
    const auto sent = value_of(w.send(text));
    CHECK(w.stored(first.seq).body == R"({"text":"first","type":"text"})");
    CHECK(w.stored(sent.seq).body ==
          R"({"mentions":["9","8"],"reply_to":1,"text":"say \"hi\"\n","type":"text"})");

    for (const char* bad : {"\xff", "a\xc3", "\xed\xa0\x80"}) {
        INFO(bad);
        CHECK(error_of(w.send(plain(bad))) == errc::invalid_argument);
        CHECK(error_of(w.send(w.edit(sent.seq, bad))) == errc::invalid_argument);
    }
    CHECK(w.log->last_seq("world") == sent.seq);
}

}  // namespace
}  // namespace monochat::logic
