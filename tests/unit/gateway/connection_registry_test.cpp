#include <algorithm>
#include <catch2/catch.hpp>
#include <monochat/gateway/connection_registry.hpp>

using namespace monochat::gateway;

namespace {
class fake_connection final : public ws_connection {
public:
    fake_connection(std::uint64_t session, std::uint64_t user, std::string token = "t")
        : session_(session), user_(user), token_(std::move(token)) {}
    std::uint64_t session_id() const override { return session_; }
    std::uint64_t user_id() const override { return user_; }
    const std::string& token_hash() const override { return token_; }
    bool push(const std::shared_ptr<const std::string>& frame) override {
        frames.push_back(*frame);
        return true;
    }
    void close(std::uint16_t code, std::string) override { closed_with = code; }

    std::vector<std::string> frames;
    std::uint16_t closed_with = 0;

private:
    std::uint64_t session_;
    std::uint64_t user_;
    std::string token_;
};

std::shared_ptr<const std::string> frame(std::string s) {
    return std::make_shared<const std::string>(std::move(s));
}
}  // namespace

TEST_CASE("the first and last session of a user report presence changes", "[gateway][registry]") {
    connection_registry r;
    auto a = std::make_shared<fake_connection>(1, 7);
    auto b = std::make_shared<fake_connection>(2, 7);
    CHECK(r.add(a));
    CHECK_FALSE(r.add(b));
    CHECK(r.is_online(7));
    CHECK(r.online_users() == 1);
    CHECK(r.connections() == 2);
    CHECK_FALSE(r.remove(*a));
    CHECK(r.remove(*b));
    CHECK_FALSE(r.is_online(7));
    CHECK(r.online_users() == 0);
    CHECK_FALSE(r.remove(*b));  // twice is harmless
    CHECK(r.connections() == 0);
}

TEST_CASE("pushes reach every session of a user except the excluded one", "[gateway][registry]") {
    connection_registry r;
    auto a = std::make_shared<fake_connection>(1, 7);
    auto b = std::make_shared<fake_connection>(2, 7);
    auto c = std::make_shared<fake_connection>(3, 8);
    r.add(a);
    r.add(b);
    r.add(c);
    CHECK(r.push_to_user(7, frame("x"), 1) == 1);
    CHECK(a->frames.empty());
    CHECK(b->frames == std::vector<std::string>{"x"});
    CHECK(c->frames.empty());
    CHECK(r.push_to_user(99, frame("y")) == 0);
}

TEST_CASE("world pushes reach subscribers only, minus excluded session and user", "[gateway][registry]") {
    connection_registry r;
    auto a = std::make_shared<fake_connection>(1, 7);
    auto b = std::make_shared<fake_connection>(2, 8);
    auto c = std::make_shared<fake_connection>(3, 9);
    auto d = std::make_shared<fake_connection>(4, 9);
    for (auto& x : {a, b, c, d}) {
        r.add(x);
    }
    r.subscribe_world(a);
    r.subscribe_world(b);
    r.subscribe_world(c);
    r.subscribe_world(d);
    CHECK(r.world_subscribers() == 4);
    CHECK(r.push_to_world(frame("w"), 1, 9) == 1);
    CHECK(b->frames.size() == 1);
    CHECK(a->frames.empty());
    CHECK(c->frames.empty());
    r.unsubscribe_world(*b);
    r.remove(*c);
    CHECK(r.world_subscribers() == 2);
}

TEST_CASE("closing by token, by user and all", "[gateway][registry]") {
    connection_registry r;
    auto a = std::make_shared<fake_connection>(1, 7, "tokA");
    auto b = std::make_shared<fake_connection>(2, 7, "tokB");
    auto c = std::make_shared<fake_connection>(3, 8, "tokC");
    r.add(a);
    r.add(b);
    r.add(c);
    r.close_token("tokA", 4001, "logout");
    CHECK(a->closed_with == 4001);
    CHECK(b->closed_with == 0);
    r.close_user(8, 4003, "suspended");
    CHECK(c->closed_with == 4003);
    r.close_all(1001, "going away");
    CHECK(b->closed_with == 1001);
}

