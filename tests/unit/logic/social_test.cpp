#include <monochat/logic/social.hpp>

#include <catch2/catch.hpp>
#include <monochat/storage/message_log.hpp>
#include <mutex>

#include "unit/logic/logic_test_support.hpp"

namespace monochat::logic {
namespace {

using test::error_of;
using test::frames_named;
using test::run;
using test::value_of;

std::string id_str(std::uint64_t id) { return std::to_string(id); }

TEST_CASE("a friend request reaches its recipient, accepting tells both about the other",
          "[logic][social]") {
    test::world w;
    const auto a = w.user("alice");
    const auto b = w.user("bob");
    auto sent = value_of(run(w.social->send_friend_request(a, b.user_id, "hi bob")));
    CHECK_FALSE(sent.accepted_existing);
    CHECK(sent.request.status == "pending");
    CHECK(sent.request.note == "hi bob");

    auto all = w.deliveries.wait_for(
        [](const auto& v) { return !frames_named(v, "friend_request").empty(); });
    auto requests = frames_named(all, "friend_request");
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].first == std::vector<std::uint64_t>{b.user_id});
    CHECK(requests[0].second["type"] == "event");
    CHECK(requests[0].second["request"]["request_id"] == id_str(sent.request.request_id));

    auto accepted = value_of(run(w.social->accept_friend_request(b, sent.request.request_id)));
    CHECK(accepted.status == "accepted");
    all = w.deliveries.wait_for(
        [](const auto& v) { return frames_named(v, "friend_added").size() >= 2; });
    auto added = frames_named(all, "friend_added");
    REQUIRE(added.size() == 2);
    for (const auto& [to, frame] : added) {
        REQUIRE(to.size() == 1);
        const auto other = to[0] == a.user_id ? b.user_id : a.user_id;
        CHECK(frame["user"]["user_id"] == id_str(other));
    }
    CHECK(value_of(run(w.social->list_friends(a))).size() == 1);
}

TEST_CASE("friend request rules: oneself, repeats, crossing requests and answered requests",
          "[logic][social]") {
    test::world w;
    const auto a = w.user("alice");
    const auto b = w.user("bob");
    const auto c = w.user("carol");
    CHECK(error_of(run(w.social->send_friend_request(a, a.user_id, ""))) ==
          errc::invalid_argument);
    CHECK(error_of(run(w.social->send_friend_request(a, 999, ""))) == errc::not_found);
    CHECK(error_of(run(w.social->send_friend_request(a, b.user_id, std::string(257, 'n')))) ==
          errc::invalid_argument);
    auto first = value_of(run(w.social->send_friend_request(a, b.user_id, "")));
    CHECK(error_of(run(w.social->send_friend_request(a, b.user_id, ""))) == errc::conflict);
    // Bob asks Alice back: her request is accepted and is the answer.
    auto crossing = value_of(run(w.social->send_friend_request(b, a.user_id, "")));
    CHECK(crossing.accepted_existing);
    CHECK(crossing.request.request_id == first.request.request_id);
    CHECK(crossing.request.status == "accepted");
    CHECK(error_of(run(w.social->send_friend_request(a, b.user_id, ""))) == errc::conflict);
    CHECK(error_of(run(w.social->accept_friend_request(b, first.request.request_id))) ==
          errc::conflict);
    // Only the addressee answers.
    auto to_c = value_of(run(w.social->send_friend_request(a, c.user_id, "")));
    CHECK(error_of(run(w.social->accept_friend_request(a, to_c.request.request_id))) ==
          errc::forbidden);
    auto rejected = value_of(run(w.social->reject_friend_request(c, to_c.request.request_id)));
    CHECK(rejected.status == "rejected");
    CHECK(error_of(run(w.social->reject_friend_request(c, to_c.request.request_id))) ==
          errc::conflict);
    CHECK(error_of(run(w.social->accept_friend_request(c, 424242))) == errc::not_found);
    // Removing a friend.
    value_of(run(w.social->remove_friend(a, b.user_id)));
    CHECK(error_of(run(w.social->remove_friend(a, b.user_id))) == errc::not_found);
}

