// Unit tests of the message log's private parts: the byte codec, the group-commit queue and
// the recent-message cache.

#include <fmt/format.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <monochat/infra/metrics.hpp>
#include <thread>
#include <vector>

#include "storage/message_cache.hpp"
#include "storage/message_codec.hpp"
#include "storage/write_queue.hpp"

namespace {

using namespace monochat;
using namespace monochat::storage;

stored_message sample(std::string conversation, std::uint64_t seq) {
    stored_message m;
    m.conversation_id = std::move(conversation);
    m.seq = seq;
    m.message_id = 7290512345678901248ULL + seq;
    m.sender_id = 7290512345000000001ULL;
    m.client_msg_id = fmt::format("c-{}", seq);
    m.ts_ms = 1795000000123;
    m.body = R"({"type":"text","text":"hello"})";
    return m;
}

struct node {
    node* queue_next_ = nullptr;
    int producer = 0;
    int index = 0;
};

}  // namespace

TEST_CASE("a stored message survives encoding and decoding", "[message_log]") {
    stored_message m = sample("group:42", 17);
    m.state = R"({"recalled":true})";
    m.target_seq = 3;
    m.ts_ms = -5;
    const auto value = codec::encode_message(m);
    auto back = codec::decode_message(value, "group:42", 17);
    REQUIRE(back.has_value());
    REQUIRE(back->conversation_id == m.conversation_id);
    REQUIRE(back->seq == m.seq);
    REQUIRE(back->message_id == m.message_id);
    REQUIRE(back->sender_id == m.sender_id);
    REQUIRE(back->client_msg_id == m.client_msg_id);
    REQUIRE(back->ts_ms == m.ts_ms);
    REQUIRE(back->body == m.body);
    REQUIRE(back->state == m.state);
    REQUIRE(back->target_seq == m.target_seq);
    // Compact: the body plus a few bytes.
    REQUIRE(value.size() < m.body.size() + m.state.size() + m.client_msg_id.size() + 32);
}

TEST_CASE("damaged values decode to internal errors, never to garbage", "[message_log]") {
    const auto value = codec::encode_message(sample("c", 1));
    for (std::size_t cut = 0; cut < value.size(); ++cut) {
        auto r = codec::decode_message(value.substr(0, cut), "c", 1);
        REQUIRE_FALSE(r.has_value());
        REQUIRE(r.error().code == errc::internal);
    }
    REQUIRE_FALSE(codec::decode_message(value + "x", "c", 1).has_value());
    std::string wrong_version = value;
    wrong_version[0] = 9;
    REQUIRE_FALSE(codec::decode_message(wrong_version, "c", 1).has_value());
    REQUIRE_FALSE(codec::decode_idempotency("").has_value());
    REQUIRE_FALSE(codec::decode_conversation("\x01").has_value());
}

TEST_CASE("idempotency entries and conversation heads round-trip", "[message_log]") {
    codec::idempotency_record r{"dm:1:2", 9, 123456789, 1795000000123, 1795000000999};
    auto back = codec::decode_idempotency(codec::encode_idempotency(r));
    REQUIRE(back.has_value());
    REQUIRE(back->conversation_id == "dm:1:2");
    REQUIRE(back->seq == 9);
    REQUIRE(back->message_id == 123456789);
    REQUIRE(back->ts_ms == 1795000000123);
    REQUIRE(back->written_at_ms == 1795000000999);
    auto head = codec::decode_conversation(codec::encode_conversation({1ULL << 40, 42}));
    REQUIRE(head.has_value());
    REQUIRE(head->last_seq == 1ULL << 40);
    REQUIRE(head->last_ts_ms == 42);
    REQUIRE(codec::idempotency_key(17, "abc") == std::string("17\0abc", 6));
}

TEST_CASE("message keys keep a conversation contiguous and in seq order", "[message_log]") {
    REQUIRE(codec::message_key("a", 2) < codec::message_key("a", 256));
    REQUIRE(codec::message_key("a", 255) < codec::message_key("a", 256));
    REQUIRE(codec::message_key("a", ~0ULL) < codec::message_key("a!", 0));
    REQUIRE(codec::message_key("a", ~0ULL) < codec::message_key("ab", 0));
    REQUIRE(codec::message_key("a", 5) < codec::message_key_successor("a", 5));
    REQUIRE(codec::message_key_successor("a", 5) < codec::message_key("a", 6));
    std::string_view conversation;
    std::uint64_t seq = 0;
    const std::string key = codec::message_key("group:1", 300);
    REQUIRE(codec::decode_message_key(key, conversation, seq).has_value());
    REQUIRE(conversation == "group:1");
    REQUIRE(seq == 300);
    REQUIRE_FALSE(codec::decode_message_key("short", conversation, seq).has_value());
}

