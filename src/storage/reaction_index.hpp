#pragma once
// The reaction index of the message log (message_log.hpp, "Reactions"): its key layout, the
// writer's batch-local view of it, and the one function that applies a reaction to a target.
// Both engines store the same keys (RocksDB: the `reactions` column family; memory: an ordered
// map), so this file is the only owner of the layout, as message_codec.hpp is for messages.
//
//   by user   message_key \x01 'u' emoji_len emoji user_id(8 bytes big-endian) -> order (be64)
//   by order  message_key \x01 'o' emoji_len emoji order(8 bytes big-endian)   -> user_id (be64)
//
// message_key is `conversation_id \0 seq(be64)`, so every key of one message lies in
// [message_key(c, seq), message_key(c, seq + 1)) and a recall drops them with one range delete.
// "By user" answers "has u reacted with e" (one point read) and lists reactors by user id; "by
// order" finds the next reactor in reaction order when one of a summary's first users leaves.

#include <cstdint>
#include <map>
#include <monochat/infra/result.hpp>
#include <monochat/storage/message_log.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace monochat::storage::detail {

// The longest emoji the index stores (its length is one byte of the key). The protocol allows
// 32 bytes; messages migrated from before the index may hold up to 64.
constexpr std::size_t max_index_emoji_bytes = 255;

std::string reaction_user_key(std::string_view conversation_id, std::uint64_t seq,
                              std::string_view emoji, std::uint64_t user_id);
std::string reaction_order_key(std::string_view conversation_id, std::uint64_t seq,
                               std::string_view emoji, std::uint64_t order);
// Exclusive end of every "by user" (or "by order") key of one message and emoji.
std::string reaction_user_end(std::string_view conversation_id, std::uint64_t seq,
                              std::string_view emoji);
std::string reaction_order_end(std::string_view conversation_id, std::uint64_t seq,
                               std::string_view emoji);
// [begin, end) of every index key of one message.
std::pair<std::string, std::string> reaction_message_range(std::string_view conversation_id,
                                                           std::uint64_t seq);
// The user id (or order) at the end of a "by user" (or "by order") key; 0 when malformed.
std::uint64_t reaction_key_suffix(std::string_view key);

std::string encode_be64(std::uint64_t v);
// 0 when `value` is not 8 bytes.
std::uint64_t decode_be64(std::string_view value);

// One change of the index, applied in batch order.
struct index_op {
    enum class kind { put, erase, erase_range };
    kind what = kind::put;
    std::string key;
    std::string value;  // put: the value; erase_range: the exclusive end
};

// Read access to the committed index. Thread-safe in both engines (readers and the writer).
class index_reader {
public:
    virtual ~index_reader() = default;
    virtual result<std::optional<std::string>> index_get(const std::string& key) = 0;
    // Up to `limit` entries with from <= key < end, ascending.
    virtual result<std::vector<std::pair<std::string, std::string>>> index_scan(
        const std::string& from, const std::string& end, std::size_t limit) = 0;
};

// The writer's view of the index during one group: committed entries overlaid with what the
// group staged so far, and the ops to write. Dropped with the group if its write fails.
class index_overlay {
public:
    explicit index_overlay(index_reader& committed) : committed_(committed) {}

    result<std::optional<std::string>> get(const std::string& key);
    // The first live entry with from <= key < end.
    result<std::optional<std::pair<std::string, std::string>>> first(const std::string& from,
                                                                     const std::string& end);
    void put(std::string key, std::string value);
    void erase(std::string key);
    void erase_range(std::string begin, std::string end);

    std::vector<index_op>& ops() { return ops_; }

private:
    bool cleared(const std::string& key) const;

    index_reader& committed_;
    // Staged entries; nullopt: erased.
    std::map<std::string, std::optional<std::string>> staged_;
    std::vector<std::pair<std::string, std::string>> cleared_ranges_;
    std::vector<index_op> ops_;
};

// Applies `change` by `user_id` to `target` (its summary and the index). Returns whether
// anything changed (false: an add the user already had, a remove they did not have).
// Errors: conflict (a new emoji past change.max_kinds), invalid_argument (an emoji the index
// cannot hold), errors of the index reads.
result<bool> apply_reaction(stored_message& target, const reaction_change& change,
                            std::uint64_t user_id, index_overlay& index);

// Drops every reaction of `target`. Returns whether it had any.
bool clear_reactions(stored_message& target, index_overlay& index);

// A message stored before the reaction index kept its reactions in `state` as
// {"reactions": {"<emoji>": ["<user id>", ...]}} (users in reaction order). Moves them into
// `m.reactions` and returns the index entries to write; nullopt when `m` has none of those.
std::optional<std::vector<index_op>> migrate_legacy_reactions(stored_message& m);

}  // namespace monochat::storage::detail
