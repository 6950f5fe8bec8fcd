#pragma once
// Messaging: the send path, history and sync, typing (shared/architecture.md, "Send path";
// shared/protocol.md, "Delivery guarantees"). Shared by the WebSocket frames and the HTTP
// routes, so both behave identically.
//
// Send: validate, check access, look up (sender, client_msg_id) for an idempotent retry, take a
// token from the sender's rate-limit bucket, then append through storage's group commit; the
// ack is returned only once the message is durable. Delivery happens after the commit, from
// storage's commit listener, in seq order per conversation: small conversations go straight to
// gateway's downstream topic; groups above `fanout.large_group_threshold` become one fan-out
// job for task.
//
// Thread-safety: every member may be called from any thread; awaitables resume on the caller's
// executor.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <monochat/infra/result.hpp>
#include <monochat/logic/access.hpp>
#include <monochat/logic/presence.hpp>
#include <monochat/storage/message_log.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monochat::infra {
class clock;
class id_generator;
class live_config;
class metrics_registry;
}  // namespace monochat::infra
namespace monochat::storage {
class message_log;
class group_store;
class read_state_store;
class relation_store;
class sent_recorder;
class member_snapshots;
}  // namespace monochat::storage
namespace monochat::bus {
class delivery_guard;
class delivery_sink;
class message_bus;
}  // namespace monochat::bus

namespace monochat::logic {

class access_control;
class file_sharing;

// A message body as the client sent it, parsed but not yet checked against the rules.
struct message_body {
    std::string type;  // text, file, edit, recall, reaction
    std::optional<std::string> text;
    std::optional<std::uint64_t> reply_to;
    std::optional<std::vector<std::uint64_t>> mentions;
    std::optional<std::uint64_t> target_seq;
    std::optional<std::string> emoji;
    std::optional<std::string> op;  // add, remove
    std::optional<std::uint64_t> file_id;  // file
    std::optional<std::string> caption;    // file

    bool operator==(const message_body&) const = default;
};

struct send_request {
    identity who;
    std::uint64_t session_id = 0;  // the sending connection (it gets the ack, not the push)
    std::string conversation_id;
    std::string client_msg_id;
    message_body body;
    std::string trace_id;
    // A server admin's recall through the admin API: membership, the rate limit and the
    // sender's window are not checked (a recall only; anything else is invalid_argument).
    bool as_admin = false;
};

struct send_result {
    // The message as stored; message_format.hpp's message_json gives its wire form (the REST
    // answer), which the WebSocket ack does not need.
    storage::stored_message message;
    std::uint64_t message_id = 0;
    std::string conversation_id;
    std::uint64_t seq = 0;
    std::int64_t ts = 0;
    std::string client_msg_id;
    bool duplicate = false;  // an idempotent retry: nothing new was stored or pushed
};

struct history_request {
    std::string conversation_id;
    std::optional<std::uint64_t> after_seq;
    std::optional<std::uint64_t> before_seq;
    std::size_t limit = 50;
};

struct history_page {
    std::string conversation_id;
    std::vector<std::string> messages;  // wire form, ascending seq
    bool has_more = false;
};

// GET .../messages/{seq}/reactions: one emoji's reactors, ascending user id, after a cursor.
struct reaction_users_request {
    std::string conversation_id;
    std::uint64_t seq = 0;
    std::string emoji;
    std::uint64_t after_user_id = 0;  // 0: from the start
    std::size_t limit = 50;
};

struct reaction_users_page {
    std::vector<std::uint64_t> user_ids;
    std::optional<std::uint64_t> next;  // the cursor of the next page; none at the end
};

class messaging_service {
public:
    virtual ~messaging_service() = default;

    // Errors: invalid_argument (malformed id or body), too_large (text over
    // limits.max_text_bytes), not_found / forbidden (conversation), rate_limited,
    // unavailable (storage).
    virtual boost::asio::awaitable<result<send_result>> send(send_request req) = 0;

