#include <monochat/logic/conversations.hpp>

#include <catch2/catch.hpp>

#include "unit/logic/logic_test_support.hpp"

namespace monochat::logic {
namespace {

using namespace std::chrono_literals;
using test::error_of;
using test::frames_named;
using test::run;
using test::value_of;

conversation_ref conv_ref(const std::string& id) { return parse_conversation_id(id).value(); }

const conversation_info* find(const std::vector<conversation_info>& list, const std::string& id) {
    for (const auto& c : list) {
        if (c.conversation_id == id) {
            return &c;
        }
    }
    return nullptr;
}

TEST_CASE("world is always listed, groups and direct chats with a message join it",
          "[logic][conversations]") {
    test::world w;
    const auto a = w.user("alice");
    const auto b = w.user("bob");
    auto list = value_of(run(w.conversations->list(a)));
    REQUIRE(list.size() == 1);
    CHECK(list[0].conversation_id == "world");
    CHECK(list[0].kind == "world");
    CHECK(list[0].last_message.empty());

    w.clock.advance(1s);
    auto g = value_of(run(w.make_group(a, "Team", {b.user_id}, false)));
    const std::string gid = "group:" + std::to_string(g.group_id);
    const std::string dm = value_of(run(w.conversations->direct_id(a, b.user_id)));
    list = value_of(run(w.conversations->list(a)));
    REQUIRE(list.size() == 2);  // a direct chat appears once it has a message
    CHECK(list[0].conversation_id == gid);  // joined after the account was made
    CHECK(list[0].title == "Team");

    w.clock.advance(1s);
    w.say("world", b.user_id, "hello world");
    w.clock.advance(1s);
    value_of(run(w.store->record_direct_message(a.user_id, b.user_id, w.clock.now_ms())));
    w.say(dm, b.user_id, "hi alice");
    list = value_of(run(w.conversations->list(a)));
    REQUIRE(list.size() == 3);
    CHECK(list[0].conversation_id == dm);  // most recent activity first
    CHECK(list[0].kind == "direct");
    CHECK(list[0].title == "bob");
    CHECK(list[0].peer_id == b.user_id);
    CHECK(list[1].conversation_id == "world");
    CHECK(list[2].conversation_id == gid);
    const auto last = nlohmann::json::parse(list[0].last_message);
    CHECK(last["body"]["text"] == "hi alice");
    CHECK(last["seq"] == 1);
}

TEST_CASE("unread is last_seq - read_seq, reads are clamped and never move back",
          "[logic][conversations]") {
    test::world w;
    const auto a = w.user("alice");
    const auto b = w.user("bob");
    auto g = value_of(run(w.make_group(a, "Team", {b.user_id}, false)));
    const std::string gid = "group:" + std::to_string(g.group_id);
    for (int i = 0; i < 5; ++i) {
        w.say(gid, a.user_id, "m" + std::to_string(i));
    }
    auto entry = *find(value_of(run(w.conversations->list(b))), gid);
    CHECK(entry.last_seq == 5);
    CHECK(entry.read_seq == 0);
    CHECK(entry.unread == 5);

    CHECK(value_of(run(w.conversations->mark_read(b, conv_ref(gid), 3))));
    entry = *find(value_of(run(w.conversations->list(b))), gid);
    CHECK(entry.read_seq == 3);
    CHECK(entry.unread == 2);
    // Below the position: ignored.
    CHECK_FALSE(value_of(run(w.conversations->mark_read(b, conv_ref(gid), 2))));
    CHECK(find(value_of(run(w.conversations->list(b))), gid)->read_seq == 3);
    // Past the end: clamped to last_seq.
    CHECK(value_of(run(w.conversations->mark_read(b, conv_ref(gid), 1000))));
    entry = *find(value_of(run(w.conversations->list(b))), gid);
    CHECK(entry.read_seq == 5);
    CHECK(entry.unread == 0);
    CHECK_FALSE(value_of(run(w.conversations->mark_read(b, conv_ref(gid), 1000))));
    w.say(gid, a.user_id, "one more");
    CHECK(find(value_of(run(w.conversations->list(b))), gid)->unread == 1);
    // Nothing to read yet: a read of an empty conversation moves nothing.
    CHECK_FALSE(value_of(run(w.conversations->mark_read(b, conv_ref("world"), 7))));
}

TEST_CASE("a read pushes a receipt to the other members and the reader's other connections",
          "[logic][conversations]") {
    test::world w;
    const auto a = w.user("alice");
    const auto b = w.user("bob");
    const auto c = w.user("carol");
    auto g = value_of(run(w.make_group(a, "Team", {b.user_id, c.user_id}, false)));
    const std::string gid = "group:" + std::to_string(g.group_id);
    w.say(gid, a.user_id, "hello");
    w.deliveries.clear();
    read_options opts;
    opts.exclude_session = 99;
    CHECK(value_of(run(w.conversations->mark_read(b, conv_ref(gid), 1, opts))));
    auto all = w.deliveries.wait_for(
        [](const auto& v) { return !frames_named(v, "receipt").empty(); });
    auto receipts = frames_named(all, "receipt");
    REQUIRE(receipts.size() == 1);
    CHECK(receipts[0].first.size() == 3);  // b's other connections too
    CHECK(receipts[0].second == nlohmann::json{{"type", "receipt"},
                                                {"conversation_id", gid},
                                                {"user_id", std::to_string(b.user_id)},
                                                {"seq", 1}});
    CHECK(all.back().exclude_session == 99);

    // A direct chat: both users.
    w.deliveries.clear();
    const auto dm = value_of(run(w.conversations->direct_id(a, b.user_id)));
    w.say(dm, a.user_id, "psst");
    CHECK(value_of(run(w.conversations->mark_read(b, conv_ref(dm), 1))));
    all = w.deliveries.wait_for(
        [](const auto& v) { return !frames_named(v, "receipt").empty(); });
    receipts = frames_named(all, "receipt");
    REQUIRE(receipts.size() == 1);
    auto to = receipts[0].first;
    std::sort(to.begin(), to.end());
    CHECK(to == std::vector<std::uint64_t>{std::min(a.user_id, b.user_id),
                                           std::max(a.user_id, b.user_id)});

    // World: only the reader's own connections.
    w.deliveries.clear();
    w.say("world", a.user_id, "hello all");
    CHECK(value_of(run(w.conversations->mark_read(c, conv_ref("world"), 1))));
    all = w.deliveries.wait_for(
        [](const auto& v) { return !frames_named(v, "receipt").empty(); });
    receipts = frames_named(all, "receipt");
    REQUIRE(receipts.size() == 1);
    CHECK(receipts[0].first == std::vector<std::uint64_t>{c.user_id});
}

TEST_CASE("the dm id endpoint answers for any registered user, never for guests",
          "[logic][conversations]") {
    test::world w;
    const auto a = w.user("alice");
    const auto b = w.user("bob");
    const auto g = w.guest();
    const auto id = value_of(run(w.conversations->direct_id(b, a.user_id)));
    CHECK(id == "dm:" + std::to_string(std::min(a.user_id, b.user_id)) + ":" +
                    std::to_string(std::max(a.user_id, b.user_id)));
    CHECK(value_of(run(w.conversations->direct_id(a, b.user_id))) == id);
    CHECK(error_of(run(w.conversations->direct_id(a, a.user_id))) == errc::invalid_argument);
    CHECK(error_of(run(w.conversations->direct_id(a, 4242))) == errc::not_found);
    CHECK(error_of(run(w.conversations->direct_id(a, g.user_id))) == errc::forbidden);
    CHECK(error_of(run(w.conversations->direct_id(g, a.user_id))) == errc::forbidden);
    // Guests may not list conversations (contract: guests use `world` only; issue 17).
    CHECK(error_of(run(w.conversations->list(g))) == errc::forbidden);
}

TEST_CASE("access rules: world for all, groups for members, direct chats for the two",
          "[logic][conversations][access]") {
    test::world w;
    const auto a = w.user("alice");
    const auto b = w.user("bob");
    const auto c = w.user("carol");
    const auto g = w.guest();
    auto group = value_of(run(w.make_group(a, "Team", {b.user_id}, false)));
    // make_group befriended them (members come only from friends); the direct chat below
    // starts without a friendship.
    value_of(run(w.store->remove_friend(a.user_id, b.user_id)));
    const auto gid = conv_ref("group:" + std::to_string(group.group_id));
    const auto dm = conv_ref(value_of(run(w.conversations->direct_id(a, b.user_id))));

    for (const auto& who : {a, b, c, g}) {
        CHECK(run(w.conversations->can_read(who, conv_ref("world"))).has_value());
        CHECK(run(w.conversations->can_send(who, conv_ref("world"))).has_value());
    }
    CHECK(run(w.conversations->can_read(b, gid)).has_value());
    CHECK(run(w.conversations->can_send(b, gid)).has_value());
    CHECK(error_of(run(w.conversations->can_read(c, gid))) == errc::forbidden);
    CHECK(error_of(run(w.conversations->can_send(g, gid))) == errc::forbidden);
    CHECK(error_of(run(w.conversations->can_read(a, conv_ref("group:4242")))) == errc::not_found);

    CHECK(run(w.conversations->can_read(a, dm)).has_value());
    // Sending needs friendship (policy.dm_requires_friendship defaults to true).
    CHECK(error_of(run(w.conversations->can_send(a, dm))) == errc::forbidden);
    w.befriend(a, b);
    CHECK(run(w.conversations->can_send(a, dm)).has_value());
    // After unfriending both still read, neither sends.
    value_of(run(w.social->remove_friend(b, a.user_id)));
    CHECK(run(w.conversations->can_read(b, dm)).has_value());
    CHECK(error_of(run(w.conversations->can_send(b, dm))) == errc::forbidden);
    CHECK(error_of(run(w.conversations->can_read(c, dm))) == errc::forbidden);
    CHECK(error_of(run(w.conversations->can_read(g, dm))) == errc::forbidden);
    const auto ghost = conv_ref("dm:" + std::to_string(a.user_id) + ":" +
                           std::to_string(a.user_id + 1000000));
    CHECK(error_of(run(w.conversations->can_read(a, ghost))) == errc::not_found);
    // mark_read applies the same rules.
    CHECK(error_of(run(w.conversations->mark_read(c, gid, 1))) == errc::forbidden);
}

TEST_CASE("the direct-chat policy is read live", "[logic][conversations][access]") {
    test::world w;
    const auto a = w.user("alice");
    const auto b = w.user("bob");
    const auto dm = conv_ref(value_of(run(w.conversations->direct_id(a, b.user_id))));
    CHECK(error_of(run(w.conversations->can_send(a, dm))) == errc::forbidden);
    auto cfg = *w.live.get();
    cfg.policy.dm_requires_friendship = false;
    w.live.set(cfg);
    CHECK(run(w.conversations->can_send(a, dm)).has_value());
}

}  // namespace
}  // namespace monochat::logic
