#pragma once
// The groups role of the social store: groups, members and their roles, the public directory,
// group mutes, bans and invite links.
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

class group_store {
public:
    group_store() = default;
    virtual ~group_store() = default;
    group_store(const group_store&) = delete;
    group_store& operator=(const group_store&) = delete;

    template <class T>
    using task = store_task<T>;

    // ---- group invite links ----

    // One transaction: the group's used-up and expired invites (at now_ms) are deleted, then
    // `invite` is stored unless the group has `max_per_group` invites left. Errors: not_found
    // (no such group), conflict (too many invites; the code exists).
    virtual task<group_invite_record> create_group_invite(group_invite_record invite,
                                                          std::int64_t now_ms,
                                                          std::uint64_t max_per_group) = 0;
    // The group's usable invites at now_ms (uses left, not expired), newest first. Errors:
    // not_found (no such group).
    virtual task<std::vector<group_invite_record>> group_invites(std::uint64_t group_id,
                                                                 std::int64_t now_ms) = 0;
    // Errors: not_found (the group has no such invite).
    virtual task<void> delete_group_invite(std::uint64_t group_id, std::string code) = 0;
    // A usable invite (uses left, not expired at now_ms). Errors: forbidden (unknown, used up
    // or expired: one answer for the three).
    virtual task<group_invite_record> find_group_invite(std::string code, std::int64_t now_ms) = 0;
    // One transaction: the user joins the group with a usable invite of that group, which loses
    // a use. A member already is a no-op that uses nothing (empty user_ids). Errors: forbidden
    // (the code is unknown, used up, expired or of another group: one answer; a guest; banned),
    // not_found (no such user or group), conflict (group full).
    virtual task<members_added> join_by_invite(std::uint64_t group_id, std::string code,
                                               std::uint64_t user_id, std::int64_t now_ms,
                                               std::uint64_t max_members) = 0;

    // Creates the group with `owner_id` as owner and `member_ids` (duplicates and the owner
    // ignored) as members, all joined at created_ms. Errors: invalid_argument (id out of
    // range), conflict (the group id exists, or more than max_members members in all),
    // not_found (unknown owner or member; the message names the id), forbidden (the owner or a
    // member is a guest). All or nothing.
    virtual task<group_record> create_group(std::uint64_t group_id, std::string name,
                                            std::uint64_t owner_id, bool is_public,
                                            std::vector<std::uint64_t> member_ids,
                                            std::int64_t created_ms, std::uint64_t max_members) = 0;
    // Errors: not_found.
    virtual task<group_record> get_group(std::uint64_t group_id) = 0;
    // Members with user_id > after_user_id (0: from the start), ascending, at most `limit`.
    // Errors: not_found (no such group).
    virtual task<member_page> list_members(std::uint64_t group_id, std::uint64_t after_user_id,
                                           std::size_t limit) = 0;
    // nullopt when the user is not a member. Errors: not_found (no such group).
    virtual task<std::optional<member_role>> member_role_of(std::uint64_t group_id,
                                                            std::uint64_t user_id) = 0;
    // Adds the users that are not members yet, with role member. All or nothing: unknown users
    // (not_found), guests or users banned from the group (forbidden) fail the whole call,
    // naming the id; so does exceeding max_members (conflict). Errors also: not_found (no such
    // group).
    virtual task<members_added> add_members(std::uint64_t group_id,
                                            std::vector<std::uint64_t> user_ids,
                                            std::int64_t joined_ms, std::uint64_t max_members) = 0;
    // A user joining by themself; a no-op (empty user_ids) when already a member. Errors:
    // not_found (group or user), forbidden (guest, banned), conflict (group full). Whether the
    // group is public is logic's check.
    virtual task<members_added> join_group(std::uint64_t group_id, std::uint64_t user_id,
                                           std::int64_t joined_ms, std::uint64_t max_members) = 0;
    // Errors: not_found (group, or not a member), conflict (the user is the owner: ownership
    // must pass first). Returns the group after the change.
    virtual task<group_record> remove_member(std::uint64_t group_id, std::uint64_t user_id) = 0;
    // Sets a member's role. Giving `owner` transfers ownership in one transaction: the previous
    // owner becomes admin and the group's owner_id changes. Giving the current owner's role to
    // the owner is a no-op. Errors: not_found (group, or not a member), conflict (demoting the
    // owner: there must always be one; transfer ownership instead).
    // Changes what is given and answers the group. Errors: not_found.
    virtual task<group_record> update_group(std::uint64_t group_id, std::optional<std::string> name,
                                            std::optional<std::string> description,
                                            std::optional<bool> is_public) = 0;
    virtual task<group_record> set_member_role(std::uint64_t group_id, std::uint64_t user_id,
                                               member_role role) = 0;
    // Public groups whose name contains `name_contains` (ASCII letters compared without case;
    // empty: every public group) with id > after_group_id, ascending by id, at most `limit`.
    // Errors: invalid_argument (limit 0).
    virtual task<group_directory_page> public_groups(std::string name_contains,
                                                     std::uint64_t after_group_id,
                                                     std::size_t limit) = 0;
    // Every group of a user with the user's role and joining time, ascending by group id.
    virtual task<std::vector<user_group>> groups_of_user(std::uint64_t user_id) = 0;
    // Member ids > after_user_id, ascending, at most `limit`: the shards of a fan-out.
    // Errors: not_found (no such group).
    virtual task<std::vector<std::uint64_t>> member_ids(std::uint64_t group_id,
                                                        std::uint64_t after_user_id,
                                                        std::size_t limit) = 0;
    // Errors: not_found (no such group).
    virtual task<std::uint64_t> member_count(std::uint64_t group_id) = 0;

