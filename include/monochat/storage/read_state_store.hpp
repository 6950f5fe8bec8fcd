#pragma once
// The read-state role of the social store: direct conversations, read positions, readers,
// mentions, per-user conversation settings and Web Push subscriptions (a push goes to a
// subscription unless its user muted the conversation: they are read together).
//
// The contract every role of the social store shares (ids, times, thread-safety, completion,
// errors) is stated in social_records.hpp.

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <monochat/infra/result.hpp>
#include <monochat/storage/sent_record.hpp>
#include <monochat/storage/social_records.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monochat::storage {

class read_state_store {
public:
    read_state_store() = default;
    virtual ~read_state_store() = default;
    read_state_store(const read_state_store&) = delete;
    read_state_store& operator=(const read_state_store&) = delete;

    template <class T>
    using task = store_task<T>;

    // ---- direct conversations ----

    // Records that the direct conversation of `a` and `b` has a message at `message_ms`, for
    // both users. Idempotent; last_message_ms only moves forward. Errors: invalid_argument
    // (a == b), not_found (unknown user).
    virtual task<void> record_direct_message(std::uint64_t a, std::uint64_t b,
                                             std::int64_t message_ms) = 0;
    // The user's direct conversations, most recent message first.
    virtual task<std::vector<direct_conversation>> direct_conversations(std::uint64_t user_id) = 0;

    // ---- read state ----

    // Moves the user's read position in a conversation to `seq` if that is past the current
    // one; returns whether it moved (positions never move back). Clamping to last_seq is the
    // caller's. Errors: not_found (unknown user).
    virtual task<bool> set_read_position(std::uint64_t user_id, std::string conversation_id,
                                         std::uint64_t seq, std::int64_t now_ms) = 0;
    // For each of the senders' own messages (see sent_record): the sender's read position
    // moves to it as set_read_position does, and a direct chat (direct_peer) is recorded as
    // record_direct_message does. One transaction. Records naming a user that is gone are
    // skipped; a repeated record changes nothing.
    virtual task<void> record_sent(std::vector<sent_record> records) = 0;
    // 0 when the user never read the conversation.
    virtual task<std::uint64_t> get_read_position(std::uint64_t user_id,
                                                  std::string conversation_id) = 0;
    // Every read position of the user.
    virtual task<std::vector<read_position>> read_positions(std::uint64_t user_id) = 0;
    // Users whose position in the conversation is at or past `seq` (read receipts): all of
    // them counted, the lowest `limit` ids listed. With `members_of_group`, only that group's
    // current members count (a member who left is no longer a reader).
    virtual task<readers_result> conversation_readers(
        std::string conversation_id, std::uint64_t seq, std::size_t limit,
        std::optional<std::uint64_t> members_of_group) = 0;

    // ---- per-user conversation settings ----

    // Sets the user's mute of a conversation: notifications off until `muted_until_ms`; 0
    // removes the setting. Whether the user may see the conversation is logic's check.
    // Errors: not_found (unknown user), invalid_argument (negative time).
    virtual task<void> set_muted_until(std::uint64_t user_id, std::string conversation_id,
                                       std::int64_t muted_until_ms) = 0;
    // Every conversation setting of the user, ascending by conversation id.
    virtual task<std::vector<conversation_setting>> conversation_settings(
        std::uint64_t user_id) = 0;

    // ---- mentions ----

    // Records that message `seq` of the conversation mentions each of `user_ids`. Skipped:
    // users that do not exist, users whose read position is already at or past `seq`, and,
    // with `members_of_group`, users who are not members of that group. Returns how many
    // mentions were recorded (a repeated call records nothing new).
    virtual task<std::uint64_t> add_mentions(std::string conversation_id, std::uint64_t seq,
                                             std::vector<std::uint64_t> user_ids,
                                             std::optional<std::uint64_t> members_of_group) = 0;
    // Forgets every mention made by message `seq` (after a recall).
    virtual task<std::uint64_t> remove_mentions(std::string conversation_id, std::uint64_t seq) = 0;
    // The user's mentions past its read position, per conversation (only conversations with
    // at least one). A read position moving past a mention deletes it.
    virtual task<std::vector<mention_count>> unread_mentions(std::uint64_t user_id) = 0;

    // ---- Web Push subscriptions (issue 21) ----

    // Stores a subscription, or replaces the one with the same endpoint (a browser that
    // subscribes again, perhaps from another login, moves it to this session). It belongs to
    // the session of `token_hash` and goes with it: logout, revocation, a password change,
    // expiry and the user's deletion all delete it (a foreign key). One transaction. Errors:
    // not_found (the token is gone), conflict (the user holds `max_per_user` others already).
    virtual task<void> put_push_subscription(push_subscription_record subscription,
                                             std::size_t max_per_user) = 0;
    // Errors: not_found (the user has no subscription with that endpoint).
    virtual task<void> delete_push_subscription(std::uint64_t user_id, std::string endpoint) = 0;
    // Deletes the endpoint's subscription whoever holds it (its push service answered 404 or
    // 410); answers whether there was one.
    virtual task<bool> remove_push_endpoint(std::string endpoint) = 0;
    // The subscriptions a push about the conversation goes to: the user's, none when the user
    // muted the conversation past `now_ms`. Ascending endpoint.
    virtual task<std::vector<push_subscription_record>> push_targets(std::uint64_t user_id,
                                                                     std::string conversation_id,
                                                                     std::int64_t now_ms) = 0;
};

}  // namespace monochat::storage
