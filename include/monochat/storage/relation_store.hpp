#pragma once
// The relations role of the social store: friend requests, friendships and blocks.
//
// The contract every role of the social store shares (ids, times, thread-safety, completion,
// errors) is stated in social_records.hpp.

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <monochat/infra/result.hpp>
#include <monochat/storage/social_records.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monochat::storage {

class relation_store {
public:
    relation_store() = default;
    virtual ~relation_store() = default;
    relation_store(const relation_store&) = delete;
    relation_store& operator=(const relation_store&) = delete;

    template <class T>
    using task = store_task<T>;

    // ---- friends ----

    // One transaction: from == to: invalid_argument; unknown sender or target: not_found;
    // a guest target, or a block between the two (either way): forbidden; already friends:
    // conflict; a pending request from->to exists: conflict; a pending request to->from exists: it
    // is accepted (both become friends) and returned with accepted_existing = true; otherwise a new
    // pending request `request_id`.
    virtual task<send_friend_request_result> send_friend_request(std::uint64_t request_id,
                                                                 std::uint64_t from_user_id,
                                                                 std::uint64_t to_user_id,
                                                                 std::string note,
                                                                 std::int64_t now_ms) = 0;
    // Errors: not_found.
    virtual task<friend_request_record> get_friend_request(std::uint64_t request_id) = 0;
    // Only the addressee may answer. Errors: not_found, forbidden (actor is not the addressee),
    // conflict (no longer pending). Accepting makes both friends in the same transaction.
    virtual task<friend_request_record> accept_friend_request(std::uint64_t request_id,
                                                              std::uint64_t actor_id,
                                                              std::int64_t now_ms) = 0;
    virtual task<friend_request_record> reject_friend_request(std::uint64_t request_id,
                                                              std::uint64_t actor_id,
                                                              std::int64_t now_ms) = 0;
    // Pending requests to and from the user.
    virtual task<friend_requests> list_friend_requests(std::uint64_t user_id) = 0;
    // The user's friends, ascending by username.
    virtual task<std::vector<user_record>> list_friends(std::uint64_t user_id) = 0;
    virtual task<bool> are_friends(std::uint64_t a, std::uint64_t b) = 0;
    // Ends the friendship both ways. Errors: not_found (not friends).
    virtual task<void> remove_friend(std::uint64_t user_id, std::uint64_t friend_id) = 0;

    // ---- blocks ----

    // One transaction: `user_id` blocks `blocked_id` (again: a no-op), their friendship and any
    // pending request between them end. Errors: invalid_argument (oneself), not_found (either
    // user).
    virtual task<void> block_user(std::uint64_t user_id, std::uint64_t blocked_id,
                                  std::int64_t now_ms) = 0;
    // Errors: not_found (no such block).
    virtual task<void> unblock_user(std::uint64_t user_id, std::uint64_t blocked_id) = 0;
    // The users `user_id` blocks, most recent first.
    virtual task<std::vector<user_record>> blocked_users(std::uint64_t user_id) = 0;
    // Those of `user_ids` who block `user_id`, ascending.
    virtual task<std::vector<std::uint64_t>> blocked_by(std::uint64_t user_id,
                                                        std::vector<std::uint64_t> user_ids) = 0;
    // Every block (start-up: the send path keeps them in memory).
    virtual task<std::vector<block_pair>> all_blocks() = 0;
};

}  // namespace monochat::storage
