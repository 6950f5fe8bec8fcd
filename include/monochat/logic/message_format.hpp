#pragma once
// The wire form of a stored message (shared/protocol.md, "A message"), written once per message
// and reused by history, sync, conversation lists and pushes.
//
//   {"message_id": "...", "conversation_id": "...", "seq": 17, "sender_id": "...",
//    "client_msg_id": "...", "ts": 1795000000123, "body": {...}}
//
// A `text` message whose state changed (edits, recall, reactions) carries that state as well:
// `edited_at` and the latest `text`, `recalled: true` without text, and `reactions` (v1.1):
// {"<emoji>": {"count": n, "users": [the first 10 reactors' ids, oldest first], "me": bool}}.
// `me` depends on who reads: it is true when the reader is among the first users, or when the
// log's reaction index says so (view_reactions looks up only what the summaries cannot tell).

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <monochat/infra/result.hpp>
#include <monochat/storage/message_log.hpp>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <string>
#include <utility>
#include <vector>

namespace monochat::logic {

// Who reads, for the `me` of reactions.
struct reaction_viewer {
    std::uint64_t user_id = 0;
    // (conversation_id, seq, emoji) the viewer reacted with beyond the summaries' first users.
    std::set<std::tuple<std::string, std::uint64_t, std::string>> reacted;
};

// The message object as JSON text. Without a viewer (pushes of new messages, acks) `me` is
// false everywhere.
std::string message_json(const storage::stored_message& m,
                         const reaction_viewer* viewer = nullptr);

// A `text` body as it is stored, `{"mentions":[...],"reply_to":n,"text":"...","type":"text"}`
// with the optional fields left out when absent: keys in name order, no spaces, the JSON a
// tree of those fields would dump, written without building one. `mentions` as given (the
// caller removes repeats).
std::string text_body_json(std::string_view text, std::optional<std::uint64_t> reply_to,
                           const std::vector<std::uint64_t>* mentions);

// The push of a new message, `{"type":"message","message":<message_json>}`: encoded once per
// message and shared by every connection it reaches.
std::string push_message_frame(const storage::stored_message& m);

// The viewer of `messages` for `user_id`: one has_reacted lookup per conversation for the
// reactions whose summary does not list every reactor. Errors: those of the log.
boost::asio::awaitable<result<reaction_viewer>> view_reactions(
    storage::message_log& log, std::uint64_t user_id,
    const std::vector<storage::stored_message>& messages);

}  // namespace monochat::logic
