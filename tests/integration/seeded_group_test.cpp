// Issue 22: a group of 20,000 members written by `monochat seed` (not registered through the
// API), 500 of them online. Every online member gets every message once and in order while
// other members leave and new ones join; member_count and paging through the members stay
// right. Also: a seeded user logs in with the seeded password and sees the group, and seeding
// refuses a data directory a server is using.

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/api.hpp"
#include "support/ws_swarm.hpp"

using namespace monochat::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t group_size = 20'000;
constexpr std::size_t online = 500;   // members 0..499 stay and are online
constexpr std::size_t churn = 50;     // members 500..549 leave; users 20000..20049 join
constexpr int senders = 4;            // members 0..3
constexpr int rounds = 5;             // each: one message per sender, then 10 leave, 10 join
const std::string password = "seeded password";

json text_send(const std::string& cid, const std::string& cmid) {
    return {{"type", "send"},
            {"id", cmid},
            {"conversation_id", cid},
            {"client_msg_id", cmid},
            {"body", {{"type", "text"}, {"text", "to twenty thousand"}}}};
}

struct seeded_line {
    std::string user_id;
    std::string username;
    std::string token;
};

std::vector<seeded_line> read_tokens(const std::string& path) {
    std::vector<seeded_line> out;
    std::ifstream in(path);
    seeded_line l;
    while (in >> l.user_id >> l.username >> l.token) {
        out.push_back(l);
    }
    return out;
}

json summary_of(const std::string& output) {
    std::istringstream in(output);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("{\"users\"", 0) == 0) {
            return json::parse(line);
        }
    }
    FAIL("no summary line in the seed's output: " << output);
    return {};
}

}  // namespace

