#pragma once
// Friends and groups (shared/protocol.md, "Friends", "Groups" and "Details that clients rely
// on"). The store keeps each change consistent in one transaction (crossing requests, one owner,
// the member limit); this service adds who may do what, and queues the `event` frames of each
// change for gateway on the bus (logic::downstream_topic):
//
//   friend_request {request}                             to its recipient
//   friend_added   {user}                                to both users (each gets the other)
//   member_joined  {group_id, conversation_id, user_ids}  to every member, the new ones included
//   member_left    {group_id, conversation_id, user_id}   to every member and the one who left
//   group_updated  {group, user_id, role}                 to every member (role change, transfer)
//   member_muted   {group_id, conversation_id, user_id, until}  to the muted member
//   member_unmuted {group_id, conversation_id, user_id}         to the member whose mute was lifted
//   group_deleted  {group_id, conversation_id}           to every member as they were just before
//
// Events are best effort: a full downstream queue drops them (counted in
// monochat_events_dropped_total); clients read the current state over HTTP.
//
// Guests get forbidden from every call. A group that exists but that the caller may not see
// (private, not a member) is forbidden; one that does not exist is not_found.
//
// Thread-safety: every member may be called from any thread. Awaitables resume on the awaiting
// coroutine's executor.

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <monochat/infra/result.hpp>
#include <monochat/logic/access.hpp>
#include <monochat/logic/dependencies.hpp>
#include <monochat/logic/wire.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monochat::logic {

struct friend_request_outcome {
    friend_request_info request;
    // The target had already asked the caller: their request was accepted instead and is
    // `request`; the two are friends now.
    bool accepted_existing = false;
};

struct friend_request_lists {
    std::vector<friend_request_info> incoming;  // pending, newest first
    std::vector<friend_request_info> outgoing;  // pending, newest first
};

// A page of the public-group directory (GET /groups?public=true&q=).
struct group_directory {
    std::vector<group_info> groups;     // ascending group_id
    std::optional<std::uint64_t> next;  // the last listed id when more follow; null otherwise
};

// An invite link of a group (POST /groups/{group_id}/invites).
struct group_invite_info {
    std::string code;
    std::uint64_t group_id = 0;
    std::uint64_t uses_left = 0;
    std::int64_t expires_at = 0;  // Unix ms
    std::uint64_t created_by = 0;
    std::int64_t created_at = 0;  // Unix ms
};

// A ban from a group (GET /groups/{group_id}/bans).
struct group_ban_info {
    std::uint64_t user_id = 0;
    std::uint64_t banned_by = 0;
    std::int64_t banned_at = 0;  // Unix ms
};

class social {
public:
    social() = default;
    virtual ~social() = default;
    social(const social&) = delete;
    social& operator=(const social&) = delete;

    template <class T>
    using task = boost::asio::awaitable<result<T>>;

    // ---- friends ----

    // Errors: invalid_argument (oneself, note too long), not_found (no such user), forbidden
    // (a guest target), conflict (already friends, or a pending request to them exists).
    virtual task<friend_request_outcome> send_friend_request(identity who,
                                                             std::uint64_t to_user_id,
                                                             std::string note) = 0;
    virtual task<friend_request_lists> list_friend_requests(identity who) = 0;
    // Only the addressee answers. Errors: not_found, forbidden (not the addressee), conflict
    // (no longer pending).
    virtual task<friend_request_info> accept_friend_request(identity who,
                                                            std::uint64_t request_id) = 0;
    virtual task<friend_request_info> reject_friend_request(identity who,
                                                            std::uint64_t request_id) = 0;
    // Ascending by username.
    virtual task<std::vector<user_info>> list_friends(identity who) = 0;
    // Errors: not_found (not friends).
    virtual task<void> remove_friend(identity who, std::uint64_t user_id) = 0;

    // ---- blocks (contract v1.1, "Blocking") ----

    // Blocks a user: their friendship and any pending request between the two end. The blocked
    // user then gets forbidden for a friend request to the blocker, a direct send to the
    // blocker (direct chats need friendship) and adding the blocker to a group, and no
    // longer sees the blocker's presence (it goes to friends). Nothing is sent to the blocked
    // user. Blocking again is a no-op. Errors: forbidden (guest caller), invalid_argument
    // (oneself), not_found.
    virtual task<void> block_user(identity who, std::uint64_t user_id) = 0;
    // Errors: not_found (not blocked).
    virtual task<void> unblock_user(identity who, std::uint64_t user_id) = 0;
    // The users the caller blocks, most recent first.
    virtual task<std::vector<user_info>> blocked_users(identity who) = 0;

