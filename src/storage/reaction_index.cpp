#include "storage/reaction_index.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "storage/message_codec.hpp"

namespace monochat::storage::detail {

namespace {

// Separates a message key from the index's own part. Message keys end in 8 bytes of seq, so
// any byte works; a fixed one keeps the layout readable in a hex dump.
constexpr char index_marker = '\x01';
constexpr char by_user = 'u';
constexpr char by_order = 'o';

std::string emoji_prefix(std::string_view conversation_id, std::uint64_t seq, char kind,
                         std::string_view emoji) {
    std::string key = codec::message_key(conversation_id, seq);
    key.reserve(key.size() + emoji.size() + 11);
    key.push_back(index_marker);
    key.push_back(kind);
    key.push_back(static_cast<char>(static_cast<unsigned char>(emoji.size())));
    key.append(emoji);
    return key;
}

// After every key of the prefix: each of them is the prefix plus exactly 8 bytes.
std::string prefix_end(std::string prefix) {
    prefix.append(8, '\xff');
    prefix.push_back('\0');
    return prefix;
}

std::string successor(const std::string& key) {
    std::string next = key;
    next.push_back('\0');
    return next;
}

}  // namespace

std::string encode_be64(std::uint64_t v) {
    std::string out(8, '\0');
    for (int i = 7; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
        v >>= 8;
    }
    return out;
}

std::uint64_t decode_be64(std::string_view value) {
    if (value.size() != 8) {
        return 0;
    }
    std::uint64_t v = 0;
    for (const char c : value) {
        v = (v << 8) | static_cast<unsigned char>(c);
    }
    return v;
}

std::string reaction_user_key(std::string_view conversation_id, std::uint64_t seq,
                              std::string_view emoji, std::uint64_t user_id) {
    return emoji_prefix(conversation_id, seq, by_user, emoji) + encode_be64(user_id);
}

std::string reaction_order_key(std::string_view conversation_id, std::uint64_t seq,
                               std::string_view emoji, std::uint64_t order) {
    return emoji_prefix(conversation_id, seq, by_order, emoji) + encode_be64(order);
}

std::string reaction_user_end(std::string_view conversation_id, std::uint64_t seq,
                              std::string_view emoji) {
    return prefix_end(emoji_prefix(conversation_id, seq, by_user, emoji));
}

std::string reaction_order_end(std::string_view conversation_id, std::uint64_t seq,
                               std::string_view emoji) {
    return prefix_end(emoji_prefix(conversation_id, seq, by_order, emoji));
}

std::pair<std::string, std::string> reaction_message_range(std::string_view conversation_id,
                                                           std::uint64_t seq) {
    // Seqs never reach 2^64 - 1 (they count messages), so seq + 1 does not wrap.
    return {codec::message_key(conversation_id, seq), codec::message_key(conversation_id, seq + 1)};
}

std::uint64_t reaction_key_suffix(std::string_view key) {
    return key.size() < 8 ? 0 : decode_be64(key.substr(key.size() - 8));
}

bool index_overlay::cleared(const std::string& key) const {
    return std::any_of(cleared_ranges_.begin(), cleared_ranges_.end(),
                       [&](const auto& r) { return key >= r.first && key < r.second; });
}

result<std::optional<std::string>> index_overlay::get(const std::string& key) {
    if (const auto it = staged_.find(key); it != staged_.end()) {
        return it->second;
    }
    if (cleared(key)) {
        return std::optional<std::string>();
    }
    return committed_.index_get(key);
}

result<std::optional<std::pair<std::string, std::string>>> index_overlay::first(
    const std::string& from, const std::string& end) {
    using entry = std::pair<std::string, std::string>;
    std::string cursor = from;
    // Each round either returns or moves the cursor past one entry (or range) this group
    // erased, so the loop ends after at most (ops of the group + 1) rounds.
    while (cursor < end) {
        auto committed = committed_.index_scan(cursor, end, 1);
        if (!committed) {
            return committed.error();
        }
        const auto staged = staged_.lower_bound(cursor);
        const bool has_staged = staged != staged_.end() && staged->first < end;
        if (!has_staged && committed->empty()) {
            return std::optional<entry>();
        }
        if (has_staged && (committed->empty() || staged->first <= committed->front().first)) {
            if (staged->second) {
                return std::optional<entry>(entry{staged->first, *staged->second});
            }
            cursor = successor(staged->first);
            continue;
        }
        const entry& found = committed->front();
        const auto range = std::find_if(
            cleared_ranges_.begin(), cleared_ranges_.end(),
            [&](const auto& r) { return found.first >= r.first && found.first < r.second; });
        if (range == cleared_ranges_.end()) {
            return std::optional<entry>(found);
        }
        cursor = range->second;
    }
    return std::optional<entry>();
}

void index_overlay::put(std::string key, std::string value) {
    staged_.insert_or_assign(key, value);
    ops_.push_back({index_op::kind::put, std::move(key), std::move(value)});
}

void index_overlay::erase(std::string key) {
    staged_.insert_or_assign(key, std::nullopt);
    ops_.push_back({index_op::kind::erase, std::move(key), {}});
}

void index_overlay::erase_range(std::string begin, std::string end) {
    staged_.erase(staged_.lower_bound(begin), staged_.lower_bound(end));
    cleared_ranges_.emplace_back(begin, end);
    ops_.push_back({index_op::kind::erase_range, std::move(begin), std::move(end)});
}

result<bool> apply_reaction(stored_message& target, const reaction_change& change,
                            std::uint64_t user_id, index_overlay& index) {
    const std::string& emoji = change.emoji;
    if (emoji.empty() || emoji.size() > max_index_emoji_bytes) {
        return make_error(errc::invalid_argument, "the reaction's emoji is empty or too long");
    }
    auto kind = std::find_if(target.reactions.begin(), target.reactions.end(),
                             [&](const reaction_kind& k) { return k.emoji == emoji; });
    const std::string user_key =
        reaction_user_key(target.conversation_id, target.seq, emoji, user_id);
    auto existing = index.get(user_key);
    if (!existing) {
        return existing.error();
    }

    if (change.add) {
        if (*existing) {
            return false;
        }
        if (kind == target.reactions.end()) {
            if (target.reactions.size() >= change.max_kinds) {
                return make_error(errc::conflict,
                                  fmt::format("a message holds at most {} different reactions",
                                              change.max_kinds));
            }
            target.reactions.push_back(reaction_kind{emoji, 0, {}, 1});
            kind = std::prev(target.reactions.end());
        }
        const std::uint64_t order = kind->next_order++;
        ++kind->count;
        index.put(user_key, encode_be64(order));
        index.put(reaction_order_key(target.conversation_id, target.seq, emoji, order),
                  encode_be64(user_id));
        // first holds min(count, limit) reactors and the new one has the highest order, so it
        // belongs there exactly when there is room.
        if (kind->first.size() < max_reaction_first_users) {
            kind->first.push_back({user_id, order});
        }
        return true;
    }

    if (!*existing) {
        return false;
    }
    const std::uint64_t order = decode_be64(**existing);
    // Reads first, then changes: a failed read must leave nothing staged.
    std::optional<reactor> replacement;
    auto in_first = kind == target.reactions.end()
                        ? std::vector<reactor>::iterator{}
                        : std::find_if(kind->first.begin(), kind->first.end(),
                                       [&](const reactor& r) { return r.user_id == user_id; });
    const bool was_first = kind != target.reactions.end() && in_first != kind->first.end();
    if (was_first && kind->count > kind->first.size()) {
        // first holds the lowest orders; the one who moves up is the lowest order above them.
        auto next = index.first(reaction_order_key(target.conversation_id, target.seq, emoji,
                                                   kind->first.back().order + 1),
                                reaction_order_end(target.conversation_id, target.seq, emoji));
        if (!next) {
            return next.error();
        }
        if (*next) {
            replacement =
                reactor{decode_be64((*next)->second), reaction_key_suffix((*next)->first)};
        }
    }
    index.erase(user_key);
    index.erase(reaction_order_key(target.conversation_id, target.seq, emoji, order));
    if (kind == target.reactions.end()) {
        // An index entry without a summary entry cannot be produced by this file; the entry is
        // gone now and the summary already agrees.
        return true;
    }
    kind->count = kind->count > 0 ? kind->count - 1 : 0;
    if (was_first) {
        kind->first.erase(in_first);
        if (replacement) {
            kind->first.push_back(*replacement);
        }
    }
    if (kind->count == 0) {
        target.reactions.erase(kind);
    }
    return true;
}

bool clear_reactions(stored_message& target, index_overlay& index) {
    if (target.reactions.empty()) {
        return false;
    }
    target.reactions.clear();
    auto [begin, end] = reaction_message_range(target.conversation_id, target.seq);
    index.erase_range(std::move(begin), std::move(end));
    return true;
}

std::optional<std::vector<index_op>> migrate_legacy_reactions(stored_message& m) {
    if (m.state.find("\"reactions\"") == std::string::npos) {
        return std::nullopt;
    }
    using json = nlohmann::json;
    json state = json::parse(m.state, nullptr, false);
    if (!state.is_object() || !state.contains("reactions") || !state["reactions"].is_object()) {
        return std::nullopt;
    }
    std::vector<index_op> ops;
    for (const auto& [emoji, users] : state["reactions"].items()) {
        if (emoji.empty() || emoji.size() > max_index_emoji_bytes || !users.is_array()) {
            continue;
        }
        reaction_kind kind{emoji, 0, {}, 1};
        std::unordered_set<std::uint64_t> seen;
        for (const auto& u : users) {
            std::uint64_t id = 0;
            if (!u.is_string()) {
                continue;
            }
            const auto& text = u.get_ref<const std::string&>();
            const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
            if (ec != std::errc{} || ptr != text.data() + text.size() || id == 0 ||
                !seen.insert(id).second) {
                continue;
            }
            const std::uint64_t order = kind.next_order++;
            ++kind.count;
            if (kind.first.size() < max_reaction_first_users) {
                kind.first.push_back({id, order});
            }
            ops.push_back({index_op::kind::put,
                           reaction_user_key(m.conversation_id, m.seq, emoji, id),
                           encode_be64(order)});
            ops.push_back({index_op::kind::put,
                           reaction_order_key(m.conversation_id, m.seq, emoji, order),
                           encode_be64(id)});
        }
        if (kind.count > 0) {
            m.reactions.push_back(std::move(kind));
        }
    }
    state.erase("reactions");
    m.state =
        state.empty() ? std::string() : state.dump(-1, ' ', false, json::error_handler_t::replace);
    return ops;
}

}  // namespace monochat::storage::detail