    // Deleting a group (contract v1.1), in ONE transaction: the group, its members, mutes,
    // bans and invite links, and the read state, mentions and per-user settings of its
    // conversation go, and a tombstone is written (table deleted_groups). Answers the group
    // and its members as they were. What the message log, the search index, the file store and
    // the webhooks hold of the conversation is logic's to remove afterwards, which then drops
    // the tombstone (forget_deleted_group); a tombstone a crash left is found at the next start
    // (deleted_groups). Errors: not_found (no such group), forbidden (`owner_id` is not its
    // owner: ownership passed meanwhile).
    virtual task<deleted_group> delete_group(std::uint64_t group_id, std::uint64_t owner_id,
                                             std::int64_t now_ms) = 0;
    // The tombstones not dropped yet, ascending group id.
    virtual task<std::vector<std::uint64_t>> deleted_groups() = 0;
    // Drops a tombstone; none is not an error.
    virtual task<void> forget_deleted_group(std::uint64_t group_id) = 0;

    // ---- group moderation (contract v1.1, "Groups") ----

    // Mutes a member of the group until `until_ms` (0: until lifted), replacing an earlier
    // mute; the group's mutes that ended before `now_ms` are forgotten on the way. A mute stays
    // when the user leaves (a rejoin does not lift it) and goes with the group or the user.
    // Errors: not_found (no such group, or the user is not a member).
    virtual task<void> set_group_mute(std::uint64_t group_id, std::uint64_t user_id,
                                      std::int64_t until_ms, std::int64_t now_ms) = 0;
    // Errors: not_found (not muted in that group).
    virtual task<void> lift_group_mute(std::uint64_t group_id, std::uint64_t user_id) = 0;
    // Every group mute, ended ones included (start-up: the send path keeps them in memory).
    virtual task<std::vector<group_mute_record>> group_mutes() = 0;
    // One transaction: the user is banned from the group (again: a no-op) and, when a member,
    // removed (member_count follows). A banned user cannot be added to the group or join it,
    // by any path (add_members, join_group: forbidden), until unban_member. Errors: not_found
    // (no such group or user), conflict (the user owns the group).
    virtual task<group_ban_result> ban_member(std::uint64_t group_id, std::uint64_t user_id,
                                              std::uint64_t banned_by, std::int64_t now_ms) = 0;
    // Errors: not_found (no such group, or the user is not banned).
    virtual task<void> unban_member(std::uint64_t group_id, std::uint64_t user_id) = 0;
    // The group's bans, ascending by user id. Errors: not_found (no such group).
    virtual task<std::vector<group_ban_record>> group_bans(std::uint64_t group_id) = 0;

    // ---- group event journal (issue 21, outgoing webhooks) ----
    // Each of these changes appends a row in its own transaction: create_group (member_joined:
    // the owner and the members), add_members, join_group, join_by_invite (member_joined: those
    // added; nothing when none was), remove_member (member_left), ban_member of a member
    // (member_left with banned_by), update_group (group_updated). A failed change writes no
    // row. Adding an event kind is one more append in the transaction that makes the change.

    // Rows with id > after_id, ascending, at most `limit`.
    virtual task<std::vector<group_journal_row>> read_group_journal(std::uint64_t after_id,
                                                                    std::size_t limit) = 0;
    // The highest id ever given (0: none yet); pruning does not lower it.
    virtual task<std::uint64_t> group_journal_head() = 0;
    // Deletes the rows with id <= up_to_id; answers how many went.
    virtual task<std::uint64_t> prune_group_journal(std::uint64_t up_to_id) = 0;
    // `listener` is called with each row after its transaction committed and before the
    // change's own call completes, on the thread that completes it; rows of concurrent
    // changes may arrive in any order. Replaces the previous listener (an empty one: none).
    // Set it before the changes it must see; it must not block.
    virtual void set_group_journal_listener(group_journal_listener listener) = 0;
};

}  // namespace monochat::storage