    // ---- world moderation (for the admin API, whose gate checks the role) ----

    // Mutes the user in world for `duration_s` (0: until lifted), replacing an earlier mute:
    // its sends there are forbidden, it still reads. Errors: invalid_argument (duration negative
    // or above ten years), not_found (no such user).
    virtual task<void> mute_in_world(std::uint64_t user_id, std::int64_t duration_s) = 0;
    // Errors: not_found (not muted).
    virtual task<void> unmute_in_world(std::uint64_t user_id) = 0;
    // The current mutes: (user id, until in Unix ms; 0: until lifted), ascending by user id.
    virtual task<std::vector<std::pair<std::uint64_t, std::int64_t>>> world_mutes() = 0;

    // ---- groups ----

    // The caller becomes owner. Errors: invalid_argument (name), not_found (a member id),
    // forbidden (a guest member), conflict (more than limits.max_group_members).
    virtual task<group_info> create_group(identity who, std::string name,
                                          std::vector<std::uint64_t> member_ids,
                                          bool is_public) = 0;
    // Members see their groups; anyone (but guests) sees public groups.
    virtual task<group_info> get_group(identity who, std::uint64_t group_id) = 0;
    // Visible as get_group. Members with user_id > after_user_id, at most `limit`.
    virtual task<member_list> list_members(identity who, std::uint64_t group_id,
                                           std::uint64_t after_user_id, std::size_t limit) = 0;
    // Owner or admin only. Users already in the group are skipped. Errors: forbidden (caller's
    // role, a guest among the users), not_found (group or a user), conflict (member limit).
    virtual task<group_info> add_members(identity who, std::uint64_t group_id,
                                         std::vector<std::uint64_t> user_ids) = 0;
    // Anyone removes themself (leaving); owner or admin remove anyone but the owner. Errors:
    // conflict (the owner leaving before passing ownership), forbidden, not_found (group, or
    // not a member).
    virtual task<void> remove_member(identity who, std::uint64_t group_id,
                                     std::uint64_t user_id) = 0;
    // Owner only (contract v1.1). In order: the social store's side in ONE transaction (the
    // group, members, mutes, bans, invite links, the conversation's read state, mentions and
    // settings, plus a tombstone), the in-memory mutes, `group_deleted` to the members as they
    // were, then the message log drops the conversation (ordered with sends: a send queued
    // before commits and is dropped with it, one after is not_found), then the cleanup (search
    // index, files, webhooks), then the tombstone goes. A failure after the transaction is
    // logged, not answered: the group is gone, and finish_deleted_groups completes the rest at
    // the next start. Not rate limited: owner only and once per group. Errors: forbidden
    // (guest, not a member, not the owner), not_found (no such group).
    virtual task<void> delete_group(identity who, std::uint64_t group_id) = 0;
    // Start-up: finishes every deletion that a crash or a failure left half done (its
    // tombstone is still there): the log drop, the cleanup, the tombstone. Answers how many it
    // finished. Errors: those of the store, the log or the cleanup (the rest waits for the next
    // start).
    virtual task<std::size_t> finish_deleted_groups() = 0;
    // Owner or admin. Changes what is given (name: the group name rule; description: 0 to 1024
    // bytes; public); members get `group_updated` {group}. Errors: forbidden (guest, not owner
    // or admin), not_found, invalid_argument.
    virtual task<group_info> update_group(identity who, std::uint64_t group_id,
                                          std::optional<std::string> name,
                                          std::optional<std::string> description,
                                          std::optional<bool> is_public) = 0;
    // Owner only. `role` is "owner", "admin" or "member"; giving "owner" passes ownership and
    // makes the caller an admin. Errors: invalid_argument (role), forbidden, not_found (group or
    // member), conflict (the owner demoting themself).
    virtual task<group_info> set_member_role(identity who, std::uint64_t group_id,
                                             std::uint64_t user_id, std::string role) = 0;
    // The directory of public groups whose name contains `query` (ASCII letters compared
    // without case; empty: all), with group_id > after_group_id, at most `limit`. Errors:
    // forbidden (guests: they cannot join groups), invalid_argument (query longer than
    // limits.max_group_query_bytes).
    virtual task<group_directory> public_groups(identity who, std::string query,
                                                std::uint64_t after_group_id,
                                                std::size_t limit) = 0;
    // Public groups only; a no-op for a member. Errors: forbidden (private), not_found,
    // conflict (member limit).
    virtual task<group_info> join_group(identity who, std::uint64_t group_id) = 0;

