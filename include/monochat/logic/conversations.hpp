#pragma once
// Conversations as a user sees them (shared/protocol.md, "Conversations and messages" and "Read
// state"): the list with last_seq, read_seq, unread and last_message, the id of a direct chat,
// read positions with their `receipt` pushes, and access.hpp's access_control for callers that
// hold only this service.
//
// Receipts `{"type": "receipt", "conversation_id", "user_id", "seq"}` go to the other members and
// to the reader's own other connections: both users of a direct chat, every member of a group of
// at most `fanout.large_group_threshold` members; for larger groups and for `world` only the
// reader's own connections (a receipt per reader to every member would grow with the square of
// the group); the readers endpoint still counts them.
//
// Thread-safety: every member may be called from any thread. Awaitables resume on the awaiting
// coroutine's executor.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <monochat/infra/result.hpp>
#include <monochat/logic/access.hpp>
#include <monochat/logic/dependencies.hpp>
#include <monochat/logic/wire.hpp>
#include <string>
#include <vector>

namespace monochat::logic {

// The largest `muted_until` accepted: 2^53 - 1, the largest integer a JavaScript number holds
// exactly, so that "muted for good" (a client's far-future time) reads back unchanged.
inline constexpr std::int64_t max_muted_until_ms = (std::int64_t{1} << 53) - 1;

struct read_options {
    // The connection that sent the read (WebSocket `read`, or a send that moves the sender's
    // position): it gets no receipt of its own read. 0: none (HTTP).
    std::uint64_t exclude_session = 0;
    // The caller checked can_read already (the send path): skip the second check.
    bool access_checked = false;
    // Push receipts when the position moves. Default: true.
    bool push_receipt = true;
};

class conversations {
public:
    conversations() = default;
    virtual ~conversations() = default;
    conversations(const conversations&) = delete;
    conversations& operator=(const conversations&) = delete;

    template <class T>
    using task = boost::asio::awaitable<result<T>>;

    // `world`, the caller's groups and their direct chats that have a message, most recent
    // activity first (last message, or joining for one without messages). Guests: `world`.
    virtual task<std::vector<conversation_info>> list(identity who) = 0;
    // "dm:<low>:<high>" with any registered user, friend or not. Errors: invalid_argument
    // (oneself), not_found, forbidden (guest caller or guest peer).
    virtual task<std::string> direct_id(identity who, std::uint64_t user_id) = 0;
    // Moves the caller's read position to `seq`, clamped to the conversation's last_seq; a seq
    // at or below the current position is ignored (positions never move back). Returns whether
    // the position moved; a receipt is pushed only then. Errors: those of can_read.
    virtual task<bool> mark_read(identity who, conversation_ref conversation, std::uint64_t seq,
                                 read_options options = {}) = 0;
    // The caller's mute of a conversation it may read (issue 19): notifications off until
    // `muted_until_ms` (ms since the epoch); 0 unmutes. Stored per user, so that every device
    // agrees; the caller's connections get `event` `conversation_updated` {conversation_id,
    // muted_until}. Returns the value stored (0 for a time already past). Errors: forbidden
    // (guest caller, or one who may not read it), not_found, invalid_argument (past
    // max_muted_until_ms).
    virtual task<std::int64_t> set_muted_until(identity who, conversation_ref conversation,
                                               std::int64_t muted_until_ms) = 0;
    // access_control's answers (access.hpp).
    virtual task<void> can_read(identity who, conversation_ref conversation) = 0;
    virtual task<void> can_send(identity who, conversation_ref conversation) = 0;
};

[[nodiscard]] std::unique_ptr<conversations> make_conversations(const dependencies& deps);

}  // namespace monochat::logic
