#pragma once
// The users role of the social store: user records and profiles, tokens (the sessions), password
// resets, registration invites, guest expiry and account deletion.
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

class user_store {
public:
    user_store() = default;
    virtual ~user_store() = default;
    user_store(const user_store&) = delete;
    user_store& operator=(const user_store&) = delete;

    template <class T>
    using task = store_task<T>;

    // ---- users ----

    // Errors: conflict (a registered user has this username; or the id exists),
    // invalid_argument (id out of range).
    virtual task<user_record> create_user(user_record user) = 0;
    // Errors: not_found.
    virtual task<user_record> get_user(std::uint64_t user_id) = 0;
    // Registered users only (guests are never found by username). Errors: not_found.
    virtual task<user_record> get_user_by_username(std::string username) = 0;
    // The users that exist among `user_ids`, in the order asked; unknown ids are skipped.
    virtual task<std::vector<user_record>> get_users(std::vector<std::uint64_t> user_ids) = 0;
    // Registered users whose username starts with `prefix` (byte-wise), ascending by username,
    // at most `limit`.
    virtual task<std::vector<user_record>> search_users(std::string prefix, std::size_t limit) = 0;
    // Errors: not_found.
    virtual task<user_record> update_display_name(std::uint64_t user_id,
                                                  std::string display_name) = 0;
    // Writes the fields `change` sets, in one transaction; answers the user after it.
    // Errors: not_found.
    virtual task<user_record> update_profile(std::uint64_t user_id, profile_update change) = 0;
    // Whether some user's current avatar is `file_id`.
    virtual task<bool> is_avatar(std::uint64_t file_id) = 0;

    // ---- tokens (only hashes are stored; the caller hashes) ----

    // Errors: not_found (no such user), conflict (the hash exists).
    virtual task<void> create_token(token_record token) = 0;
    // Expired tokens are returned too: the caller compares expires_ms with its clock.
    // Errors: not_found.
    virtual task<token_record> lookup_token(std::string token_hash) = 0;
    // Errors: not_found.
    virtual task<void> delete_token(std::string token_hash) = 0;
    // Returns how many were deleted (0 is not an error).
    virtual task<std::uint64_t> delete_user_tokens(std::uint64_t user_id) = 0;
    // Deletes at most `limit` tokens with expires_ms <= now_ms (one short write; the sweep
    // calls it until it answers less than `limit`); returns how many.
    virtual task<std::uint64_t> delete_expired_tokens(std::int64_t now_ms, std::size_t limit) = 0;
    // The user's tokens (expired ones too), oldest first.
    virtual task<std::vector<token_record>> list_user_tokens(std::uint64_t user_id) = 0;
    // Records a use of the token; an older time than the stored one is ignored. A missing token
    // is not an error (it was revoked meanwhile).
    virtual task<void> touch_token(std::string token_hash, std::int64_t now_ms) = 0;
    // Deletes the user's token with this session id and answers its hash. Errors: not_found.
    virtual task<std::string> delete_session(std::uint64_t user_id, std::uint64_t session_id) = 0;
    // Deletes every token of the user but `keep_token_hash`; answers the hashes deleted.
    virtual task<std::vector<std::string>> delete_other_tokens(std::uint64_t user_id,
                                                               std::string keep_token_hash) = 0;
    // One transaction: the new password hash, and every token of the user but
    // `keep_token_hash` (empty: all) deleted; answers the hashes deleted. Errors: not_found.
    virtual task<std::vector<std::string>> set_password_hash(std::uint64_t user_id,
                                                             std::string password_hash,
                                                             std::string keep_token_hash) = 0;

    // One transaction: the user and its first token (a bot and its token: neither exists
    // without the other). Errors: those of create_user and create_token.
    virtual task<user_record> create_user_with_token(user_record user, token_record token) = 0;
    // One transaction: every token of the user is deleted and, when given, `token` (of that
    // user) takes their place; answers the hashes deleted (a bot's token rotated or revoked).
    // Errors: not_found (no such user), conflict (the new hash exists).
    virtual task<std::vector<std::string>> replace_user_tokens(
        std::uint64_t user_id, std::optional<token_record> token) = 0;

    // ---- registration invites ----

    // Errors: conflict (the code exists).
    virtual task<invite_record> create_invite(invite_record invite) = 0;
    // Every invite, used-up and expired ones included, newest first.
    virtual task<std::vector<invite_record>> list_invites() = 0;
    // Errors: not_found.
    virtual task<void> delete_invite(std::string code) = 0;
    // One transaction: the invite loses a use and the user is created; nothing changes when
    // either fails. Errors: forbidden (unknown, used-up or expired code: one answer for all),
    // and those of create_user.
    virtual task<user_record> create_invited_user(user_record user, std::string code,
                                                  std::int64_t now_ms) = 0;

    // ---- password resets (only hashes are stored) ----

    // Errors: not_found (no such user, or a guest: guests have no password).
    virtual task<void> create_password_reset(std::string reset_hash, std::uint64_t user_id,
                                             std::int64_t expires_ms) = 0;
    // One transaction: the reset is used up (every reset of the user goes), the password
    // replaced and every token deleted; answers the user. Errors: forbidden (unknown, used or
    // expired reset token: one answer for all three).
    virtual task<user_record> consume_password_reset(std::string reset_hash, std::int64_t now_ms,
                                                     std::string password_hash) = 0;

    // ---- guest expiry ----

    // Records activity: the user's last-seen time becomes `now_ms` unless it is later already.
    // A user starts out seen at its creation. Errors: none for an unknown user (nothing to do).
    virtual task<void> touch_user(std::uint64_t user_id, std::int64_t now_ms) = 0;
    // Guests last seen before `seen_before_ms`, least recently seen first, at most `limit`.
    virtual task<std::vector<std::uint64_t>> idle_guests(std::int64_t seen_before_ms,
                                                         std::size_t limit) = 0;
    // Deletes those of `user_ids` that are still guests last seen before `seen_before_ms` (a
    // guest touched since it was listed stays), like delete_user, and remembers each as a
    // deleted user; answers the ids deleted. One write: pass at most a sweep batch.
    virtual task<std::vector<std::uint64_t>> purge_guests(std::vector<std::uint64_t> user_ids,
                                                          std::int64_t seen_before_ms,
                                                          std::int64_t now_ms) = 0;
    // Whether `user_id` belonged to a user that was purged (its messages remain).
    virtual task<bool> is_deleted_user(std::uint64_t user_id) = 0;
    // A registered user deleting their own account (DELETE /me): as delete_user, and the id
    // and the username are kept in deleted_users, so that the profile reads "Deleted user" and
    // create_user refuses the name from then on (conflict). Errors: not_found, conflict (owns
    // a group).
    virtual task<void> delete_account(std::uint64_t user_id, std::int64_t now_ms) = 0;

    // ---- account deletion ----

    // Deletes the user; tokens, friendships, friend requests, memberships and read state go
    // with it (member counts follow). Errors: not_found, conflict (the user owns a group).
    virtual task<void> delete_user(std::uint64_t user_id) = 0;
};

}  // namespace monochat::storage