TEST_CASE("the write queue hands every node to the writer once, in each producer's order",
          "[message_log]") {
    storage::detail::write_queue<node> queue;
    constexpr int producers = 4;
    constexpr int per_producer = 5000;
    std::vector<std::vector<node>> nodes(producers, std::vector<node>(per_producer));
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            for (int i = 0; i < per_producer; ++i) {
                nodes[p][i].producer = p;
                nodes[p][i].index = i;
                REQUIRE(queue.push(&nodes[p][i]));
            }
        });
    }
    std::map<int, int> next;
    int taken = 0;
    while (taken < producers * per_producer) {
        const auto group = queue.take();
        REQUIRE_FALSE(group.closed);
        for (node* n = group.oldest; n != nullptr; n = n->queue_next_) {
            REQUIRE(n->index == next[n->producer]);
            ++next[n->producer];
            ++taken;
        }
    }
    for (auto& t : threads) {
        t.join();
    }
    node late;
    REQUIRE(queue.push(&late));
    queue.close();
    node refused;
    REQUIRE_FALSE(queue.push(&refused));
    auto last = queue.take();  // what was queued before close still comes out
    REQUIRE(last.closed);
    REQUIRE(last.oldest == &late);
    REQUIRE(last.oldest->queue_next_ == nullptr);
    auto empty = queue.take();  // and then nothing, without blocking
    REQUIRE(empty.closed);
    REQUIRE(empty.oldest == nullptr);
}

TEST_CASE("the cache drops a fill that raced with a commit", "[message_log]") {
    infra::metrics_registry metrics;
    storage::detail::message_cache cache({10, 100, 1 << 20}, metrics);
    storage::detail::message_cache::ticket ticket;
    REQUIRE_FALSE(cache.lookup("c", 1, 2, ticket).has_value());

    // The reader read seqs 1-2 from disk; meanwhile the writer changed seq 1's state.
    std::vector<stored_message> from_disk = {sample("c", 1), sample("c", 2)};
    auto edited = sample("c", 1);
    edited.state = "edited";
    cache.apply({}, {edited});
    cache.fill("c", from_disk, ticket);
    REQUIRE(cache.cached_messages("c") == 0);

    // A fresh miss fills; a later commit of seq 3 extends the run.
    REQUIRE_FALSE(cache.lookup("c", 1, 2, ticket).has_value());
    from_disk[0] = edited;
    cache.fill("c", from_disk, ticket);
    cache.apply({sample("c", 3)}, {});
    auto hit = cache.lookup("c", 1, 3, ticket);
    REQUIRE(hit.has_value());
    REQUIRE(hit->size() == 3);
    REQUIRE((*hit)[0].state == "edited");
    REQUIRE(metrics.get_counter("monochat_storage_cache_hits_total", "").value() == 1);
    REQUIRE(metrics.get_counter("monochat_storage_cache_misses_total", "").value() == 2);
    REQUIRE(metrics.get_gauge("monochat_storage_cache_messages", "").value() == 3);
}

TEST_CASE("the cache evicts the least recently used conversation and trims long ones",
          "[message_log]") {
    infra::metrics_registry metrics;
    storage::detail::message_cache cache({2, 3, 1 << 20}, metrics);
    for (std::uint64_t s = 1; s <= 5; ++s) {
        cache.apply({sample("a", s)}, {});
    }
    REQUIRE(cache.cached_messages("a") == 3);
    cache.apply({sample("b", 1)}, {});
    storage::detail::message_cache::ticket ticket;
    REQUIRE(cache.lookup("a", 3, 5, ticket).has_value());  // a is now the most recent
    cache.apply({sample("c", 1)}, {});
    REQUIRE(cache.cached_messages("b") == 0);
    REQUIRE(cache.cached_messages("a") == 3);
    REQUIRE(cache.cached_messages("c") == 1);
    REQUIRE(metrics.get_gauge("monochat_storage_cache_messages", "").value() == 4);
}

TEST_CASE("the cache stays under its byte bound", "[message_log]") {
    infra::metrics_registry metrics;
    const std::size_t one = sizeof(stored_message) + 1 + 3 + 30;
    storage::detail::message_cache cache({100, 100, 5 * one}, metrics);
    for (std::uint64_t s = 1; s <= 9; ++s) {
        cache.apply({sample(std::string(1, static_cast<char>('a' + s % 3)), s)}, {});
    }
    REQUIRE(metrics.get_gauge("monochat_storage_cache_bytes", "").value() <=
            static_cast<double>(5 * one));
    REQUIRE(metrics.get_gauge("monochat_storage_cache_messages", "").value() >= 1);
}