TEST_CASE("guests are refused every social call and cannot be befriended", "[logic][social]") {
    test::world w;
    const auto a = w.user("alice");
    const auto g = w.guest();
    CHECK(error_of(run(w.social->send_friend_request(g, a.user_id, ""))) == errc::forbidden);
    CHECK(error_of(run(w.social->send_friend_request(a, g.user_id, ""))) == errc::forbidden);
    CHECK(error_of(run(w.social->list_friends(g))) == errc::forbidden);
    CHECK(error_of(run(w.social->list_friend_requests(g))) == errc::forbidden);
    CHECK(error_of(run(w.make_group(g, "x", {}, true))) == errc::forbidden);
    auto group = value_of(run(w.make_group(a, "open", {}, true)));
    CHECK(error_of(run(w.social->join_group(g, group.group_id))) == errc::forbidden);
    CHECK(error_of(run(w.social->get_group(g, group.group_id))) == errc::forbidden);
    CHECK(error_of(run(w.social->add_members(a, group.group_id, {g.user_id}))) ==
          errc::forbidden);
    CHECK(error_of(run(w.make_group(a, "x", {g.user_id}, false))) == errc::forbidden);
}

TEST_CASE("groups: roles decide who adds and removes, the owner leaves only after a transfer",
          "[logic][social]") {
    test::world w;
    const auto owner = w.user("owner");
    const auto admin = w.user("admin");
    const auto m1 = w.user("member1");
    const auto m2 = w.user("member2");
    const auto out = w.user("outsider");
    auto g = value_of(run(w.make_group(owner, "Team", {admin.user_id, m1.user_id},
                                                  false)));
    CHECK(g.owner_id == owner.user_id);
    CHECK(g.member_count == 3);
    const auto gid = g.group_id;

    CHECK(error_of(run(w.social->get_group(out, gid))) == errc::forbidden);
    CHECK(error_of(run(w.social->get_group(out, 777))) == errc::not_found);
    CHECK(error_of(run(w.social->add_members(m1, gid, {m2.user_id}))) == errc::forbidden);
    CHECK(error_of(run(w.social->set_member_role(admin, gid, m1.user_id, "admin"))) ==
          errc::forbidden);
    CHECK(error_of(run(w.social->set_member_role(owner, gid, m1.user_id, "boss"))) ==
          errc::invalid_argument);
    CHECK(error_of(run(w.social->set_member_role(owner, gid, out.user_id, "admin"))) ==
          errc::not_found);
    value_of(run(w.social->set_member_role(owner, gid, admin.user_id, "admin")));
    // An admin adds and removes members, but not the owner.
    w.befriend_ids(admin.user_id, m2.user_id);  // one adds only one's own friends
    CHECK(value_of(run(w.social->add_members(admin, gid, {m2.user_id}))).member_count == 4);
    CHECK(error_of(run(w.social->add_members(admin, gid, {424242}))) == errc::not_found);
    value_of(run(w.social->remove_member(admin, gid, m2.user_id)));
    CHECK(error_of(run(w.social->remove_member(admin, gid, owner.user_id))) == errc::forbidden);
    CHECK(error_of(run(w.social->remove_member(m1, gid, admin.user_id))) == errc::forbidden);
    CHECK(error_of(run(w.social->remove_member(admin, gid, out.user_id))) == errc::not_found);
    // The owner cannot leave or step down until ownership passes.
    CHECK(error_of(run(w.social->remove_member(owner, gid, owner.user_id))) == errc::conflict);
    CHECK(error_of(run(w.social->set_member_role(owner, gid, owner.user_id, "member"))) ==
          errc::conflict);
    auto moved = value_of(run(w.social->set_member_role(owner, gid, m1.user_id, "owner")));
    CHECK(moved.owner_id == m1.user_id);
    auto page = value_of(run(w.social->list_members(m1, gid, 0, 50)));
    for (const auto& m : page.members) {
        if (m.user_id == owner.user_id) {
            CHECK(m.role == "admin");
        }
        if (m.user_id == m1.user_id) {
            CHECK(m.role == "owner");
        }
    }
    value_of(run(w.social->remove_member(owner, gid, owner.user_id)));
    CHECK(error_of(run(w.social->remove_member(owner, gid, owner.user_id))) == errc::not_found);
    // Anyone leaves by themself.
    value_of(run(w.social->remove_member(admin, gid, admin.user_id)));
    CHECK(value_of(run(w.social->get_group(m1, gid))).member_count == 1);
}

