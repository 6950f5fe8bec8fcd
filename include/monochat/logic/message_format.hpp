#pragma once
// The wire form of a stored message (shared/protocol.md, "A message"), written once per message
// and reused by history, sync, conversation lists and pushes.
//
//   {"message_id": "...", "conversation_id": "...", "seq": 17, "sender_id": "...",
//    "client_msg_id": "...", "ts": 1795000000123, "body": {...}}
//
// A `text` message whose state changed (edits, recall, reactions) carries that state as well:
// `edited_at` and the latest `text`, `recalled: true` without text, `reactions`.

#include <monochat/storage/message_log.hpp>
#include <string>

namespace monochat::logic {

// The message object as JSON text.
std::string message_json(const storage::stored_message& m);

}  // namespace monochat::logic
