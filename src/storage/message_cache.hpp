#pragma once
// The recent-message cache of the RocksDB message log (Redis's role in the original design):
// for each of the most recently used conversations (LRU), one run of consecutive messages,
// normally the newest ones. The writer adds every committed message and state change; reads
// that miss fill it from disk. Bounded three ways: conversations, messages per conversation and
// bytes; every bound evicts, nothing waits.
//
// Consistency: a fill carries the ticket of its miss and is dropped if a commit touched the
// conversation since (the writer bumps a generation per conversation hash bucket under the
// cache lock, after the data is on disk). So a reader that read the disk before a commit can
// never overwrite what that commit put in the cache.
//
// Metrics: monochat_storage_cache_hits_total, monochat_storage_cache_misses_total,
// monochat_storage_cache_messages (gauge), monochat_storage_cache_bytes (gauge).
// Thread-safety: every member may be called from any thread (one mutex; copies are made under
// it, disk reads never are).

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/message_log.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace monochat::storage::detail {

class message_cache {
public:
    struct limits {
        std::size_t conversations = 0;
        std::size_t messages_per_conversation = 0;
        std::size_t bytes = 0;
    };

    // Taken at a miss; see the consistency note above.
    struct ticket {
        std::size_t bucket = 0;
        std::uint64_t generation = 0;
    };

    message_cache(const limits& bounds, infra::metrics_registry& metrics);
    ~message_cache();
    message_cache(const message_cache&) = delete;
    message_cache& operator=(const message_cache&) = delete;

    bool enabled() const noexcept { return enabled_; }

    // Messages [first, last] if all are cached (a hit); otherwise nullopt (a miss) and `miss`
    // holds the ticket for a later fill().
    std::optional<std::vector<stored_message>> lookup(const std::string& conversation_id,
                                                      std::uint64_t first, std::uint64_t last,
                                                      ticket& miss);

    // One message for the writer (targets, duplicates); touches neither counters nor LRU order.
    std::optional<stored_message> peek(const std::string& conversation_id, std::uint64_t seq);

    // Consecutive messages (ascending) read from disk after the miss that gave `t`.
    void fill(const std::string& conversation_id, const std::vector<stored_message>& messages,
              const ticket& t);

    // A committed batch: new messages in commit order and changed targets.
    void apply(const std::vector<stored_message>& new_messages,
               const std::vector<stored_message>& updated_targets);

    // A dropped conversation: its entry goes, and fills of reads that missed before are not
    // kept (the generation moves, as for a commit).
    void drop(const std::string& conversation_id);

    // For tests: cached messages of a conversation, 0 when not cached.
    std::size_t cached_messages(const std::string& conversation_id);

private:
    struct entry {
        std::string conversation_id;
        std::deque<stored_message> messages;  // consecutive seqs, ascending
        std::size_t bytes = 0;
    };
    using entry_list = std::list<entry>;

    static constexpr std::size_t bucket_count = 4096;

    static std::size_t bucket_of(const std::string& conversation_id);
    static std::size_t size_of(const stored_message& m);

    entry* find(const std::string& conversation_id);
    entry& find_or_create(const std::string& conversation_id);
    void touch(entry& e);
    void push_back(entry& e, const stored_message& m);
    void push_front(entry& e, const stored_message& m);
    void replace(entry& e, const stored_message& m);
    void clear(entry& e);
    void trim_front(entry& e);
    void evict();
    void publish_sizes();

    const bool enabled_;
    const limits limits_;

    std::mutex mutex_;
    entry_list lru_;  // front: most recently used
    std::unordered_map<std::string, entry_list::iterator> index_;
    std::array<std::uint64_t, bucket_count> generations_{};
    std::size_t messages_ = 0;
    std::size_t bytes_ = 0;
    std::size_t reported_messages_ = 0;
    std::size_t reported_bytes_ = 0;

    infra::counter& hits_;
    infra::counter& misses_;
    infra::gauge& messages_gauge_;
    infra::gauge& bytes_gauge_;
};

}  // namespace monochat::storage::detail