TEST_CASE("a seeded 20000-member group: 500 online members get every message once, in order, while others join and leave",
          "[integration][large][seed]") {
    server_process server(fast_test_config());
    const std::string prefix = unique_name("sd");
    const std::string tokens_path = server.data_dir() + ".tokens";
    // The seeded hash is made at the configured cost; the test config's is cheap.
    const std::map<std::string, std::string> env{{"MONOCHAT_STORAGE_DATA_DIR", server.data_dir()},
                                                 {"MONOCHAT_AUTH_ARGON2_OPS", "1"},
                                                 {"MONOCHAT_AUTH_ARGON2_MEMORY_KIB", "64"}};
    const auto seeded = run_monochat(
        {"seed", "--users", std::to_string(group_size + churn), "--group-members",
         std::to_string(group_size), "--tokens", std::to_string(online + churn), "--prefix", prefix,
         "--password", password, "--group-name", "twenty thousand", "--out", tokens_path},
        env, 120s);
    INFO(seeded.output);
    REQUIRE(seeded.exit.exited);
    REQUIRE(seeded.exit.code == 0);
    const json summary = summary_of(seeded.output);
    REQUIRE(summary["users"] == group_size + churn);
    REQUIRE(summary["group_members"] == group_size);
    const std::string gid = summary["group_id"].get<std::string>();
    const std::string cid = summary["conversation_id"].get<std::string>();
    REQUIRE(cid == "group:" + gid);
    const auto lines = read_tokens(tokens_path);
    REQUIRE(lines.size() == online + churn);
    REQUIRE(lines[0].user_id == summary["first_user_id"].get<std::string>());

    server.start();
    http_client http(server.host(), server.port());

    // Seeding takes the data directory's locks: never under a running server.
    const auto refused = run_monochat({"seed", "--users", "1", "--prefix", prefix + "x"}, env, 60s);
    CHECK(refused.exit.exited);
    CHECK(refused.exit.code == 1);

    // A seeded user logs in with the seeded password and sees the group; a seeded token works.
    const auto login =
        http.post("/api/v1/auth/login", {{"username", prefix + "1"}, {"password", password}});
    REQUIRE(login.status == 200);
    const std::string member_token = login.json()["token"].get<std::string>();
    CHECK(login.json()["user"]["user_id"] == lines[1].user_id);
    CHECK(http.post("/api/v1/auth/login", {{"username", prefix + "1"}, {"password", "wrong one!"}})
              .status == 401);
    const auto convs = http.get("/api/v1/conversations", member_token).json();
    CHECK(std::any_of(convs["conversations"].begin(), convs["conversations"].end(),
                      [&](const json& c) { return c["conversation_id"] == cid; }));
    const auto group = http.get("/api/v1/groups/" + gid, lines[0].token);
    REQUIRE(group.status == 200);
    CHECK(group.json()["group"]["member_count"] == group_size);
    CHECK(group.json()["group"]["owner_id"] == lines[0].user_id);
    CHECK(group.json()["group"]["name"] == "twenty thousand");
    const auto me = http.get("/api/v1/me", lines[7].token);
    REQUIRE(me.status == 200);
    CHECK(me.json()["user"]["username"] == prefix + "7");

    // Joiners: seeded users outside the group, logged in with the password.
    std::vector<std::string> joiner_ids;
    std::vector<std::string> tokens;
    for (const auto& l : lines) {
        tokens.push_back(l.token);
    }
    for (std::size_t j = 0; j < churn; ++j) {
        const auto r = http.post("/api/v1/auth/login", {{"username", prefix + std::to_string(group_size + j)},
                                                        {"password", password}});
        REQUIRE(r.status == 200);
        joiner_ids.push_back(r.json()["user"]["user_id"].get<std::string>());
        tokens.push_back(r.json()["token"].get<std::string>());
    }
    // Connections: 0..499 stay, 500..549 leave, 550..599 join.
    ws_swarm swarm(server.host(), server.port());
    swarm.connect(tokens, 120s);

    const std::size_t per_round = churn / rounds;
    for (int m = 0; m < rounds; ++m) {
        for (int s = 0; s < senders; ++s) {
            swarm.send(static_cast<std::size_t>(s),
                       text_send(cid, "s" + std::to_string(s) + "m" + std::to_string(m)));
        }
        // While those fan out: some members leave, others join.
        for (std::size_t k = 0; k < per_round; ++k) {
            const std::size_t leaver = online + m * per_round + k;
            REQUIRE(http.del("/api/v1/groups/" + gid + "/members/" + lines[leaver].user_id,
                             lines[leaver].token)
                        .status == 204);
            const std::size_t joiner = m * per_round + k;
            REQUIRE(http.post("/api/v1/groups/" + gid + "/join", tokens[online + churn + joiner])
                        .status == 200);
        }
    }
    // After every change: this one must reach the joiners and none of the leavers.
    swarm.send(0, text_send(cid, "final"));
    const std::uint64_t total = senders * rounds + 1;
    auto expected_pushes = [&](std::size_t i) -> std::uint64_t {
        if (i == 0) {
            return total - rounds - 1;
        }
        return i < senders ? total - rounds : total;
    };
    const bool arrived = wait_until(
        [&] {
            for (std::size_t i = 0; i < online; ++i) {
                if (swarm.stats_of(i).messages < expected_pushes(i)) {
                    return false;
                }
            }
            for (std::size_t j = 0; j < churn; ++j) {
                if (swarm.last_seq(online + churn + j, cid) < total) {
                    return false;
                }
            }
            return true;
        },
        120s);
    std::this_thread::sleep_for(300ms);  // let any duplicate arrive before counting
    REQUIRE(arrived);
    for (std::size_t i = 0; i < swarm.size(); ++i) {
        const auto st = swarm.stats_of(i);
        INFO("connection " << i);
        REQUIRE(st.out_of_order == 0);
        REQUIRE(st.duplicates == 0);
        REQUIRE(st.gaps == 0);
        REQUIRE(st.errors == 0);
        REQUIRE_FALSE(st.closed);
        if (i < online) {
            REQUIRE(st.messages == expected_pushes(i));
            REQUIRE(st.acks == (i == 0 ? rounds + 1 : i < senders ? rounds : 0));
            if (i != 0) {  // the final message comes back to connection 0 as an ack
                REQUIRE(swarm.last_seq(i, cid) == total);
            }
        } else if (i < online + churn) {
            REQUIRE(swarm.last_seq(i, cid) < total);  // gone before the final message
        } else {
            REQUIRE(swarm.last_seq(i, cid) == total);
        }
    }

    // member_count and a walk through every page of members agree with what happened.
    CHECK(http.get("/api/v1/groups/" + gid, member_token).json()["group"]["member_count"] ==
          group_size);
    std::vector<std::string> ids;
    std::set<std::string> owners;
    std::string after;
    for (int pages = 0; pages < 1000; ++pages) {
        const auto page = http.get("/api/v1/groups/" + gid + "/members?limit=200" +
                                       (after.empty() ? "" : "&after=" + after),
                                   member_token);
        REQUIRE(page.status == 200);
        const auto j = page.json();
        for (const auto& m : j["members"]) {
            ids.push_back(m["user_id"].get<std::string>());
            if (m["role"] == "owner") {
                owners.insert(ids.back());
            }
        }
        if (j["next"].is_null()) {
            break;
        }
        after = j["next"].get<std::string>();
    }
    CHECK(ids.size() == group_size);
    const std::set<std::string> unique(ids.begin(), ids.end());
    CHECK(unique.size() == ids.size());
    CHECK(std::is_sorted(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
        return std::stoull(a) < std::stoull(b);
    }));
    CHECK(owners == std::set<std::string>{lines[0].user_id});
    for (const auto& j : joiner_ids) {
        CHECK(unique.count(j) == 1);
    }
    for (std::size_t k = online; k < online + churn; ++k) {
        CHECK(unique.count(lines[k].user_id) == 0);
    }
    for (std::size_t k = 0; k < online; ++k) {
        CHECK(unique.count(lines[k].user_id) == 1);
    }
}
