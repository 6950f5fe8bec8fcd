#pragma once
// The message log: every conversation's messages in `seq` order, durable, gap-free, with an
// idempotency index. Replaces the sharded MySQL message table, Redis's recent-message cache and
// the idempotency store of the original design (shared/architecture.md, "Storage layout").
//
// Sequencing: the log assigns `seq = last_seq + 1` itself, inside its single group-commit
// writer, so seqs are contiguous per conversation under any number of concurrent appends. An
// append that fails (disk full, I/O error, a target check that fails) consumes no seq and is
// not acknowledged. The writer takes every pending append, writes them as ONE batch, syncs the
// WAL once (`storage.sync = always`), then completes every waiter. A failed write fails every
// append of the batch that needed it with `unavailable`; retries answered from the idempotency
// index need no write and still succeed. Within a run a failed append never becomes visible;
// only if the process dies right after a failed fsync may the OS have kept the batch, which a
// restart then shows as committed (a retry with the same client_msg_id returns it).
//
// Idempotency: an append whose (sender_id, client_msg_id) was stored before returns the first
// append's stored message with `duplicate = true` and writes nothing, whatever its body or
// conversation, for at least `policy.idempotency_window_s`. An entry older than the window is
// ignored: a retry after it is stored as a new message.
//
// Operations on a target (edit, recall, reaction: shared/protocol.md): an append may name a
// `target_seq` and an `update_target` function. Inside the writer, in the same batch, the log
// reads the target's current stored message (with its `state`), calls `update_target`, and on
// success writes the new state next to the target and the operation as a new message; on error
// the append fails with that error and consumes no seq. A missing target is `not_found`.
// `update_target` runs on the writer thread: it must be quick and must not block.
//
// Rewrites for good (a recall removes the text of its target and of the target's edits): an
// operation may also name other messages of the conversation (`related`) that it rewrites in the
// same batch (`rewrite`, applied to the updated target and to each of them). The engine then
// drops the older versions of the rewritten messages from its files before its next
// checkpoint, so that a checkpoint taken after the commit holds only the rewritten forms.
// Reactions (shared/protocol.md v1.1): an append with a `reaction` (and a target) also adds or
// removes its sender's reaction on the target, in the same batch. Each reaction is its own entry
// in a reaction index (one key per (message, emoji, user) and one per (message, emoji, order)),
// and the target keeps only a bounded summary (`stored_message::reactions`: per emoji the count
// and the first `max_reaction_first_users` reactors), so a reaction costs the same whether its
// target has none or a million. Adding a reaction the user already has, or removing one they do
// not have, changes nothing (the operation message is still appended). A new emoji on a target
// that already has `max_kinds` is `conflict`. `clear_reactions` drops every reaction of the
// target (a recall), in constant time.
//
// Thread-safety: every member may be called from any thread. Completion: awaitables resume on
// the awaiting coroutine's executor. Reads see committed messages only (up to last_seq); a
// limit of 0 is invalid_argument, a limit above the log's maximum is clamped (has_more then
// says so). A read the recent-message cache can answer completes without leaving the caller's
// thread (no I/O); the others run on the log's read pool. Commit listener: called on the
// writer thread, after the batch is durable and before the waiters are completed, with the
// batch's new messages in commit order (per conversation: ascending seq). The listener must not
// block for long.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <monochat/infra/result.hpp>
#include <monochat/storage/sent_record.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace monochat::storage {

// How many reactors of one emoji a message's summary lists (shared/protocol.md: "the first 10").
constexpr std::size_t max_reaction_first_users = 10;

// One reactor in a summary: the user and the order number their reaction got (per message and
// emoji, increasing: the order in which they reacted).
struct reactor {
    std::uint64_t user_id = 0;
    std::uint64_t order = 0;

    friend bool operator==(const reactor&, const reactor&) = default;
};

// One emoji's reactions on a message, as the message keeps them.
struct reaction_kind {
    std::string emoji;
    std::uint64_t count = 0;
    // The first min(count, max_reaction_first_users) reactors, oldest first.
    std::vector<reactor> first;
    // The order number the next reactor of this emoji gets.
    std::uint64_t next_order = 1;

    friend bool operator==(const reaction_kind&, const reaction_kind&) = default;
};