// A large group's push in lanes: each lane reaches exactly the online members whose shard is
// its own, both when it walks the members (most are online) and when it walks the online users
// (most members offline); together the lanes reach each online member's sessions once.
TEST_CASE("a group push split in lanes reaches each online member once", "[gateway][registry]") {
    connection_registry r;
    std::vector<std::shared_ptr<fake_connection>> conns;
    std::uint64_t session = 1;
    for (std::uint64_t user = 1; user <= 200; ++user) {
        conns.push_back(std::make_shared<fake_connection>(session++, user));
        r.add(conns.back());
    }
    auto second = std::make_shared<fake_connection>(session++, 10);  // user 10 twice
    r.add(second);
    auto outsider = std::make_shared<fake_connection>(session++, 5000);
    r.add(outsider);

    std::vector<std::uint64_t> members;
    // "most online": users 1..200 and a few offline ones
    // "most offline": every third user of 1..200 plus 5,000 offline ids
    const bool mostly_offline = GENERATE(false, true);
    for (std::uint64_t user = 1; user <= 200; ++user) {
        if (!mostly_offline || user % 3 == 1) {
            members.push_back(user);
        }
    }
    for (std::uint64_t user = 10'000; user < (mostly_offline ? 15'000U : 10'010U); ++user) {
        members.push_back(user);
    }
    const std::size_t lanes = GENERATE(1U, 2U, 3U);
    const std::uint64_t excluded_session = conns[3]->session_id();  // user 4's
    std::size_t pushed = 0;
    for (std::size_t lane = 0; lane < lanes; ++lane) {
        pushed += r.push_to_members(members, frame("m"), excluded_session, 7, 0, lane, lanes);
    }
    std::size_t expected = 0;
    for (const auto& c : conns) {
        const bool member = std::binary_search(members.begin(), members.end(), c->user_id());
        const bool reached = member && c->user_id() != 7 && c->session_id() != excluded_session;
        INFO("user " << c->user_id() << " lanes " << lanes << " mostly offline " << mostly_offline);
        CHECK(c->frames.size() == (reached ? 1U : 0U));
        expected += reached ? 1 : 0;
    }
    CHECK(second->frames.size() == 1);  // user 10 is a member in both layouts
    CHECK(outsider->frames.empty());
    CHECK(pushed == expected + 1);
}

// The online walk merges each shard's ascending online users into the members: users who come
// and go keep that list right, and members far apart in the id space are still found.
TEST_CASE("a group push finds online members after connects and disconnects", "[gateway][registry]") {
    connection_registry r;
    std::vector<std::shared_ptr<fake_connection>> conns;
    std::uint64_t session = 1;
    for (std::uint64_t user = 1000; user < 1000 + 64 * 40; user += 40) {  // 64 users, spread out
        conns.push_back(std::make_shared<fake_connection>(session++, user));
        r.add(conns.back());
    }
    // Every other one leaves, then a second session of a member comes and goes.
    for (std::size_t i = 0; i < conns.size(); i += 2) {
        r.remove(*conns[i]);
    }
    auto extra = std::make_shared<fake_connection>(session++, conns[1]->user_id());
    r.add(extra);
    r.remove(*extra);
    // 100,000 members with every connected user among them: the online walk.
    std::vector<std::uint64_t> members;
    for (std::uint64_t user = 1; user <= 100'000; ++user) {
        members.push_back(user);
    }
    std::size_t pushed = 0;
    for (std::size_t lane = 0; lane < 2; ++lane) {
        pushed += r.push_to_members(members, frame("m"), 0, 0, 0, lane, 2);
    }
    CHECK(pushed == conns.size() / 2);
    for (std::size_t i = 0; i < conns.size(); ++i) {
        CHECK(conns[i]->frames.size() == (i % 2 == 1 ? 1U : 0U));
    }
    CHECK(extra->frames.empty());
}