    // after_seq: the `limit` messages after it; before_seq: the `limit` before it; neither: the
    // latest `limit`. Both: invalid_argument. Errors as for reads of the conversation.
    virtual boost::asio::awaitable<result<history_page>> history(identity who,
                                                                 history_request req) = 0;

    // Who reacted to a message with one emoji (shared/protocol.md v1.1). Errors: as for reads
    // of the conversation, invalid_argument (not one emoji, limit 0), not_found (no such seq).
    virtual boost::asio::awaitable<result<reaction_users_page>> reaction_users(
        identity who, reaction_users_request req) = 0;

    // Pushes `typing` to the other members' connections (never the typer's). Not stored.
    virtual boost::asio::awaitable<status> typing(identity who, std::string conversation_id) = 0;

    // Members of the conversation with a live connection (world: every connected user).
    virtual boost::asio::awaitable<result<std::uint64_t>> online_count(
        identity who, std::string conversation_id) = 0;

    // Group read receipts ("read by 12 of 40"): members whose read position is at or past
    // `seq`, counted in full, the lowest `limit` ids listed. Errors: as for reads, not_found
    // (no such seq), invalid_argument (world has no members to count).
    struct readers_page {
        std::vector<std::uint64_t> read_by;
        std::uint64_t read_count = 0;
        std::uint64_t member_count = 0;
    };
    virtual boost::asio::awaitable<result<readers_page>> readers(identity who,
                                                                 std::string conversation_id,
                                                                 std::uint64_t seq,
                                                                 std::size_t limit) = 0;

    // A user's first connection opened or last one closed: `presence` to their friends.
    virtual void presence_changed(std::uint64_t user_id, bool online) = 0;

    // Starts delivering committed messages (subscribes to storage's commit listener and the
    // bus). Call once, before the first send.
    virtual void start() = 0;
    // Stops delivering; sends fail with unavailable afterwards.
    virtual void stop() = 0;
};

struct messaging_dependencies {
    storage::message_log& log;
    storage::group_store& groups;
    storage::read_state_store& read_state;
    storage::relation_store& relations;
    bus::message_bus& bus;
    access_control& access;
    presence_view& presence;
    const infra::live_config& live;
    const infra::clock& clock;
    infra::id_generator& ids;
    infra::metrics_registry& metrics;
    // Shared with the fan-out worker (bus/delivery_guard.hpp): keeps a conversation's pushes in
    // order across the direct and the fan-out path and reports pushes that could not be queued.
    // Null: the service keeps one of its own that no fan-out worker clears, so a conversation
    // once fanned out keeps the fan-out path (order holds, at one more hop) and lost pushes are
    // only logged: for tests without task or gateway. Production passes the worker's guard.
    bus::delivery_guard* guard = nullptr;
    // Where a send's sent record goes before its ack (storage::make_read_state_buffer): the
    // sender's read position and a new direct chat's listing then reach SQLite off the send
    // path, and reads through the buffer still see them. Null: each send writes them to
    // `social` itself before its ack (record_sent), for tests without the buffer.
    storage::sent_recorder* sent = nullptr;
    // Gateway's downstream consumer, which the delivery router pushes committed messages to
    // (logic/delivery_router.hpp). Null: a topic sink publishing `delivery` payloads on the
    // bus's `downstream` topic, for tests that observe the topic.
    bus::delivery_sink* sink = nullptr;
    // The membership cache's lists, for routing small groups on the writer thread. Null: group
    // messages take the fan-out path.
    storage::member_snapshots* members = nullptr;
    // Uploaded files (logic/files.hpp), which `file` messages share. Null: `file` messages are
    // refused (invalid_argument).
    file_sharing* files = nullptr;
};

std::unique_ptr<messaging_service> make_messaging_service(messaging_dependencies deps);

}  // namespace monochat::logic