struct stored_message {
    std::string conversation_id;
    std::uint64_t seq = 0;
    std::uint64_t message_id = 0;
    std::uint64_t sender_id = 0;
    std::string client_msg_id;
    std::int64_t ts_ms = 0;
    // The message body as the client sent it (JSON text); the log does not interpret it.
    std::string body;
    // The message's current state (JSON text written by update_target: edits, recall,
    // reactions); empty when nothing changed it.
    std::string state;
    // For operations: the seq of the message they changed; 0 otherwise.
    std::uint64_t target_seq = 0;
    // Reactions on this message, one entry per emoji in the order each was first used; empty
    // when it has none.
    std::vector<reaction_kind> reactions;
};

// A reaction carried by an append (see the header comment). The reacting user is the sender.
struct reaction_change {
    std::string emoji;
    bool add = true;
    // Distinct emoji a target may hold; a new one past it fails the append with conflict.
    std::size_t max_kinds = 20;
};

struct append_request {
    std::string conversation_id;
    std::uint64_t sender_id = 0;
    std::string client_msg_id;
    std::uint64_t message_id = 0;  // assigned by the caller (snowflake)
    std::int64_t ts_ms = 0;
    std::string body;
    std::uint64_t target_seq = 0;  // 0: not an operation on another message
    // Called with the target's stored message; returns the target's new `state`.
    std::function<result<std::string>(const stored_message& target)> update_target;
    // Instead of update_target, for an operation the target must remember (an edit, so that a
    // later recall finds it): also told the seq this operation gets. Set at most one of the two.
    std::function<result<std::string>(const stored_message& target, std::uint64_t op_seq)>
        update_target_at;
    // Optional, with one of the two above: seqs of other messages of the conversation that this
    // operation rewrites, read from the target as it was before the update. Seqs that are 0,
    // the target's, or not below this operation's seq are ignored.
    std::function<std::vector<std::uint64_t>(const stored_message& target)> related;
    // Optional: changes the updated target and each related message in place (body, state);
    // their older versions then leave the engine's files (see the header comment).
    std::function<void(stored_message& m)> rewrite;
    // With target_seq: the sender's reaction to add or remove, applied after update_target.
    std::optional<reaction_change> reaction;
    // With target_seq: drop every reaction of the target, after update_target (a recall).
    bool clear_reactions = false;
    // Only answers a retry: when (sender_id, client_msg_id) is stored, the append returns that
    // message with duplicate = true; otherwise it fails with not_found and writes nothing. Used
    // to answer a retry that arrives while its sender is over the rate limit.
    bool lookup_only = false;
    // Queue a sent_record of this message in the same write (see sent_record); with the other
    // user of a direct chat, or 0.
    bool record_sent = false;
    std::uint64_t direct_peer = 0;
    // Opaque to the log: handed to the commit listeners with the new message (the delivery
    // router's sending session, which gets the ack instead of a push). Not stored.
    std::uint64_t origin = 0;
};

// One group commit's new messages, as the commit listeners get them.
struct commit_event {
    // In commit order (per conversation: ascending seq); shared by every listener.
    std::shared_ptr<const std::vector<stored_message>> messages;
    // Parallel to `messages`: each append's `origin`.
    std::vector<std::uint64_t> origins;
};

struct append_result {
    stored_message message;
    bool duplicate = false;  // true: an idempotent retry; nothing was written
};

struct read_page {
    std::vector<stored_message> messages;  // ascending seq
    bool has_more = false;                 // more messages beyond the page in the read direction
};

struct reaction_users_page {
    std::vector<std::uint64_t> user_ids;  // ascending
    bool has_more = false;                // more users after the last one
};

class message_log {
public:
    virtual ~message_log() = default;
    message_log() = default;
    message_log(const message_log&) = delete;
    message_log& operator=(const message_log&) = delete;

    // Durable append (see the header comment). Errors: invalid_argument (empty conversation or
    // client_msg_id), not_found (missing target), errors from update_target, unavailable (disk
    // full, I/O error, log closed).
    virtual boost::asio::awaitable<result<append_result>> append(append_request req) = 0;

    // Callback form of append for callers that are not coroutines (benchmarks, task workers).
    // `done` runs on the writer thread (or the caller's thread for immediate errors).
    virtual void append_async(append_request req,
                              std::function<void(result<append_result>)> done) = 0;

    // Highest seq of a conversation, 0 when it has none. Answered from memory.
    virtual std::uint64_t last_seq(const std::string& conversation_id) const = 0;