TEST_CASE("group events reach every member, the leaver included", "[logic][social]") {
    test::world w;
    const auto owner = w.user("owner");
    const auto a = w.user("alice");
    const auto b = w.user("bob");
    auto g = value_of(run(w.make_group(owner, "Team", {a.user_id}, true)));
    const auto gid = g.group_id;
    const std::string cid = "group:" + id_str(gid);

    auto all = w.deliveries.wait_for(
        [](const auto& v) { return !frames_named(v, "member_joined").empty(); });
    auto joined = frames_named(all, "member_joined");
    REQUIRE(joined.size() == 1);
    CHECK(joined[0].second["user_ids"] == nlohmann::json::array({id_str(a.user_id)}));
    CHECK(joined[0].second["conversation_id"] == cid);
    CHECK(joined[0].first.size() == 2);

    w.deliveries.clear();
    value_of(run(w.social->join_group(b, gid)));
    all = w.deliveries.wait_for(
        [](const auto& v) { return !frames_named(v, "member_joined").empty(); });
    joined = frames_named(all, "member_joined");
    REQUIRE(joined.size() == 1);
    CHECK(joined[0].second["user_ids"] == nlohmann::json::array({id_str(b.user_id)}));
    CHECK(joined[0].first.size() == 3);
    // Joining again is a no-op without an event.
    w.deliveries.clear();
    CHECK(value_of(run(w.social->join_group(b, gid))).member_count == 3);

    value_of(run(w.social->remove_member(b, gid, b.user_id)));
    all = w.deliveries.wait_for(
        [](const auto& v) { return !frames_named(v, "member_left").empty(); });
    CHECK(frames_named(all, "member_joined").empty());
    auto left = frames_named(all, "member_left");
    REQUIRE(left.size() == 1);
    CHECK(left[0].second["user_id"] == id_str(b.user_id));
    auto to = left[0].first;
    std::sort(to.begin(), to.end());
    std::vector<std::uint64_t> expected{owner.user_id, a.user_id, b.user_id};
    std::sort(expected.begin(), expected.end());
    CHECK(to == expected);

    w.deliveries.clear();
    value_of(run(w.social->set_member_role(owner, gid, a.user_id, "admin")));
    all = w.deliveries.wait_for(
        [](const auto& v) { return !frames_named(v, "group_updated").empty(); });
    auto updated = frames_named(all, "group_updated");
    REQUIRE(updated.size() == 1);
    CHECK(updated[0].second["group"]["group_id"] == id_str(gid));
    CHECK(updated[0].second["role"] == "admin");
    CHECK(updated[0].first.size() == 2);
}

TEST_CASE("group events are sharded by fanout.shard_size", "[logic][social]") {
    auto cfg = test::test_config();
    cfg.fanout.shard_size = 2;
    test::world w(cfg);
    const auto owner = w.user("owner");
    std::vector<std::uint64_t> members;
    for (int i = 0; i < 4; ++i) {
        members.push_back(w.user("member" + std::to_string(i)).user_id);
    }
    auto g = value_of(run(w.make_group(owner, "Big", members, false)));
    const auto all = w.deliveries.wait_for([](const auto& v) {
        std::size_t n = 0;
        for (const auto& f : frames_named(v, "member_joined")) {
            n += f.first.size();
        }
        return n >= 5;
    });
    const auto joined = frames_named(all, "member_joined");
    CHECK(joined.size() == 3);  // 5 members in shards of 2
    std::size_t recipients = 0;
    for (const auto& f : joined) {
        CHECK(f.first.size() <= 2);
        recipients += f.first.size();
    }
    CHECK(recipients == 5);
    CHECK(g.member_count == 5);
}

