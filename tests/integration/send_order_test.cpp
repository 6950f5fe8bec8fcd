// Contract v1.1, "Send order": sends on one connection into one conversation get seqs in the
// order the connection sent them, also when they are pipelined. A direct chat's permission
// check reads SQLite and suspends, so before the fix later sends overtook earlier ones (send 10
// got seq 12 while send 11 got seq 11 in a run of 300).

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "support/api.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using json = nlohmann::json;

namespace {

// Sends `n` texts into `cid` back to back, then checks that the acks' seqs rise with the send
// order, with no gap, and that the other member receives them in that order.
void pipelined_in_order(ws_client& sender, ws_client& reader, const std::string& cid, int n,
                        const std::string& tag) {
    for (int i = 0; i < n; ++i) {
        sender.send({{"type", "send"},
                     {"id", tag + std::to_string(i)},
                     {"conversation_id", cid},
                     {"client_msg_id", tag + std::to_string(i)},
                     {"body", {{"type", "text"}, {"text", tag + " " + std::to_string(i)}}}});
    }
    std::map<int, std::uint64_t> seq_of;
    for (int i = 0; i < n; ++i) {
        const auto ack = sender.expect("ack", std::chrono::milliseconds(20000));
        const std::string id = ack["id"];
        seq_of[std::stoi(id.substr(tag.size()))] = ack["seq"].get<std::uint64_t>();
    }
    REQUIRE(seq_of.size() == static_cast<std::size_t>(n));
    int out_of_order = 0;
    for (int i = 1; i < n; ++i) {
        if (seq_of[i] != seq_of[i - 1] + 1) {
            ++out_of_order;
            UNSCOPED_INFO("send " << i << " got seq " << seq_of[i] << ", send " << i - 1 << " got "
                                  << seq_of[i - 1]);
        }
    }
    CHECK(out_of_order == 0);
    for (int i = 0; i < n; ++i) {
        const auto m = reader.expect("message", std::chrono::milliseconds(20000));
        CHECK(m["message"]["body"]["text"] == tag + " " + std::to_string(i));
    }
}

}  // namespace

TEST_CASE("pipelined sends keep their order in a direct chat and in a group",
          "[integration][send_order]") {
    two_friends t;
    const auto carol = register_user(*t.http, unique_name("carol"));
    const std::string group = "group:" + create_group(*t.http, t.alice, {t.bob, carol});
    ws_client a(t.server.host(), t.server.port(), t.alice.token);
    ws_client b(t.server.host(), t.server.port(), t.bob.token);

    SECTION("direct chat") { pipelined_in_order(a, b, t.dm, 300, "d"); }
    SECTION("group") { pipelined_in_order(a, b, group, 300, "g"); }
    SECTION("two conversations interleaved on one connection") {
        // Each conversation keeps its own order; neither waits for the other's seqs.
        for (int i = 0; i < 100; ++i) {
            for (const auto& [cid, tag] : {std::pair{t.dm, std::string("x")}, std::pair{group, std::string("y")}}) {
                a.send({{"type", "send"},
                        {"id", tag + std::to_string(i)},
                        {"conversation_id", cid},
                        {"client_msg_id", tag + std::to_string(i)},
                        {"body", {{"type", "text"}, {"text", tag + std::to_string(i)}}}});
            }
        }
        std::map<std::string, std::uint64_t> last;
        for (int i = 0; i < 200; ++i) {
            const auto ack = a.expect("ack", std::chrono::milliseconds(20000));
            const std::string id = ack["id"];
            (void)id;
            const std::string cid = ack["conversation_id"];
            const auto seq = ack["seq"].get<std::uint64_t>();
            last[cid] = std::max(last[cid], seq);
        }
        // Per conversation, the i-th send got the i-th seq: read it back from history.
        for (const auto& [cid, tag] : {std::pair{t.dm, std::string("x")}, std::pair{group, std::string("y")}}) {
            const auto page = t.http->get("/api/v1/conversations/" + cid + "/messages?limit=100", t.alice.token).json();
            REQUIRE(page["messages"].size() == 100);
            for (int i = 0; i < 100; ++i) {
                CHECK(page["messages"][i]["body"]["text"] == tag + std::to_string(i));
            }
        }
    }
}