    // ---- group moderation (contract v1.1, "Groups") ----

    // Owner or admin. Mutes a member for `duration_s` (0: until lifted), replacing an earlier
    // mute: its sends to the group are forbidden until the mute ends, it still reads. The mute
    // outlives leaving and rejoining. Errors: forbidden (guest; caller not owner or admin; the
    // target is the owner), invalid_argument (oneself; duration negative or above ten years),
    // not_found (no such group; the target is not a member).
    virtual task<void> mute_member(identity who, std::uint64_t group_id, std::uint64_t user_id,
                                   std::int64_t duration_s) = 0;
    // Owner or admin. Errors: forbidden, not_found (no such group; not muted).
    virtual task<void> unmute_member(identity who, std::uint64_t group_id,
                                     std::uint64_t user_id) = 0;
    // Owner or admin: the group's current mutes (user id, until in Unix ms; 0: until lifted),
    // ascending by user id. Errors: forbidden, not_found.
    virtual task<std::vector<std::pair<std::uint64_t, std::int64_t>>> group_mutes(
        identity who, std::uint64_t group_id) = 0;
    // Owner or admin. Bans a user (a member or not): a member is removed (members get
    // `member_left`), and nobody can add the user, nor can the user join or use an invite
    // link, until the ban is lifted. Banning again is a no-op. Errors: forbidden (guest; caller
    // not owner or admin; the target is the owner), invalid_argument (oneself), not_found (no
    // such group or user).
    virtual task<void> ban_user(identity who, std::uint64_t group_id, std::uint64_t user_id) = 0;
    // Owner or admin. Errors: forbidden, not_found (no such group; not banned).
    virtual task<void> unban_user(identity who, std::uint64_t group_id, std::uint64_t user_id) = 0;
    // Owner or admin: the group's bans, ascending by user id. Errors: forbidden, not_found.
    virtual task<std::vector<group_ban_info>> group_bans(identity who, std::uint64_t group_id) = 0;

    // ---- invite links ----

    // Owner or admin. A new invite link: `uses` (default 1) 1..limits.max_group_invite_uses,
    // `expires_in_s` (default and most: limits.max_group_invite_ttl_s). Errors: forbidden,
    // not_found, invalid_argument (uses, expires_in_s), conflict (limits.max_group_invites
    // usable links exist).
    virtual task<group_invite_info> create_group_invite(identity who, std::uint64_t group_id,
                                                        std::optional<std::int64_t> uses,
                                                        std::optional<std::int64_t> expires_in_s) = 0;
    // Owner or admin: the group's usable links, newest first. Errors: forbidden, not_found.
    virtual task<std::vector<group_invite_info>> group_invites(identity who,
                                                               std::uint64_t group_id) = 0;
    // Owner or admin. Errors: forbidden, not_found (no group; no such link of the group).
    virtual task<void> revoke_group_invite(identity who, std::uint64_t group_id,
                                           std::string code) = 0;
    // Joins the group of an invite link, which loses a use (a member already: a no-op that uses
    // nothing); members get `member_joined`. Attempts are limited per user
    // (limits.group_join_rate). Errors: forbidden (guest; a code that is unknown, used up or
    // expired: one answer; banned), rate_limited, conflict (group full).
    virtual task<group_info> join_by_invite(identity who, std::string code) = 0;
};

// What else holds a deleted group's conversation, outside the social store and the message log
// (the search index, the files, the webhooks): the composition root wires it.
class conversation_cleanup {
public:
    virtual ~conversation_cleanup() = default;
    // Called once the message log has dropped the conversation; repeated calls for one
    // conversation must be harmless. Errors: unavailable (the tombstone stays; called again at
    // the next start).
    virtual boost::asio::awaitable<status> conversation_dropped(std::string conversation_id) = 0;
};

// `cleanup` (borrowed; null: nothing beyond the store and the log) is told of every deleted
// group's conversation.
[[nodiscard]] std::unique_ptr<social> make_social(const dependencies& deps,
                                                  conversation_cleanup* cleanup = nullptr);

}  // namespace monochat::logic
