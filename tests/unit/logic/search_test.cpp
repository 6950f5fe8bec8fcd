// The search service: who finds what (groups now, direct chats, world; guests world only),
// the checks on conversation_id, q and limit, and recalled messages never shown.

#include <catch2/catch.hpp>
#include <monochat/logic/search.hpp>
#include <monochat/storage/search_index.hpp>

#include "unit/logic/logic_test_support.hpp"

using namespace monochat;
using namespace monochat::logic;
using namespace monochat::logic::test;

namespace {

struct search_world : world {
    std::unique_ptr<storage::search_index> index;
    std::unique_ptr<access_control> access;
    std::unique_ptr<search_service> search;

    search_world() {
        storage::sqlite_search_index_options o;
        o.path = dir.file("search.db");
        index = value_of(storage::open_sqlite_search_index(o, metrics));
        access = std::make_unique<access_control>(*store, *store, *store, live);
        search = std::make_unique<search_service>(*index, *log, *store, *store, *access);
    }

    // Appends a text message and indexes it at once (the indexer's job, which is task's).
    std::uint64_t post(const std::string& cid, const identity& from, const std::string& text) {
        const auto seq = say(cid, from.user_id, text);
        const auto m = value_of(run(log->get(cid, seq)));
        storage::search_batch b;
        b.changes.push_back({storage::search_change_kind::add, cid, seq, m.message_id, text});
        b.positions.emplace_back(cid, seq);
        value_of(index->apply(b));
        return seq;
    }

    result<std::vector<std::string>> find(const identity& who, const std::string& q,
                                          std::optional<std::string> cid = std::nullopt,
                                          std::size_t limit = 50) {
        search_request r;
        r.q = q;
        r.conversation_id = std::move(cid);
        r.limit = limit;
        return run(search->search(who, std::move(r)));
    }

    // The texts found, newest first.
    std::vector<std::string> texts(const identity& who, const std::string& q,
                                   std::optional<std::string> cid = std::nullopt) {
        std::vector<std::string> out;
        for (const auto& m : value_of(find(who, q, std::move(cid)))) {
            out.push_back(nlohmann::json::parse(m)["body"].value("text", ""));
        }
        return out;
    }
};

using texts = std::vector<std::string>;

}  // namespace

TEST_CASE("a user finds world, their groups and their direct chats, a guest only world",
          "[logic][search]") {
    search_world w;
    auto alice = w.user("alice");
    auto bob = w.user("bob");
    auto carol = w.user("carol");
    auto visitor = w.guest();
    w.befriend(alice, bob);
    const auto g = value_of(run(w.make_group(alice, "team", {bob.user_id}, false)));
    const auto group = "group:" + std::to_string(g.group_id);
    const auto dm = storage::direct_conversation_id(alice.user_id, bob.user_id);
    value_of(run(w.store->record_direct_message(alice.user_id, bob.user_id, 1)));

    w.post(group, alice, "zebra group");
    w.post(dm, alice, "zebra direct");
    w.post("world", alice, "zebra world");

    CHECK(w.texts(alice, "zebra") == texts{"zebra world", "zebra direct", "zebra group"});
    CHECK(w.texts(bob, "zebra") == texts{"zebra world", "zebra direct", "zebra group"});
    CHECK(w.texts(carol, "zebra") == texts{"zebra world"});
    CHECK(w.texts(visitor, "zebra") == texts{"zebra world"});

    // Leaving the group ends finding its messages.
    value_of(run(w.social->remove_member(bob, g.group_id, bob.user_id)));
    CHECK(w.texts(bob, "zebra") == texts{"zebra world", "zebra direct"});
}

TEST_CASE("a conversation_id narrows the search after the history access check",
          "[logic][search]") {
    search_world w;
    auto alice = w.user("alice");
    auto carol = w.user("carol");
    auto visitor = w.guest();
    const auto g = value_of(run(w.make_group(alice, "team", {}, false)));
    const auto group = "group:" + std::to_string(g.group_id);
    w.post(group, alice, "lion in the group");
    w.post("world", alice, "lion in the world");

    CHECK(w.texts(alice, "lion", group) == texts{"lion in the group"});
    CHECK(w.texts(visitor, "lion", std::string("world")) == texts{"lion in the world"});
    CHECK(error_of(w.find(carol, "lion", group)) == errc::forbidden);
    CHECK(error_of(w.find(visitor, "lion", group)) == errc::forbidden);
    CHECK(error_of(w.find(carol, "lion", std::string("group:4242"))) == errc::not_found);
    CHECK(error_of(w.find(carol, "lion", std::string("nowhere"))) == errc::invalid_argument);
    // The conversation is checked even when the query has nothing searchable.
    CHECK(error_of(w.find(carol, "?!", group)) == errc::forbidden);
}

TEST_CASE("a recalled message is never returned, even while still indexed", "[logic][search]") {
    search_world w;
    auto alice = w.user("alice");
    const auto seq = w.post("world", alice, "regrettable words");
    storage::append_request recall;
    recall.conversation_id = "world";
    recall.sender_id = alice.user_id;
    recall.client_msg_id = "recall-1";
    recall.message_id = w.ids.next();
    recall.ts_ms = w.clock.now_ms();
    recall.body = R"({"type":"recall","target_seq":)" + std::to_string(seq) + "}";
    recall.target_seq = seq;
    recall.update_target = [](const storage::stored_message&) -> result<std::string> {
        return std::string(R"({"recalled":true})");
    };
    value_of(run(w.log->append(std::move(recall))));
    CHECK(w.texts(alice, "regrettable").empty());
}

TEST_CASE("hits are whole messages in history's wire form", "[logic][search]") {
    search_world w;
    auto alice = w.user("alice");
    w.post("world", alice, "wire form");
    const auto found = value_of(w.find(alice, "wire"));
    REQUIRE(found.size() == 1);
    const auto m = nlohmann::json::parse(found[0]);
    CHECK(m["conversation_id"] == "world");
    CHECK(m["seq"] == 1);
    CHECK(m["sender_id"] == std::to_string(alice.user_id));
    CHECK(m["body"]["type"] == "text");
}

TEST_CASE("q and limit are checked, a query of punctuation finds nothing", "[logic][search]") {
    search_world w;
    auto alice = w.user("alice");
    w.post("world", alice, "one two three");
    CHECK(error_of(w.find(alice, "")) == errc::invalid_argument);
    CHECK(error_of(w.find(alice, "one", std::nullopt, 0)) == errc::invalid_argument);
    CHECK(error_of(w.find(alice, "one", std::nullopt, 201)) == errc::invalid_argument);
    CHECK(value_of(w.find(alice, "\"")).empty());
    CHECK(value_of(w.find(alice, "*")).empty());
    CHECK(value_of(w.find(alice, "one", std::nullopt, 200)).size() == 1);
}