    // The `limit` messages after `after_seq` (ascending); `has_more` when newer ones exist.
    virtual boost::asio::awaitable<result<read_page>> read_after(std::string conversation_id,
                                                                 std::uint64_t after_seq,
                                                                 std::size_t limit) = 0;
    // The `limit` messages before `before_seq`, returned ascending; `has_more` when older exist.
    virtual boost::asio::awaitable<result<read_page>> read_before(std::string conversation_id,
                                                                  std::uint64_t before_seq,
                                                                  std::size_t limit) = 0;
    // The latest `limit` messages, ascending; `has_more` when older ones exist.
    virtual boost::asio::awaitable<result<read_page>> read_latest(std::string conversation_id,
                                                                  std::size_t limit) = 0;
    // One message; not_found when absent.
    virtual boost::asio::awaitable<result<stored_message>> get(std::string conversation_id,
                                                               std::uint64_t seq) = 0;

    // Users who reacted to message `seq` with `emoji`, ascending user id, those above
    // `after_user_id` only, at most `limit` (clamped like reads). A message without that emoji
    // (or without reactions) gives an empty page. Errors: invalid_argument (empty conversation
    // id or emoji, limit 0), unavailable.
    virtual boost::asio::awaitable<result<reaction_users_page>> reaction_users(
        std::string conversation_id, std::uint64_t seq, std::string emoji,
        std::uint64_t after_user_id, std::size_t limit) = 0;
    // For each (seq, emoji) of `keys`, whether `user_id` has reacted to that message with that
    // emoji (the `me` of history). Errors: invalid_argument (empty conversation id),
    // unavailable.
    virtual boost::asio::awaitable<result<std::vector<bool>>> has_reacted(
        std::string conversation_id, std::uint64_t user_id,
        std::vector<std::pair<std::uint64_t, std::string>> keys) = 0;

    // Drops a conversation for good (a deleted group): its messages, their reaction index, its
    // last_seq and its queued sent records. Afterwards it reads as a conversation without
    // messages (last_seq 0, empty pages, get not_found) and is not in conversations().
    // Ordered with appends like one, on the writer: appends queued before it commit and are
    // dropped with it; appends queued after it fail with not_found for the rest of the run
    // (callers never reuse a conversation id: a new group gets a new id, so there is no seq to
    // reuse). Idempotency entries of dropped messages hold no content; they expire with the
    // window, and a retry that finds one is taken as a new append (so, into the dropped
    // conversation, not_found). Completes once the data has left the engine's files (RocksDB:
    // a range delete in one synced write, then a compaction of the range and a flush of the
    // memtables on the log's purge thread, never on the writer). Dropping a conversation that
    // has no messages succeeds. Errors: invalid_argument (an empty or malformed id),
    // unavailable (log closed, write failed: call again; a failed compaction leaves the data
    // unreadable but in the files until a later one).
    virtual boost::asio::awaitable<status> drop_conversation(std::string conversation_id) = 0;

    // Every conversation with at least one message and its last_seq (start-up, indexer
    // catch-up, conversation lists). Answered from memory.
    virtual std::vector<std::pair<std::string, std::uint64_t>> conversations() const = 0;

    // The sent records still queued (see sent_record), in message id order: a start-up hands
    // them to the read state, which a crash may have kept from writing them. Errors: unavailable.
    virtual result<std::vector<sent_record>> unsettled_sent() const = 0;
    // The read state has these for good: drop them from the queue. Not synced (a record
    // dropped and then found again after a crash is written again, which changes nothing).
    // Errors: unavailable.
    virtual status settle_sent(const std::vector<std::uint64_t>& message_ids) = 0;

    // Adds a commit listener (see the header comment): the delivery router, the search
    // indexer. Listeners are called in the order added. Add them before the first append.
    virtual void add_commit_listener(std::function<void(const commit_event&)> listener) = 0;

    // Writes a consistent copy into `dir` (which must not exist): a RocksDB checkpoint for the
    // durable log. Errors: unavailable, invalid_argument.
    [[nodiscard]] virtual status checkpoint(const std::string& dir) = 0;

    // Completes every pending append, then stops accepting new ones (unavailable) and flushes.
    // Reads keep working until destruction. Must not be called from the writer thread (an
    // append_async callback or the commit listener). The destructor calls it.
    virtual void close() = 0;
};

}  // namespace monochat::storage