TEST_CASE("members are paged in ascending id order with next", "[logic][social]") {
    test::world w;
    const auto owner = w.user("owner");
    std::vector<std::uint64_t> ids{owner.user_id};
    for (int i = 0; i < 4; ++i) {
        ids.push_back(w.user("member" + std::to_string(i)).user_id);
    }
    auto g = value_of(run(w.make_group(owner, "Paged", ids, true)));
    std::sort(ids.begin(), ids.end());
    std::vector<std::uint64_t> seen;
    std::uint64_t after = 0;
    for (int page = 0; page < 10; ++page) {
        auto p = value_of(run(w.social->list_members(owner, g.group_id, after, 2)));
        for (const auto& m : p.members) {
            seen.push_back(m.user_id);
        }
        if (!p.next) {
            break;
        }
        CHECK(*p.next == p.members.back().user_id);
        after = *p.next;
    }
    CHECK(seen == ids);
    // Public groups are visible (and listable) to non-members.
    const auto out = w.user("outsider");
    CHECK(value_of(run(w.social->list_members(out, g.group_id, 0, 50))).members.size() == 5);
}

TEST_CASE("joining needs a public group and respects the member limit", "[logic][social]") {
    auto cfg = test::test_config();
    cfg.limits.max_group_members = 2;
    test::world w(cfg);
    const auto owner = w.user("owner");
    const auto a = w.user("alice");
    const auto b = w.user("bob");
    auto priv = value_of(run(w.make_group(owner, "Private", {}, false)));
    CHECK(error_of(run(w.social->join_group(a, priv.group_id))) == errc::forbidden);
    CHECK(error_of(run(w.social->join_group(a, 4242))) == errc::not_found);
    auto pub = value_of(run(w.make_group(owner, "Public", {}, true)));
    CHECK(value_of(run(w.social->join_group(a, pub.group_id))).member_count == 2);
    CHECK(error_of(run(w.social->join_group(b, pub.group_id))) == errc::conflict);
    CHECK(error_of(run(w.make_group(owner, "Big", {a.user_id, b.user_id}, false))) ==
          errc::conflict);
    CHECK(error_of(run(w.make_group(owner, "", {}, false))) == errc::invalid_argument);
}


// Records what a deleted group's conversation cleanup was told.
class recording_cleanup final : public conversation_cleanup {
public:
    boost::asio::awaitable<status> conversation_dropped(std::string conversation_id) override {
        std::lock_guard lock(mutex_);
        dropped_.push_back(std::move(conversation_id));
        co_return status{};
    }
    std::vector<std::string> dropped() {
        std::lock_guard lock(mutex_);
        return dropped_;
    }

private:
    std::mutex mutex_;
    std::vector<std::string> dropped_;
};

TEST_CASE("deleting a group: owner only, members told, the log dropped, the rest cleaned up",
          "[logic][social]") {
    test::world w;
    recording_cleanup cleanup;
    const dependencies deps{*w.store, *w.store, *w.store, *w.store, *w.store, *w.log, *w.bus, w.live, w.clock, w.ids, w.presence, w.metrics};
    auto social = make_social(deps, &cleanup);
    const auto owner = w.user("owner");
    const auto admin = w.user("admin");
    const auto member = w.user("member");
    const auto stranger = w.user("stranger");
    auto g = value_of(run(w.make_group(owner, "Doomed", {admin.user_id, member.user_id}, false)));
    const std::string cid = "group:" + id_str(g.group_id);
    value_of(run(social->set_member_role(owner, g.group_id, admin.user_id, "admin")));
    w.say(cid, member.user_id, "one");
    w.say(cid, owner.user_id, "two");
    REQUIRE(w.log->last_seq(cid) == 2);

    CHECK(error_of(run(social->delete_group(admin, g.group_id))) == errc::forbidden);
    CHECK(error_of(run(social->delete_group(member, g.group_id))) == errc::forbidden);
    CHECK(error_of(run(social->delete_group(stranger, g.group_id))) == errc::forbidden);
    CHECK(error_of(run(social->delete_group(w.guest(), g.group_id))) == errc::forbidden);
    CHECK(error_of(run(social->delete_group(owner, 424242))) == errc::not_found);
    CHECK(w.log->last_seq(cid) == 2);

    w.deliveries.clear();
    value_of(run(social->delete_group(owner, g.group_id)));
    auto all = w.deliveries.wait_for(
        [](const auto& v) { return !frames_named(v, "group_deleted").empty(); });
    auto deleted = frames_named(all, "group_deleted");
    REQUIRE(deleted.size() == 1);
    CHECK(deleted[0].second["group_id"] == id_str(g.group_id));
    CHECK(deleted[0].second["conversation_id"] == cid);
    auto to = deleted[0].first;
    std::sort(to.begin(), to.end());
    std::vector<std::uint64_t> expected{owner.user_id, admin.user_id, member.user_id};
    std::sort(expected.begin(), expected.end());
    CHECK(to == expected);

    CHECK(w.log->last_seq(cid) == 0);
    CHECK(cleanup.dropped() == std::vector<std::string>{cid});
    CHECK(value_of(run(w.store->deleted_groups())).empty());
    CHECK(error_of(run(social->get_group(owner, g.group_id))) == errc::not_found);
    CHECK(error_of(run(social->delete_group(owner, g.group_id))) == errc::not_found);
    CHECK(value_of(run(w.store->groups_of_user(member.user_id))).empty());
    // Nothing is left to finish at the next start.
    CHECK(value_of(run(social->finish_deleted_groups())) == 0);
}

TEST_CASE("a group deletion that a crash cut short is finished at the next start",
          "[logic][social]") {
    test::world w;
    const auto owner = w.user("owner");
    const auto member = w.user("member");
    auto g = value_of(run(w.make_group(owner, "Halfway", {member.user_id}, false)));
    const std::string cid = "group:" + id_str(g.group_id);
    w.say(cid, member.user_id, "still in the log");
    value_of(run(w.store->set_read_position(member.user_id, cid, 1, w.clock.now_ms())));

    // The store's transaction committed; the process died before the log dropped anything.
    auto gone = value_of(run(w.store->delete_group(g.group_id, owner.user_id, w.clock.now_ms())));
    CHECK(gone.member_ids.size() == 2);
    CHECK(value_of(run(w.store->get_read_position(member.user_id, cid))) == 0);
    CHECK(value_of(run(w.store->deleted_groups())) == std::vector<std::uint64_t>{g.group_id});
    REQUIRE(w.log->last_seq(cid) == 1);

    // The next start.
    recording_cleanup cleanup;
    const dependencies deps{*w.store, *w.store, *w.store, *w.store, *w.store, *w.log, *w.bus, w.live, w.clock, w.ids, w.presence, w.metrics};
    auto social = make_social(deps, &cleanup);
    CHECK(value_of(run(social->finish_deleted_groups())) == 1);
    CHECK(w.log->last_seq(cid) == 0);
    CHECK(cleanup.dropped() == std::vector<std::string>{cid});
    CHECK(value_of(run(w.store->deleted_groups())).empty());
    CHECK(value_of(run(social->finish_deleted_groups())) == 0);
    // A late sent record of the group's (its send committed before the drop) writes no read
    // state for it.
    value_of(run(w.store->record_sent({storage::sent_record{w.ids.next(), member.user_id, cid, 1,
                                                            w.clock.now_ms(), 0}})));
    CHECK(value_of(run(w.store->get_read_position(member.user_id, cid))) == 0);
}

}  // namespace
}  // namespace monochat::logic
