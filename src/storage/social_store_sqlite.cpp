#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <monochat/infra/clock.hpp>
#include <optional>
#include <string_view>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/social_store.hpp>
#include <mutex>
#include <utility>

#include "storage/group_journal_sqlite.hpp"

#include "storage/sqlite_db.hpp"
#include "storage/sqlite_migrations.hpp"
#include "storage/sqlite_threads.hpp"

namespace monochat::storage {

namespace {

using sqlite::connection;
using sqlite::statement;

constexpr std::uint64_t max_id =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// Ids are stored as SQLite INTEGER (int64): valid ones are 1..2^63-1.
bool valid_id(std::uint64_t id) { return id != 0 && id <= max_id; }

std::int64_t to_limit(std::size_t limit) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(limit, max_id));
}

// ---- statement helpers: prepare, bind, step, map rows ----

template <class... Args>
result<statement> bound(connection& c, std::string_view sql, const Args&... args) {
    auto stmt = c.prepare(sql);
    if (!stmt) {
        return stmt.error();
    }
    if (auto st = stmt->bind(args...); !st) {
        return st.error();
    }
    return stmt;
}

// Runs a statement that returns no rows; answers how many rows it changed.
template <class... Args>
result<std::int64_t> execute(connection& c, std::string_view sql, const Args&... args) {
    auto stmt = bound(c, sql, args...);
    if (!stmt) {
        return stmt.error();
    }
    if (auto st = stmt->run(); !st) {
        return st.error();
    }
    return c.changes();
}

template <class Map, class... Args>
auto query_one(connection& c, std::string_view sql, Map map, const Args&... args)
    -> result<std::optional<decltype(map(std::declval<const statement&>()))>> {
    auto stmt = bound(c, sql, args...);
    if (!stmt) {
        return stmt.error();
    }
    auto row = stmt->step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return std::nullopt;
    }
    return std::optional(map(*stmt));
}

template <class Map, class... Args>
auto query_all(connection& c, std::string_view sql, Map map, const Args&... args)
    -> result<std::vector<decltype(map(std::declval<const statement&>()))>> {
    std::vector<decltype(map(std::declval<const statement&>()))> rows;
    auto stmt = bound(c, sql, args...);
    if (!stmt) {
        return stmt.error();
    }
    for (;;) {
        auto row = stmt->step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return rows;
        }
        rows.push_back(map(*stmt));
    }
}

// ---- row mappings ----
// The column lists are macros only so that they concatenate with the constant SQL around them;
// each sits next to the function that reads its columns by position.

#define MONOCHAT_USER_INSERT_COLUMNS "id, username, display_name, password_hash, guest, created_ms"
#define MONOCHAT_USER_COLUMNS MONOCHAT_USER_INSERT_COLUMNS ", suspended, bot, avatar_file_id"
user_record user_from(const statement& s, int first = 0) {
    user_record u{s.column_uint64(first),   s.column_text(first + 1),
                  s.column_text(first + 2), s.column_text(first + 3),
                  s.column_bool(first + 4), s.column_int64(first + 5)};
    u.suspended = s.column_bool(first + 6);
    u.bot = s.column_bool(first + 7);
    if (!s.column_is_null(first + 8)) {
        u.avatar_file_id = s.column_uint64(first + 8);
    }
    return u;
}

#define MONOCHAT_TOKEN_COLUMNS \
    "token_hash, user_id, created_ms, expires_ms, session_id, last_used_ms, user_agent"
token_record token_from(const statement& s) {
    token_record t;
    t.token_hash = s.column_blob(0);
    t.user_id = s.column_uint64(1);
    t.created_ms = s.column_int64(2);
    t.expires_ms = s.column_int64(3);
    t.session_id = s.column_uint64(4);
    t.last_used_ms = s.column_int64(5);
    t.user_agent = s.column_text(6);
    return t;
}

// Deletes the user's tokens but `keep` (empty: all) and answers their hashes.
result<std::vector<std::string>> delete_tokens_but(connection& c, std::uint64_t user_id,
                                                   const std::string& keep) {
    auto hashes = query_all(
        c, "SELECT token_hash FROM tokens WHERE user_id = ?1 AND token_hash != ?2",
        [](const statement& s) { return s.column_blob(0); }, user_id, sqlite::blob{keep});
    if (!hashes) {
        return hashes.error();
    }
    auto deleted = execute(c, "DELETE FROM tokens WHERE user_id = ?1 AND token_hash != ?2",
                           user_id, sqlite::blob{keep});
    if (!deleted) {
        return deleted.error();
    }
    return hashes;
}

#define MONOCHAT_GROUP_COLUMNS "id, name, owner_id, public, member_count, created_ms"
// What get_group and the directory read: the columns above and the description.
#define MONOCHAT_GROUP_FULL_COLUMNS MONOCHAT_GROUP_COLUMNS ", description"
group_record group_from(const statement& s, int first = 0) {
    return group_record{s.column_uint64(first),     s.column_text(first + 1),
                        s.column_uint64(first + 2), s.column_bool(first + 3),
                        s.column_uint64(first + 4), s.column_int64(first + 5)};
}
group_record full_group_from(const statement& s) {
    group_record g = group_from(s);
    g.description = s.column_text(6);
    return g;
}

friend_request_status status_from(const std::string& text) {
    if (text == "accepted") {
        return friend_request_status::accepted;
    }
    if (text == "rejected") {
        return friend_request_status::rejected;
    }
    return friend_request_status::pending;  // the CHECK constraint admits nothing else
}

#define MONOCHAT_REQUEST_COLUMNS \
    "id, from_user_id, to_user_id, note, status, created_ms, updated_ms"
friend_request_record request_from(const statement& s) {
    return friend_request_record{s.column_uint64(0),
                                 s.column_uint64(1),
                                 s.column_uint64(2),
                                 s.column_text(3),
                                 status_from(s.column_text(4)),
                                 s.column_int64(5),
                                 s.column_int64(6)};
}

member_role role_from(const std::string& text) {
    // The CHECK constraint admits only the three spellings.
    return parse_member_role(text).value_or(member_role::member);
}

member_record member_from(const statement& s) {
    return member_record{s.column_uint64(0), role_from(s.column_text(1)), s.column_int64(2)};
}

std::uint64_t id_from(const statement& s) { return s.column_uint64(0); }
bool true_from(const statement&) { return true; }

// ---- users ----

error user_not_found(std::uint64_t id) {
    return make_error(errc::not_found, fmt::format("user {} not found", id));
}

result<user_record> get_user(connection& c, std::uint64_t id) {
    auto row = query_one(
        c, "SELECT " MONOCHAT_USER_COLUMNS " FROM users WHERE id = ?1",
        [](const statement& s) { return user_from(s); }, id);
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return user_not_found(id);
    }
    return std::move(**row);
}

result<user_record> create_user(connection& c, const user_record& u) {
    if (!valid_id(u.id)) {
        return make_error(errc::invalid_argument, fmt::format("user id {} out of range", u.id));
    }
    auto same_id = query_one(c, "SELECT 1 FROM users WHERE id = ?1", true_from, u.id);
    if (!same_id) {
        return same_id.error();
    }
    if (*same_id) {
        return make_error(errc::conflict, fmt::format("user id {} exists", u.id));
    }
    if (!u.guest) {
        auto taken = query_one(c, "SELECT 1 FROM users WHERE guest = 0 AND username = ?1",
                               true_from, u.username);
        if (!taken) {
            return taken.error();
        }
        if (*taken) {
            return make_error(errc::conflict, fmt::format("username '{}' is taken", u.username));
        }
        // A self-deleted user's name is never given out again (DELETE /me).
        auto reserved = query_one(c, "SELECT 1 FROM deleted_users WHERE username = ?1", true_from,
                                  u.username);
        if (!reserved) {
            return reserved.error();
        }
        if (*reserved) {
            return make_error(errc::conflict, fmt::format("username '{}' is taken", u.username));
        }
    }
    auto inserted =
        execute(c,
                "INSERT INTO users (" MONOCHAT_USER_INSERT_COLUMNS
                ", last_seen_ms, bot) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
                u.id, u.username, u.display_name, u.password_hash, u.guest, u.created_ms, u.bot);
    if (!inserted) {
        return inserted.error();
    }
    return u;
}

// The user's guest flag; not_found when the user does not exist.
result<bool> is_guest(connection& c, std::uint64_t id) {
    auto row = query_one(
        c, "SELECT guest FROM users WHERE id = ?1",
        [](const statement& s) { return s.column_bool(0); }, id);
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return user_not_found(id);
    }
    return **row;
}

status require_user(connection& c, std::uint64_t id) {
    auto guest = is_guest(c, id);
    if (!guest) {
        return guest.error();
    }
    return {};
}

// The user's row and, by ON DELETE CASCADE, its tokens, friendships, requests, memberships and
// read state; refused (conflict) while the user owns a group.
status delete_user_row(connection& c, std::uint64_t user_id) {
    auto owns = query_one(c, "SELECT 1 FROM chat_groups WHERE owner_id = ?1 LIMIT 1", true_from,
                          user_id);
    if (!owns) {
        return owns.error();
    }
    if (*owns) {
        return make_error(errc::conflict, "the user owns a group; pass ownership on first");
    }
    // Member counts of the user's groups go down with the rows that CASCADE removes.
    auto counted = execute(c,
                           "UPDATE chat_groups SET member_count = member_count - 1"
                           " WHERE id IN (SELECT group_id FROM group_members WHERE user_id = ?1)",
                           user_id);
    if (!counted) {
        return counted.error();
    }
    auto deleted = execute(c, "DELETE FROM users WHERE id = ?1", user_id);
    if (!deleted) {
        return deleted.error();
    }
    return {};
}

// ---- friends ----

result<bool> are_friends(connection& c, std::uint64_t a, std::uint64_t b) {
    auto row = query_one(c, "SELECT 1 FROM friendships WHERE user_id = ?1 AND friend_id = ?2",
                         true_from, a, b);
    if (!row) {
        return row.error();
    }
    return row->has_value();
}

result<std::optional<friend_request_record>> pending_request(connection& c, std::uint64_t from,
                                                             std::uint64_t to) {
    return query_one(c,
                     "SELECT " MONOCHAT_REQUEST_COLUMNS
                     " FROM friend_requests"
                     " WHERE from_user_id = ?1 AND to_user_id = ?2 AND status = 'pending'",
                     request_from, from, to);
}

result<friend_request_record> get_request(connection& c, std::uint64_t id) {
    auto row =
        query_one(c, "SELECT " MONOCHAT_REQUEST_COLUMNS " FROM friend_requests WHERE id = ?1",
                  request_from, id);
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return make_error(errc::not_found, fmt::format("friend request {} not found", id));
    }
    return std::move(**row);
}

status befriend(connection& c, std::uint64_t a, std::uint64_t b, std::int64_t now_ms) {
    // OR IGNORE: accepting must succeed even if the two somehow are friends already.
    for (const auto& [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
        auto done = execute(c,
                            "INSERT OR IGNORE INTO friendships (user_id, friend_id, since_ms)"
                            " VALUES (?1, ?2, ?3)",
                            x, y, now_ms);
        if (!done) {
            return done.error();
        }
    }
    return {};
}

// Moves a pending request to `to`; makes the two friends when accepting.
result<friend_request_record> answer_request(connection& c, friend_request_record request,
                                             friend_request_status to, std::int64_t now_ms) {
    auto updated = execute(c,
                           "UPDATE friend_requests SET status = ?2, updated_ms = ?3"
                           " WHERE id = ?1 AND status = 'pending'",
                           request.id, to_string(to), now_ms);
    if (!updated) {
        return updated.error();
    }
    if (to == friend_request_status::accepted) {
        if (auto st = befriend(c, request.from_user_id, request.to_user_id, now_ms); !st) {
            return st.error();
        }
    }
    request.status = to;
    request.updated_ms = now_ms;
    return request;
}

result<send_friend_request_result> send_friend_request(connection& c, std::uint64_t id,
                                                       std::uint64_t from, std::uint64_t to,
                                                       const std::string& note,
                                                       std::int64_t now_ms) {
    if (from == to) {
        return make_error(errc::invalid_argument, "cannot send a friend request to oneself");
    }
    if (!valid_id(id)) {
        return make_error(errc::invalid_argument, fmt::format("request id {} out of range", id));
    }
    for (const std::uint64_t user : {from, to}) {
        auto guest = is_guest(c, user);
        if (!guest) {
            return guest.error();
        }
        if (*guest) {
            return make_error(errc::forbidden,
                              fmt::format("user {} is a guest; guests have no friends", user));
        }
    }
    // Nothing tells a blocked user that it is a block.
    auto blocked = query_one(c,
                             "SELECT 1 FROM blocks WHERE (user_id = ?1 AND blocked_id = ?2)"
                             " OR (user_id = ?2 AND blocked_id = ?1)",
                             true_from, from, to);
    if (!blocked) {
        return blocked.error();
    }
    if (*blocked) {
        return make_error(errc::forbidden, "no friend request can be sent to this user");
    }
    auto friends = are_friends(c, from, to);
    if (!friends) {
        return friends.error();
    }
    if (*friends) {
        return make_error(errc::conflict, fmt::format("already friends with user {}", to));
    }
    auto mine = pending_request(c, from, to);
    if (!mine) {
        return mine.error();
    }
    if (*mine) {
        return make_error(errc::conflict,
                          fmt::format("a friend request to user {} is already pending", to));
    }
    auto theirs = pending_request(c, to, from);
    if (!theirs) {
        return theirs.error();
    }
    if (*theirs) {
        auto accepted =
            answer_request(c, std::move(**theirs), friend_request_status::accepted, now_ms);
        if (!accepted) {
            return accepted.error();
        }
        return send_friend_request_result{std::move(*accepted), true};
    }
    friend_request_record request{id,     from,  to, note, friend_request_status::pending,
                                  now_ms, now_ms};
    auto inserted = execute(c,
                            "INSERT INTO friend_requests (" MONOCHAT_REQUEST_COLUMNS
                            ") VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
                            id, from, to, note, now_ms);
    if (!inserted) {
        return inserted.error();
    }
    return send_friend_request_result{std::move(request), false};
}

result<friend_request_record> respond(connection& c, std::uint64_t id, std::uint64_t actor,
                                      friend_request_status to, std::int64_t now_ms) {
    auto request = get_request(c, id);
    if (!request) {
        return request.error();
    }
    if (request->to_user_id != actor) {
        return make_error(errc::forbidden, "only the addressee may answer a friend request");
    }
    if (request->status != friend_request_status::pending) {
        return make_error(errc::conflict, fmt::format("friend request {} is already {}", id,
                                                      to_string(request->status)));
    }
    return answer_request(c, std::move(*request), to, now_ms);
}

// ---- groups ----

group_invite_record group_invite_from(const statement& s) {
    return group_invite_record{s.column_text(0),   s.column_uint64(1), s.column_uint64(2),
                               s.column_int64(3),  s.column_uint64(4), s.column_int64(5)};
}

error unusable_group_invite() {
    return make_error(errc::forbidden, "the invite link is unknown, used up or expired");
}

result<group_record> get_group(connection& c, std::uint64_t id) {
    auto row = query_one(
        c, "SELECT " MONOCHAT_GROUP_FULL_COLUMNS " FROM chat_groups WHERE id = ?1",
        [](const statement& s) { return full_group_from(s); }, id);
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return make_error(errc::not_found, fmt::format("group {} not found", id));
    }
    return std::move(**row);
}

status require_group(connection& c, std::uint64_t id) {
    auto group = query_one(c, "SELECT 1 FROM chat_groups WHERE id = ?1", true_from, id);
    if (!group) {
        return group.error();
    }
    if (!*group) {
        return make_error(errc::not_found, fmt::format("group {} not found", id));
    }
    return {};
}

// A user may become a member: exists (not_found) and is no guest (forbidden).
status require_member_candidate(connection& c, std::uint64_t id) {
    auto guest = is_guest(c, id);
    if (!guest) {
        return guest.error();
    }
    if (*guest) {
        return make_error(errc::forbidden,
                          fmt::format("user {} is a guest; guests cannot join groups", id));
    }
    return {};
}

error group_full(std::uint64_t max_members) {
    return make_error(errc::conflict, fmt::format("a group has at most {} members", max_members));
}

result<std::optional<member_role>> role_of(connection& c, std::uint64_t group_id,
                                           std::uint64_t user_id) {
    return query_one(
        c, "SELECT role FROM group_members WHERE group_id = ?1 AND user_id = ?2",
        [](const statement& s) { return role_from(s.column_text(0)); }, group_id, user_id);
}

status insert_member(connection& c, std::uint64_t group_id, std::uint64_t user_id, member_role role,
                     std::int64_t joined_ms) {
    auto done = execute(c,
                        "INSERT INTO group_members (group_id, user_id, role, joined_ms)"
                        " VALUES (?1, ?2, ?3, ?4)",
                        group_id, user_id, to_string(role), joined_ms);
    if (!done) {
        return done.error();
    }
    return {};
}

std::vector<std::uint64_t> sorted_unique(std::vector<std::uint64_t> ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

result<group_record> create_group(connection& c, std::uint64_t id, const std::string& name,
                                  std::uint64_t owner, bool is_public,
                                  std::vector<std::uint64_t> member_ids, std::int64_t created_ms,
                                  std::uint64_t max_members) {
    if (!valid_id(id)) {
        return make_error(errc::invalid_argument, fmt::format("group id {} out of range", id));
    }
    auto existing = query_one(c, "SELECT 1 FROM chat_groups WHERE id = ?1", true_from, id);
    if (!existing) {
        return existing.error();
    }
    if (*existing) {
        return make_error(errc::conflict, fmt::format("group id {} exists", id));
    }
    member_ids = sorted_unique(std::move(member_ids));
    std::erase(member_ids, owner);
    if (1 + member_ids.size() > max_members) {
        return group_full(max_members);
    }
    if (auto st = require_member_candidate(c, owner); !st) {
        return st.error();
    }
    for (const std::uint64_t m : member_ids) {
        if (auto st = require_member_candidate(c, m); !st) {
            return st.error();
        }
    }
    group_record group{id, name, owner, is_public, 1 + member_ids.size(), created_ms};
    auto inserted = execute(
        c, "INSERT INTO chat_groups (" MONOCHAT_GROUP_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        group.id, group.name, group.owner_id, group.is_public, group.member_count,
        group.created_ms);
    if (!inserted) {
        return inserted.error();
    }
    if (auto st = insert_member(c, id, owner, member_role::owner, created_ms); !st) {
        return st.error();
    }
    for (const std::uint64_t m : member_ids) {
        if (auto st = insert_member(c, id, m, member_role::member, created_ms); !st) {
            return st.error();
        }
    }
    return group;
}

result<members_added> add_members(connection& c, std::uint64_t group_id,
                                  std::vector<std::uint64_t> user_ids, std::int64_t joined_ms,
                                  std::uint64_t max_members) {
    auto group = get_group(c, group_id);
    if (!group) {
        return group.error();
    }
    std::vector<std::uint64_t> added;
    for (const std::uint64_t u : sorted_unique(std::move(user_ids))) {
        auto role = role_of(c, group_id, u);
        if (!role) {
            return role.error();
        }
        if (*role) {
            continue;
        }
        if (auto st = require_member_candidate(c, u); !st) {
            return st.error();
        }
        auto banned = query_one(c, "SELECT 1 FROM group_bans WHERE group_id = ?1 AND user_id = ?2",
                                true_from, group_id, u);
        if (!banned) {
            return banned.error();
        }
        if (*banned) {
            return make_error(errc::forbidden,
                              fmt::format("user {} is banned from this group", u));
        }
        added.push_back(u);
    }
    if (added.empty()) {
        return members_added{std::move(*group), {}};
    }
    if (group->member_count + added.size() > max_members) {
        return group_full(max_members);
    }
    for (const std::uint64_t u : added) {
        if (auto st = insert_member(c, group_id, u, member_role::member, joined_ms); !st) {
            return st.error();
        }
    }
    auto counted =
        execute(c, "UPDATE chat_groups SET member_count = member_count + ?2 WHERE id = ?1",
                group_id, added.size());
    if (!counted) {
        return counted.error();
    }
    group->member_count += added.size();
    return members_added{std::move(*group), std::move(added)};
}

error not_a_member(std::uint64_t group_id, std::uint64_t user_id) {
    return make_error(errc::not_found,
                      fmt::format("user {} is not a member of group {}", user_id, group_id));
}

result<group_record> remove_member(connection& c, std::uint64_t group_id, std::uint64_t user_id) {
    auto group = get_group(c, group_id);
    if (!group) {
        return group.error();
    }
    auto role = role_of(c, group_id, user_id);
    if (!role) {
        return role.error();
    }
    if (!*role) {
        return not_a_member(group_id, user_id);
    }
    if (**role == member_role::owner) {
        return make_error(errc::conflict,
                          "the owner cannot leave the group; transfer ownership first");
    }
    auto removed = execute(c, "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
                           group_id, user_id);
    if (!removed) {
        return removed.error();
    }
    auto counted = execute(
        c, "UPDATE chat_groups SET member_count = member_count - 1 WHERE id = ?1", group_id);
    if (!counted) {
        return counted.error();
    }
    group->member_count -= 1;
    return std::move(*group);
}

status update_role(connection& c, std::uint64_t group_id, std::uint64_t user_id, member_role role) {
    auto done =
        execute(c, "UPDATE group_members SET role = ?3 WHERE group_id = ?1 AND user_id = ?2",
                group_id, user_id, to_string(role));
    if (!done) {
        return done.error();
    }
    return {};
}

result<group_record> set_member_role(connection& c, std::uint64_t group_id, std::uint64_t user_id,
                                     member_role role) {
    auto group = get_group(c, group_id);
    if (!group) {
        return group.error();
    }
    auto current = role_of(c, group_id, user_id);
    if (!current) {
        return current.error();
    }
    if (!*current) {
        return not_a_member(group_id, user_id);
    }
    if (**current == role) {
        return std::move(*group);
    }
    if (**current == member_role::owner) {
        return make_error(errc::conflict,
                          "the owner's role changes only by giving ownership to another member");
    }
    if (role == member_role::owner) {
        // One transaction: the group never has zero or two owners.
        if (auto st = update_role(c, group_id, group->owner_id, member_role::admin); !st) {
            return st.error();
        }
        auto moved =
            execute(c, "UPDATE chat_groups SET owner_id = ?2 WHERE id = ?1", group_id, user_id);
        if (!moved) {
            return moved.error();
        }
        group->owner_id = user_id;
    }
    if (auto st = update_role(c, group_id, user_id, role); !st) {
        return st.error();
    }
    return std::move(*group);
}

result<member_page> list_members(connection& c, std::uint64_t group_id, std::uint64_t after,
                                 std::size_t limit) {
    if (limit == 0) {
        return make_error(errc::invalid_argument, "limit must be at least 1");
    }
    if (auto st = require_group(c, group_id); !st) {
        return st.error();
    }
    member_page page;
    if (after >= max_id) {
        return page;
    }
    // One more than asked tells whether another page follows.
    auto rows = query_all(c,
                          "SELECT user_id, role, joined_ms FROM group_members"
                          " WHERE group_id = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3",
                          member_from, group_id, after, to_limit(limit) + 1);
    if (!rows) {
        return rows.error();
    }
    page.members = std::move(*rows);
    if (page.members.size() > limit) {
        page.members.resize(limit);
        page.next = page.members.back().user_id;
    }
    return page;
}

result<std::vector<std::uint64_t>> member_ids(connection& c, std::uint64_t group_id,
                                              std::uint64_t after, std::size_t limit) {
    if (limit == 0) {
        return make_error(errc::invalid_argument, "limit must be at least 1");
    }
    if (auto st = require_group(c, group_id); !st) {
        return st.error();
    }
    if (after >= max_id) {
        return std::vector<std::uint64_t>{};
    }
    return query_all(c,
                     "SELECT user_id FROM group_members"
                     " WHERE group_id = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3",
                     id_from, group_id, after, to_limit(limit));
}

// The group a conversation id names ("group:<id>"), or nullopt for any other conversation.
std::optional<std::uint64_t> group_of_conversation(std::string_view cid) {
    constexpr std::string_view prefix = "group:";
    if (cid.substr(0, prefix.size()) != prefix) {
        return std::nullopt;
    }
    std::uint64_t id = 0;
    const auto digits = cid.substr(prefix.size());
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
        return std::nullopt;
    }
    return id;
}

result<deleted_group> delete_group(connection& c, std::uint64_t group_id, std::uint64_t owner_id,
                                   std::int64_t now_ms) {
    auto group = get_group(c, group_id);
    if (!group) {
        return group.error();
    }
    if (group->owner_id != owner_id) {
        return make_error(errc::forbidden, "only the owner may delete the group");
    }
    auto members = query_all(c, "SELECT user_id FROM group_members WHERE group_id = ?1"
                                " ORDER BY user_id",
                             id_from, group_id);
    if (!members) {
        return members.error();
    }
    const std::string cid = fmt::format("group:{}", group_id);
    for (const std::string_view sql : {
             "DELETE FROM read_state WHERE conversation_id = ?1",
             "DELETE FROM mentions WHERE conversation_id = ?1",
             "DELETE FROM conversation_settings WHERE conversation_id = ?1",
         }) {
        if (auto done = execute(c, sql, cid); !done) {
            return done.error();
        }
    }
    // The foreign keys cascade these too; spelled out so that nothing depends on the pragma.
    for (const std::string_view sql : {
             "DELETE FROM group_members WHERE group_id = ?1",
             "DELETE FROM group_mutes WHERE group_id = ?1",
             "DELETE FROM group_bans WHERE group_id = ?1",
             "DELETE FROM group_invites WHERE group_id = ?1",
             "DELETE FROM chat_groups WHERE id = ?1",
         }) {
        if (auto done = execute(c, sql, group_id); !done) {
            return done.error();
        }
    }
    if (auto done = execute(c,
                            "INSERT OR REPLACE INTO deleted_groups (group_id, deleted_ms)"
                            " VALUES (?1, ?2)",
                            group_id, now_ms);
        !done) {
        return done.error();
    }
    return deleted_group{std::move(*group), std::move(*members)};
}

result<group_directory_page> public_groups(connection& c, const std::string& needle,
                                           std::uint64_t after, std::size_t limit) {
    if (limit == 0) {
        return make_error(errc::invalid_argument, "limit must be at least 1");
    }
    group_directory_page page;
    if (after >= max_id) {
        return page;
    }
    // LIKE with its wildcards escaped: the name contains `needle` as typed. SQLite's LIKE
    // ignores case for ASCII letters only.
    std::string pattern = "%";
    for (const char ch : needle) {
        if (ch == '%' || ch == '_' || ch == '\\') {
            pattern += '\\';
        }
        pattern += ch;
    }
    pattern += '%';
    auto rows = query_all(c,
                          "SELECT " MONOCHAT_GROUP_FULL_COLUMNS " FROM chat_groups"
                          " WHERE public = 1 AND id > ?1 AND name LIKE ?2 ESCAPE '\\'"
                          " ORDER BY id LIMIT ?3",
                          [](const statement& s) { return full_group_from(s); }, after, pattern,
                          to_limit(limit) + 1);
    if (!rows) {
        return rows.error();
    }
    page.groups = std::move(*rows);
    if (page.groups.size() > limit) {
        page.groups.resize(limit);
        page.next = page.groups.back().id;
    }
    return page;
}

// ---- direct conversations and read state ----

status record_direct_message(connection& c, std::uint64_t a, std::uint64_t b,
                             std::int64_t message_ms) {
    if (a == b) {
        return make_error(errc::invalid_argument, "a direct conversation needs two users");
    }
    for (const std::uint64_t u : {a, b}) {
        if (auto st = require_user(c, u); !st) {
            return st;
        }
    }
    const std::string cid = direct_conversation_id(a, b);
    for (const auto& [user, peer] : {std::pair{a, b}, std::pair{b, a}}) {
        // max(): a late, out-of-order record never moves the conversation back in the list.
        auto done = execute(c,
                            "INSERT INTO direct_conversations"
                            " (user_id, peer_id, conversation_id, last_message_ms)"
                            " VALUES (?1, ?2, ?3, ?4)"
                            " ON CONFLICT (user_id, peer_id) DO UPDATE"
                            " SET last_message_ms = max(last_message_ms, excluded.last_message_ms)",
                            user, peer, cid, message_ms);
        if (!done) {
            return done.error();
        }
    }
    return {};
}

result<bool> set_read_position(connection& c, std::uint64_t user_id, const std::string& cid,
                               std::uint64_t seq, std::int64_t now_ms) {
    if (seq > max_id) {
        return make_error(errc::invalid_argument, fmt::format("seq {} out of range", seq));
    }
    if (auto st = require_user(c, user_id); !st) {
        return st.error();
    }
    if (seq == 0) {
        return false;  // every position starts at 0: nothing to move
    }
    // The WHERE of the upsert is the monotonicity rule: an older position changes no row.
    auto changed = execute(c,
                           "INSERT INTO read_state (user_id, conversation_id, read_seq, updated_ms)"
                           " VALUES (?1, ?2, ?3, ?4)"
                           " ON CONFLICT (user_id, conversation_id) DO UPDATE"
                           " SET read_seq = excluded.read_seq, updated_ms = excluded.updated_ms"
                           " WHERE excluded.read_seq > read_state.read_seq",
                           user_id, cid, seq, now_ms);
    if (!changed) {
        return changed.error();
    }
    if (*changed == 0) {
        return false;
    }
    // Mentions up to the new position are read: the table keeps only unread ones.
    auto read = execute(c,
                        "DELETE FROM mentions"
                        " WHERE user_id = ?1 AND conversation_id = ?2 AND seq <= ?3",
                        user_id, cid, seq);
    if (!read) {
        return read.error();
    }
    return true;
}

result<std::uint64_t> add_mentions(connection& c, const std::string& cid, std::uint64_t seq,
                                   const std::vector<std::uint64_t>& user_ids,
                                   std::optional<std::uint64_t> group) {
    if (seq == 0 || seq > max_id) {
        return make_error(errc::invalid_argument, fmt::format("seq {} out of range", seq));
    }
    std::uint64_t added = 0;
    for (const auto user : user_ids) {
        if (user > max_id) {
            continue;  // not an id this store hands out: no such user
        }
        // One statement checks existence, membership and the read position, so that a
        // mention never names a stranger and a read message adds no unread mention.
        auto done = group ? execute(c,
                                    "INSERT OR IGNORE INTO mentions (user_id, conversation_id, seq)"
                                    " SELECT ?1, ?2, ?3 WHERE EXISTS"
                                    " (SELECT 1 FROM group_members WHERE group_id = ?4 AND user_id = ?1)"
                                    " AND NOT EXISTS (SELECT 1 FROM read_state"
                                    "  WHERE user_id = ?1 AND conversation_id = ?2 AND read_seq >= ?3)",
                                    user, cid, seq, *group)
                          : execute(c,
                                    "INSERT OR IGNORE INTO mentions (user_id, conversation_id, seq)"
                                    " SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?1)"
                                    " AND NOT EXISTS (SELECT 1 FROM read_state"
                                    "  WHERE user_id = ?1 AND conversation_id = ?2 AND read_seq >= ?3)",
                                    user, cid, seq);
        if (!done) {
            return done.error();
        }
        added += static_cast<std::uint64_t>(*done);
    }
    return added;
}

result<readers_result> conversation_readers(connection& c, const std::string& cid,
                                            std::uint64_t seq, std::size_t limit,
                                            std::optional<std::uint64_t> group) {
    readers_result out;
    if (seq > max_id) {
        return out;
    }
    const auto count_from = [](const statement& s) { return s.column_uint64(0); };
    result<std::optional<std::uint64_t>> count =
        group ? query_one(c,
                          "SELECT count(*) FROM read_state r"
                          " WHERE r.conversation_id = ?1 AND r.read_seq >= ?2 AND EXISTS"
                          " (SELECT 1 FROM group_members m"
                          "  WHERE m.group_id = ?3 AND m.user_id = r.user_id)",
                          count_from, cid, seq, *group)
              : query_one(c,
                          "SELECT count(*) FROM read_state"
                          " WHERE conversation_id = ?1 AND read_seq >= ?2",
                          count_from, cid, seq);
    if (!count) {
        return count.error();
    }
    out.count = count->value_or(0);
    if (limit == 0 || out.count == 0) {
        return out;
    }
    auto ids = group ? query_all(c,
                                 "SELECT r.user_id FROM read_state r"
                                 " WHERE r.conversation_id = ?1 AND r.read_seq >= ?2 AND EXISTS"
                                 " (SELECT 1 FROM group_members m"
                                 "  WHERE m.group_id = ?3 AND m.user_id = r.user_id)"
                                 " ORDER BY r.user_id LIMIT ?4",
                                 id_from, cid, seq, *group, to_limit(limit))
                     : query_all(c,
                                 "SELECT user_id FROM read_state"
                                 " WHERE conversation_id = ?1 AND read_seq >= ?2"
                                 " ORDER BY user_id LIMIT ?3",
                                 id_from, cid, seq, to_limit(limit));
    if (!ids) {
        return ids.error();
    }
    out.user_ids = std::move(*ids);
    return out;
}

// Inserts a token of an existing user. Errors: not_found (no such user), conflict (the hash
// exists).
status insert_token(connection& c, const token_record& t) {
    if (auto st = require_user(c, t.user_id); !st) {
        return st;
    }
    auto exists = query_one(c, "SELECT 1 FROM tokens WHERE token_hash = ?1", true_from,
                            sqlite::blob{t.token_hash});
    if (!exists) {
        return exists.error();
    }
    if (*exists) {
        return make_error(errc::conflict, "token exists");
    }
    auto done = execute(c,
                        "INSERT INTO tokens (token_hash, user_id, created_ms, expires_ms,"
                        " session_id, last_used_ms, user_agent)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        sqlite::blob{t.token_hash}, t.user_id, t.created_ms, t.expires_ms,
                        t.session_id, std::max(t.last_used_ms, t.created_ms), t.user_agent);
    if (!done) {
        return done.error();
    }
    return {};
}

// ---- the store ----

class sqlite_social_store final : public social_store {
public:
    sqlite_social_store(std::unique_ptr<connection> writer_conn,
                        std::vector<std::unique_ptr<connection>> reader_conns,
                        const sqlite_social_store_options& options,
                        infra::metrics_registry& metrics)
        : metrics_(metrics),
          journal_clock_(options.clock),
          group_last_seq_(options.group_last_seq),
          readers_(std::move(reader_conns), make_thread_metrics(metrics)),
          writer_(std::move(writer_conn), options.max_write_batch, make_thread_metrics(metrics)) {
        metrics_.gauge_callback(
            "monochat_queue_depth", "Items waiting in a queue.", {{"queue", "sqlite_writer"}},
            [this] { return static_cast<double>(writer_.queue_depth()); }, this);
    }

    ~sqlite_social_store() override { metrics_.remove_callbacks(this); }

    // ---- users ----

    task<user_record> create_user(user_record user) override {
        return write<user_record>(
            [u = std::move(user)](connection& c) { return storage::create_user(c, u); });
    }

    task<user_record> get_user(std::uint64_t user_id) override {
        return read<user_record>([=](connection& c) { return storage::get_user(c, user_id); });
    }

    task<user_record> get_user_by_username(std::string username) override {
        return read<user_record>([name =
                                      std::move(username)](connection& c) -> result<user_record> {
            auto row = query_one(
                c, "SELECT " MONOCHAT_USER_COLUMNS " FROM users WHERE guest = 0 AND username = ?1",
                [](const statement& s) { return user_from(s); }, name);
            if (!row) {
                return row.error();
            }
            if (!*row) {
                return make_error(errc::not_found, "no user with that username");
            }
            return std::move(**row);
        });
    }

    task<std::vector<user_record>> get_users(std::vector<std::uint64_t> user_ids) override {
        return read<std::vector<user_record>>(
            [ids = std::move(user_ids)](connection& c) -> result<std::vector<user_record>> {
                std::vector<user_record> users;
                users.reserve(ids.size());
                for (const std::uint64_t id : ids) {
                    auto user = storage::get_user(c, id);
                    if (user) {
                        users.push_back(std::move(*user));
                    } else if (user.error().code != errc::not_found) {
                        return user.error();
                    }
                }
                return users;
            });
    }

    task<std::vector<user_record>> search_users(std::string prefix, std::size_t limit) override {
        return read<std::vector<user_record>>(
            [p = std::move(prefix), limit](connection& c) -> result<std::vector<user_record>> {
                if (limit == 0) {
                    return make_error(errc::invalid_argument, "limit must be at least 1");
                }
                // A range on the username index: every valid UTF-8 string that starts with
                // `p` sorts below p + 0xFF (a byte UTF-8 never contains).
                const std::string upper = p + '\xff';
                return query_all(
                    c,
                    "SELECT " MONOCHAT_USER_COLUMNS
                    " FROM users WHERE guest = 0 AND username >= ?1"
                    " AND username < ?2 ORDER BY username LIMIT ?3",
                    [](const statement& s) { return user_from(s); }, p, upper, to_limit(limit));
            });
    }

    task<user_record> update_display_name(std::uint64_t user_id,
                                          std::string display_name) override {
        return write<user_record>(
            [=, name = std::move(display_name)](connection& c) -> result<user_record> {
                auto changed =
                    execute(c, "UPDATE users SET display_name = ?2 WHERE id = ?1", user_id, name);
                if (!changed) {
                    return changed.error();
                }
                if (*changed == 0) {
                    return user_not_found(user_id);
                }
                return storage::get_user(c, user_id);
            });
    }

    task<user_record> update_profile(std::uint64_t user_id, profile_update change) override {
        // The writer runs each job in a savepoint of its own: both fields or neither.
        return write<user_record>([=, change = std::move(change)](connection& c) -> result<user_record> {
            auto exists = query_one(c, "SELECT 1 FROM users WHERE id = ?1", true_from, user_id);
            if (!exists) {
                return exists.error();
            }
            if (!*exists) {
                return user_not_found(user_id);
            }
            if (change.display_name) {
                auto st = execute(c, "UPDATE users SET display_name = ?2 WHERE id = ?1", user_id,
                                  *change.display_name);
                if (!st) {
                    return st.error();
                }
            }
            if (change.avatar_file_id) {
                auto st = execute(c, "UPDATE users SET avatar_file_id = ?2 WHERE id = ?1", user_id,
                                  *change.avatar_file_id);
                if (!st) {
                    return st.error();
                }
            }
            return storage::get_user(c, user_id);
        });
    }

    task<bool> is_avatar(std::uint64_t file_id) override {
        return read<bool>([=](connection& c) -> result<bool> {
            auto row = query_one(c, "SELECT 1 FROM users WHERE avatar_file_id = ?1", true_from,
                                 file_id);
            if (!row) {
                return row.error();
            }
            return row->has_value();
        });
    }

    task<std::vector<user_record>> list_users(std::uint64_t after, std::size_t limit) override {
        return read<std::vector<user_record>>([=](connection& c) -> result<std::vector<user_record>> {
            if (limit == 0) {
                return make_error(errc::invalid_argument, "limit must be at least 1");
            }
            return query_all(
                c, "SELECT " MONOCHAT_USER_COLUMNS " FROM users WHERE id > ?1 ORDER BY id LIMIT ?2",
                [](const statement& s) { return user_from(s); }, after, to_limit(limit));
        });
    }

    task<void> set_suspended(std::uint64_t user_id, bool suspended) override {
        return write<void>([=](connection& c) -> status {
            auto changed =
                execute(c, "UPDATE users SET suspended = ?2 WHERE id = ?1", user_id, suspended);
            if (!changed) {
                return changed.error();
            }
            if (*changed == 0) {
                return user_not_found(user_id);
            }
            return {};
        });
    }

    task<void> delete_user(std::uint64_t user_id) override {
        return write<void>([=](connection& c) -> status {
            if (auto st = require_user(c, user_id); !st) {
                return st;
            }
            return delete_user_row(c, user_id);
        });
    }

    // ---- guest expiry ----

    task<void> touch_user(std::uint64_t user_id, std::int64_t now_ms) override {
        return write<void>([=](connection& c) -> status {
            auto changed = execute(c,
                                   "UPDATE users SET last_seen_ms = ?2"
                                   " WHERE id = ?1 AND last_seen_ms < ?2",
                                   user_id, now_ms);
            if (!changed) {
                return changed.error();
            }
            return {};
        });
    }

    task<std::vector<std::uint64_t>> idle_guests(std::int64_t seen_before_ms,
                                                 std::size_t limit) override {
        return read<std::vector<std::uint64_t>>([=](connection& c) {
            return query_all(c,
                             "SELECT id FROM users WHERE guest = 1 AND last_seen_ms < ?1"
                             " ORDER BY last_seen_ms LIMIT ?2",
                             id_from, seen_before_ms, to_limit(limit));
        });
    }

    task<std::vector<std::uint64_t>> purge_guests(std::vector<std::uint64_t> user_ids,
                                                  std::int64_t seen_before_ms,
                                                  std::int64_t now_ms) override {
        return write<std::vector<std::uint64_t>>(
            [ids = std::move(user_ids), seen_before_ms,
             now_ms](connection& c) -> result<std::vector<std::uint64_t>> {
                std::vector<std::uint64_t> purged;
                for (const std::uint64_t id : ids) {
                    // Checked again here, on the writer: a request since the listing keeps it.
                    // A group owner is skipped as delete_user refuses it (guests own none).
                    auto idle = query_one(c,
                                          "SELECT 1 FROM users u WHERE u.id = ?1 AND u.guest = 1"
                                          " AND u.last_seen_ms < ?2 AND NOT EXISTS (SELECT 1"
                                          " FROM chat_groups g WHERE g.owner_id = u.id)",
                                          true_from, id, seen_before_ms);
                    if (!idle) {
                        return idle.error();
                    }
                    if (!*idle) {
                        continue;
                    }
                    auto counted = execute(c,
                                           "UPDATE chat_groups SET member_count = member_count - 1"
                                           " WHERE id IN (SELECT group_id FROM group_members"
                                           " WHERE user_id = ?1)",
                                           id);
                    if (!counted) {
                        return counted.error();
                    }
                    // Tokens, read state, mentions and memberships go by ON DELETE CASCADE.
                    auto deleted = execute(c, "DELETE FROM users WHERE id = ?1", id);
                    if (!deleted) {
                        return deleted.error();
                    }
                    auto remembered = execute(
                        c, "INSERT OR REPLACE INTO deleted_users (id, deleted_ms) VALUES (?1, ?2)",
                        id, now_ms);
                    if (!remembered) {
                        return remembered.error();
                    }
                    purged.push_back(id);
                }
                return purged;
            });
    }

    task<void> delete_account(std::uint64_t user_id, std::int64_t now_ms) override {
        return write<void>([=](connection& c) -> status {
            auto user = storage::get_user(c, user_id);
            if (!user) {
                return user.error();
            }
            if (auto st = delete_user_row(c, user_id); !st) {
                return st;
            }
            std::optional<std::string> name;
            if (!user->guest) {
                name = user->username;
            }
            auto remembered = execute(c,
                                      "INSERT OR REPLACE INTO deleted_users (id, deleted_ms, username)"
                                      " VALUES (?1, ?2, ?3)",
                                      user_id, now_ms, name);
            if (!remembered) {
                return remembered.error();
            }
            return {};
        });
    }

    task<bool> is_deleted_user(std::uint64_t user_id) override {
        return read<bool>([=](connection& c) -> result<bool> {
            auto row = query_one(c, "SELECT 1 FROM deleted_users WHERE id = ?1", true_from, user_id);
            if (!row) {
                return row.error();
            }
            return row->has_value();
        });
    }

    // ---- tokens ----

    task<void> create_token(token_record token) override {
        return write<void>(
            [t = std::move(token)](connection& c) -> status { return insert_token(c, t); });
    }

    task<user_record> create_user_with_token(user_record user, token_record token) override {
        return write<user_record>(
            [u = std::move(user), t = std::move(token)](connection& c) -> result<user_record> {
                auto created = storage::create_user(c, u);
                if (!created) {
                    return created.error();
                }
                if (auto st = insert_token(c, t); !st) {
                    return st.error();
                }
                return created;
            });
    }

    task<std::vector<std::string>> replace_user_tokens(std::uint64_t user_id,
                                                       std::optional<token_record> token) override {
        return write<std::vector<std::string>>(
            [user_id, t = std::move(token)](connection& c) -> result<std::vector<std::string>> {
                if (auto st = require_user(c, user_id); !st) {
                    return st.error();
                }
                auto deleted = delete_tokens_but(c, user_id, std::string());
                if (!deleted) {
                    return deleted.error();
                }
                if (t) {
                    if (t->user_id != user_id) {
                        return make_error(errc::invalid_argument, "the token is another user's");
                    }
                    if (auto st = insert_token(c, *t); !st) {
                        return st.error();
                    }
                }
                return deleted;
            });
    }

    task<token_record> lookup_token(std::string token_hash) override {
        return read<token_record>(
            [h = std::move(token_hash)](connection& c) -> result<token_record> {
                auto row = query_one(
                    c, "SELECT " MONOCHAT_TOKEN_COLUMNS " FROM tokens WHERE token_hash = ?1",
                    token_from, sqlite::blob{h});
                if (!row) {
                    return row.error();
                }
                if (!*row) {
                    return make_error(errc::not_found, "token not found");
                }
                return std::move(**row);
            });
    }

    task<void> delete_token(std::string token_hash) override {
        return write<void>([h = std::move(token_hash)](connection& c) -> status {
            auto deleted = execute(c, "DELETE FROM tokens WHERE token_hash = ?1", sqlite::blob{h});
            if (!deleted) {
                return deleted.error();
            }
            if (*deleted == 0) {
                return make_error(errc::not_found, "token not found");
            }
            return {};
        });
    }

    task<std::uint64_t> delete_user_tokens(std::uint64_t user_id) override {
        return write<std::uint64_t>([=](connection& c) -> result<std::uint64_t> {
            auto deleted = execute(c, "DELETE FROM tokens WHERE user_id = ?1", user_id);
            if (!deleted) {
                return deleted.error();
            }
            return static_cast<std::uint64_t>(*deleted);
        });
    }

    task<std::uint64_t> delete_expired_tokens(std::int64_t now_ms, std::size_t limit) override {
        return write<std::uint64_t>([=](connection& c) -> result<std::uint64_t> {
            // Through tokens_expiry: the batch costs its own rows, not the table.
            auto deleted = execute(c,
                                   "DELETE FROM tokens WHERE token_hash IN (SELECT token_hash"
                                   " FROM tokens WHERE expires_ms <= ?1 LIMIT ?2)",
                                   now_ms, to_limit(limit));
            if (!deleted) {
                return deleted.error();
            }
            // Expired reset tokens go with them (there are few: admins issue them by hand).
            auto resets = execute(c, "DELETE FROM password_resets WHERE expires_ms <= ?1", now_ms);
            if (!resets) {
                return resets.error();
            }
            return static_cast<std::uint64_t>(*deleted);
        });
    }

    task<std::vector<token_record>> list_user_tokens(std::uint64_t user_id) override {
        return read<std::vector<token_record>>([=](connection& c) {
            return query_all(c,
                             "SELECT " MONOCHAT_TOKEN_COLUMNS
                             " FROM tokens WHERE user_id = ?1 ORDER BY created_ms, session_id",
                             token_from, user_id);
        });
    }

    task<void> touch_token(std::string token_hash, std::int64_t now_ms) override {
        return write<void>([h = std::move(token_hash), now_ms](connection& c) -> status {
            auto changed = execute(c,
                                   "UPDATE tokens SET last_used_ms = ?2"
                                   " WHERE token_hash = ?1 AND last_used_ms < ?2",
                                   sqlite::blob{h}, now_ms);
            if (!changed) {
                return changed.error();
            }
            return {};
        });
    }

    task<std::string> delete_session(std::uint64_t user_id, std::uint64_t session_id) override {
        return write<std::string>([=](connection& c) -> result<std::string> {
            auto hash = query_one(
                c, "SELECT token_hash FROM tokens WHERE user_id = ?1 AND session_id = ?2",
                [](const statement& s) { return s.column_blob(0); }, user_id, session_id);
            if (!hash) {
                return hash.error();
            }
            if (!*hash) {
                return make_error(errc::not_found, "no such session");
            }
            auto deleted =
                execute(c, "DELETE FROM tokens WHERE token_hash = ?1", sqlite::blob{**hash});
            if (!deleted) {
                return deleted.error();
            }
            return std::move(**hash);
        });
    }

    task<std::vector<std::string>> delete_other_tokens(std::uint64_t user_id,
                                                       std::string keep_token_hash) override {
        return write<std::vector<std::string>>(
            [user_id, keep = std::move(keep_token_hash)](connection& c) {
                return delete_tokens_but(c, user_id, keep);
            });
    }

    task<std::vector<std::string>> set_password_hash(std::uint64_t user_id,
                                                     std::string password_hash,
                                                     std::string keep_token_hash) override {
        return write<std::vector<std::string>>(
            [user_id, hash = std::move(password_hash), keep = std::move(keep_token_hash)](
                connection& c) -> result<std::vector<std::string>> {
                auto changed = execute(c,
                                       "UPDATE users SET password_hash = ?2"
                                       " WHERE id = ?1 AND guest = 0",
                                       user_id, hash);
                if (!changed) {
                    return changed.error();
                }
                if (*changed == 0) {
                    return user_not_found(user_id);
                }
                return delete_tokens_but(c, user_id, keep);
            });
    }

    // ---- blocks ----

    task<group_record> update_group(std::uint64_t group_id, std::optional<std::string> name,
                                    std::optional<std::string> description,
                                    std::optional<bool> is_public) override {
        return journaled<group_record>([=, name = std::move(name),
                                        description = std::move(description)](
                                           connection& c,
                                           journal_sink& jr) -> result<group_record> {
            auto changed = execute(c,
                                   "UPDATE chat_groups SET name = coalesce(?2, name),"
                                   " description = coalesce(?3, description),"
                                   " public = coalesce(?4, public) WHERE id = ?1",
                                   group_id, name, description, is_public);
            if (!changed) {
                return changed.error();
            }
            auto group = storage::get_group(c, group_id);
            if (!group) {
                return group.error();
            }
            std::vector<std::string_view> fields;
            if (name) {
                fields.push_back("name");
            }
            if (description) {
                fields.push_back("description");
            }
            if (is_public) {
                fields.push_back("public");
            }
            if (!fields.empty()) {
                if (auto st = jr.add(c, journal::group_updated, group_id,
                                          journal::group_detail(fields, *group));
                    !st) {
                    return st.error();
                }
            }
            return group;
        });
    }

    task<void> block_user(std::uint64_t user_id, std::uint64_t blocked_id,
                          std::int64_t now_ms) override {
        return write<void>([=](connection& c) -> status {
            if (user_id == blocked_id) {
                return make_error(errc::invalid_argument, "cannot block oneself");
            }
            for (const std::uint64_t id : {user_id, blocked_id}) {
                if (auto st = require_user(c, id); !st) {
                    return st;
                }
            }
            auto inserted = execute(c,
                                    "INSERT OR IGNORE INTO blocks (user_id, blocked_id, created_ms)"
                                    " VALUES (?1, ?2, ?3)",
                                    user_id, blocked_id, now_ms);
            if (!inserted) {
                return inserted.error();
            }
            auto unfriended = execute(c,
                                      "DELETE FROM friendships WHERE (user_id = ?1 AND friend_id = ?2)"
                                      " OR (user_id = ?2 AND friend_id = ?1)",
                                      user_id, blocked_id);
            if (!unfriended) {
                return unfriended.error();
            }
            auto requests = execute(c,
                                    "DELETE FROM friend_requests WHERE status = 'pending' AND"
                                    " ((from_user_id = ?1 AND to_user_id = ?2) OR"
                                    " (from_user_id = ?2 AND to_user_id = ?1))",
                                    user_id, blocked_id);
            if (!requests) {
                return requests.error();
            }
            return {};
        });
    }

    task<void> unblock_user(std::uint64_t user_id, std::uint64_t blocked_id) override {
        return write<void>([=](connection& c) -> status {
            auto deleted = execute(c, "DELETE FROM blocks WHERE user_id = ?1 AND blocked_id = ?2",
                                   user_id, blocked_id);
            if (!deleted) {
                return deleted.error();
            }
            if (*deleted == 0) {
                return make_error(errc::not_found, "that user is not blocked");
            }
            return {};
        });
    }

    task<std::vector<user_record>> blocked_users(std::uint64_t user_id) override {
        return read<std::vector<user_record>>([=](connection& c) {
            return query_all(c,
                             "SELECT u.id, u.username, u.display_name, u.password_hash,"
                             " u.guest, u.created_ms, u.suspended, u.bot, u.avatar_file_id"
                             " FROM blocks b JOIN users u ON u.id = b.blocked_id"
                             " WHERE b.user_id = ?1 ORDER BY b.created_ms DESC, u.id",
                             [](const statement& s) { return user_from(s); }, user_id);
        });
    }

    task<std::vector<std::uint64_t>> blocked_by(std::uint64_t user_id,
                                                std::vector<std::uint64_t> user_ids) override {
        return read<std::vector<std::uint64_t>>(
            [user_id, ids = std::move(user_ids)](
                connection& c) -> result<std::vector<std::uint64_t>> {
                // Through blocks_blocked: the rows that block this user, usually none.
                auto blockers = query_all(c, "SELECT user_id FROM blocks WHERE blocked_id = ?1",
                                          id_from, user_id);
                if (!blockers) {
                    return blockers.error();
                }
                std::vector<std::uint64_t> out;
                for (const auto b : *blockers) {
                    if (std::find(ids.begin(), ids.end(), b) != ids.end()) {
                        out.push_back(b);
                    }
                }
                std::sort(out.begin(), out.end());
                return out;
            });
    }

    task<std::vector<block_pair>> all_blocks() override {
        return read<std::vector<block_pair>>([](connection& c) {
            return query_all(c, "SELECT user_id, blocked_id FROM blocks", [](const statement& s) {
                return block_pair{s.column_uint64(0), s.column_uint64(1)};
            });
        });
    }

    // ---- world moderation ----

    task<void> set_world_mute(std::uint64_t user_id, std::int64_t until_ms,
                              std::int64_t now_ms) override {
        return write<void>([=](connection& c) -> status {
            if (auto st = require_user(c, user_id); !st) {
                return st;
            }
            auto ended = execute(c, "DELETE FROM world_mutes WHERE until_ms != 0 AND until_ms <= ?1",
                                 now_ms);
            if (!ended) {
                return ended.error();
            }
            auto set = execute(c,
                               "INSERT INTO world_mutes (user_id, until_ms) VALUES (?1, ?2)"
                               " ON CONFLICT (user_id) DO UPDATE SET until_ms = excluded.until_ms",
                               user_id, until_ms);
            if (!set) {
                return set.error();
            }
            return {};
        });
    }

    task<void> lift_world_mute(std::uint64_t user_id) override {
        return write<void>([=](connection& c) -> status {
            auto deleted = execute(c, "DELETE FROM world_mutes WHERE user_id = ?1", user_id);
            if (!deleted) {
                return deleted.error();
            }
            if (*deleted == 0) {
                return make_error(errc::not_found, "that user is not muted in world");
            }
            return {};
        });
    }

    task<std::vector<world_mute_record>> world_mutes() override {
        return read<std::vector<world_mute_record>>([](connection& c) {
            return query_all(c, "SELECT user_id, until_ms FROM world_mutes ORDER BY user_id",
                             [](const statement& s) {
                                 return world_mute_record{s.column_uint64(0), s.column_int64(1)};
                             });
        });
    }

    // ---- group moderation ----

    task<void> set_group_mute(std::uint64_t group_id, std::uint64_t user_id, std::int64_t until_ms,
                              std::int64_t now_ms) override {
        return write<void>([=](connection& c) -> status {
            if (auto st = require_group(c, group_id); !st) {
                return st;
            }
            auto role = role_of(c, group_id, user_id);
            if (!role) {
                return role.error();
            }
            if (!*role) {
                return not_a_member(group_id, user_id);
            }
            auto ended = execute(c,
                                 "DELETE FROM group_mutes WHERE group_id = ?1 AND until_ms != 0"
                                 " AND until_ms <= ?2",
                                 group_id, now_ms);
            if (!ended) {
                return ended.error();
            }
            auto set = execute(c,
                               "INSERT INTO group_mutes (group_id, user_id, until_ms)"
                               " VALUES (?1, ?2, ?3) ON CONFLICT (group_id, user_id)"
                               " DO UPDATE SET until_ms = excluded.until_ms",
                               group_id, user_id, until_ms);
            if (!set) {
                return set.error();
            }
            return {};
        });
    }

    task<void> lift_group_mute(std::uint64_t group_id, std::uint64_t user_id) override {
        return write<void>([=](connection& c) -> status {
            auto deleted = execute(c, "DELETE FROM group_mutes WHERE group_id = ?1 AND user_id = ?2",
                                   group_id, user_id);
            if (!deleted) {
                return deleted.error();
            }
            if (*deleted == 0) {
                return make_error(errc::not_found, "that member is not muted");
            }
            return {};
        });
    }

    task<std::vector<group_mute_record>> group_mutes() override {
        return read<std::vector<group_mute_record>>([](connection& c) {
            return query_all(c,
                             "SELECT group_id, user_id, until_ms FROM group_mutes"
                             " ORDER BY group_id, user_id",
                             [](const statement& s) {
                                 return group_mute_record{s.column_uint64(0), s.column_uint64(1),
                                                          s.column_int64(2)};
                             });
        });
    }

    task<group_ban_result> ban_member(std::uint64_t group_id, std::uint64_t user_id,
                                      std::uint64_t banned_by, std::int64_t now_ms) override {
        return journaled<group_ban_result>([=](connection& c,
                                               journal_sink& jr) -> result<group_ban_result> {
            auto group = storage::get_group(c, group_id);
            if (!group) {
                return group.error();
            }
            if (auto st = require_user(c, user_id); !st) {
                return st.error();
            }
            auto role = role_of(c, group_id, user_id);
            if (!role) {
                return role.error();
            }
            group_ban_result out{std::move(*group), false};
            if (*role) {
                auto removed = storage::remove_member(c, group_id, user_id);  // conflict: owner
                if (!removed) {
                    return removed.error();
                }
                out.group = std::move(*removed);
                out.was_member = true;
                if (auto st = jr.add(c, journal::member_left, group_id,
                                          journal::members_detail({user_id}, banned_by));
                    !st) {
                    return st.error();
                }
            }
            auto done = execute(c,
                                "INSERT INTO group_bans (group_id, user_id, banned_by, created_ms)"
                                " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (group_id, user_id) DO NOTHING",
                                group_id, user_id, banned_by, now_ms);
            if (!done) {
                return done.error();
            }
            return out;
        });
    }

    task<void> unban_member(std::uint64_t group_id, std::uint64_t user_id) override {
        return write<void>([=](connection& c) -> status {
            if (auto st = require_group(c, group_id); !st) {
                return st;
            }
            auto deleted = execute(c, "DELETE FROM group_bans WHERE group_id = ?1 AND user_id = ?2",
                                   group_id, user_id);
            if (!deleted) {
                return deleted.error();
            }
            if (*deleted == 0) {
                return make_error(errc::not_found, "that user is not banned from this group");
            }
            return {};
        });
    }

    task<std::vector<group_ban_record>> group_bans(std::uint64_t group_id) override {
        return read<std::vector<group_ban_record>>(
            [=](connection& c) -> result<std::vector<group_ban_record>> {
                if (auto st = require_group(c, group_id); !st) {
                    return st.error();
                }
                return query_all(c,
                                 "SELECT user_id, banned_by, created_ms FROM group_bans"
                                 " WHERE group_id = ?1 ORDER BY user_id",
                                 [](const statement& s) {
                                     return group_ban_record{s.column_uint64(0), s.column_uint64(1),
                                                             s.column_int64(2)};
                                 },
                                 group_id);
            });
    }

    // ---- group invite links ----

    task<group_invite_record> create_group_invite(group_invite_record invite, std::int64_t now_ms,
                                                  std::uint64_t max_per_group) override {
        return write<group_invite_record>(
            [i = std::move(invite), now_ms,
             max_per_group](connection& c) -> result<group_invite_record> {
                if (auto st = require_group(c, i.group_id); !st) {
                    return st.error();
                }
                auto stale = execute(c,
                                     "DELETE FROM group_invites WHERE group_id = ?1"
                                     " AND (uses_left = 0 OR expires_ms <= ?2)",
                                     i.group_id, now_ms);
                if (!stale) {
                    return stale.error();
                }
                auto count = query_one(
                    c, "SELECT count(*) FROM group_invites WHERE group_id = ?1",
                    [](const statement& s) { return s.column_uint64(0); }, i.group_id);
                if (!count) {
                    return count.error();
                }
                if (count->value_or(0) >= max_per_group) {
                    return make_error(errc::conflict,
                                      fmt::format("a group has at most {} invite links; revoke "
                                                  "one first",
                                                  max_per_group));
                }
                auto exists =
                    query_one(c, "SELECT 1 FROM group_invites WHERE code = ?1", true_from, i.code);
                if (!exists) {
                    return exists.error();
                }
                if (*exists) {
                    return make_error(errc::conflict, "invite code exists");
                }
                auto done = execute(c,
                                    "INSERT INTO group_invites (code, group_id, uses_left,"
                                    " expires_ms, created_by, created_ms)"
                                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                    i.code, i.group_id, i.uses_left, i.expires_ms, i.created_by,
                                    i.created_ms);
                if (!done) {
                    return done.error();
                }
                return i;
            });
    }

    task<std::vector<group_invite_record>> group_invites(std::uint64_t group_id,
                                                         std::int64_t now_ms) override {
        return read<std::vector<group_invite_record>>(
            [=](connection& c) -> result<std::vector<group_invite_record>> {
                if (auto st = require_group(c, group_id); !st) {
                    return st.error();
                }
                return query_all(
                    c,
                    "SELECT code, group_id, uses_left, expires_ms, created_by, created_ms"
                    " FROM group_invites WHERE group_id = ?1 AND uses_left > 0"
                    " AND expires_ms > ?2 ORDER BY created_ms DESC, code",
                    group_invite_from, group_id, now_ms);
            });
    }

    task<void> delete_group_invite(std::uint64_t group_id, std::string code) override {
        return write<void>([group_id, code = std::move(code)](connection& c) -> status {
            auto deleted = execute(c, "DELETE FROM group_invites WHERE group_id = ?1 AND code = ?2",
                                   group_id, code);
            if (!deleted) {
                return deleted.error();
            }
            if (*deleted == 0) {
                return make_error(errc::not_found, "the group has no such invite");
            }
            return {};
        });
    }

    task<group_invite_record> find_group_invite(std::string code, std::int64_t now_ms) override {
        return read<group_invite_record>(
            [code = std::move(code), now_ms](connection& c) -> result<group_invite_record> {
                auto row = query_one(c,
                                     "SELECT code, group_id, uses_left, expires_ms, created_by,"
                                     " created_ms FROM group_invites WHERE code = ?1"
                                     " AND uses_left > 0 AND expires_ms > ?2",
                                     group_invite_from, code, now_ms);
                if (!row) {
                    return row.error();
                }
                if (!*row) {
                    return unusable_group_invite();
                }
                return std::move(**row);
            });
    }

    task<members_added> join_by_invite(std::uint64_t group_id, std::string code,
                                       std::uint64_t user_id, std::int64_t now_ms,
                                       std::uint64_t max_members) override {
        return journaled<members_added>([=, code = std::move(code)](
                                            connection& c,
                                            journal_sink& jr) -> result<members_added> {
            auto role = role_of(c, group_id, user_id);
            if (!role) {
                return role.error();
            }
            if (*role) {
                auto group = storage::get_group(c, group_id);
                if (!group) {
                    return group.error();
                }
                return members_added{std::move(*group), {}};  // a member already: nothing used
            }
            // Each write job runs in its own savepoint: a refused join gives the use back.
            auto used = execute(c,
                                "UPDATE group_invites SET uses_left = uses_left - 1"
                                " WHERE code = ?1 AND group_id = ?2 AND uses_left > 0"
                                " AND expires_ms > ?3",
                                code, group_id, now_ms);
            if (!used) {
                return used.error();
            }
            if (*used == 0) {
                return unusable_group_invite();
            }
            return jr.joined(c, group_id,
                                  storage::add_members(c, group_id, {user_id}, now_ms, max_members));
        });
    }

    // ---- registration invites ----

    task<invite_record> create_invite(invite_record invite) override {
        return write<invite_record>([i = std::move(invite)](connection& c) -> result<invite_record> {
            auto exists = query_one(c, "SELECT 1 FROM invites WHERE code = ?1", true_from, i.code);
            if (!exists) {
                return exists.error();
            }
            if (*exists) {
                return make_error(errc::conflict, "invite code exists");
            }
            auto done = execute(c,
                                "INSERT INTO invites (code, uses_left, expires_ms, created_by,"
                                " created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                                i.code, i.uses_left, i.expires_ms, i.created_by, i.created_ms);
            if (!done) {
                return done.error();
            }
            return i;
        });
    }

    task<std::vector<invite_record>> list_invites() override {
        return read<std::vector<invite_record>>([](connection& c) {
            return query_all(
                c,
                "SELECT code, uses_left, expires_ms, created_by, created_ms FROM invites"
                " ORDER BY created_ms DESC, code",
                [](const statement& s) {
                    return invite_record{s.column_text(0), s.column_uint64(1), s.column_int64(2),
                                         s.column_uint64(3), s.column_int64(4)};
                });
        });
    }

    task<void> delete_invite(std::string code) override {
        return write<void>([code = std::move(code)](connection& c) -> status {
            auto deleted = execute(c, "DELETE FROM invites WHERE code = ?1", code);
            if (!deleted) {
                return deleted.error();
            }
            if (*deleted == 0) {
                return make_error(errc::not_found, "no such invite");
            }
            return {};
        });
    }

    task<user_record> create_invited_user(user_record user, std::string code,
                                          std::int64_t now_ms) override {
        return write<user_record>([u = std::move(user), code = std::move(code),
                                   now_ms](connection& c) -> result<user_record> {
            // Each write job runs in its own savepoint: a refused user gives the use back.
            auto used = execute(c,
                                "UPDATE invites SET uses_left = uses_left - 1 WHERE code = ?1"
                                " AND uses_left > 0 AND (expires_ms = 0 OR expires_ms > ?2)",
                                code, now_ms);
            if (!used) {
                return used.error();
            }
            if (*used == 0) {
                return make_error(errc::forbidden, "the invite code is unknown, used up or expired");
            }
            return storage::create_user(c, u);
        });
    }

    // ---- password resets ----

    task<void> create_password_reset(std::string reset_hash, std::uint64_t user_id,
                                     std::int64_t expires_ms) override {
        return write<void>([h = std::move(reset_hash), user_id, expires_ms](connection& c) -> status {
            auto registered = query_one(c, "SELECT 1 FROM users WHERE id = ?1 AND guest = 0",
                                        true_from, user_id);
            if (!registered) {
                return registered.error();
            }
            if (!*registered) {
                return user_not_found(user_id);
            }
            auto done = execute(c,
                                "INSERT INTO password_resets (token_hash, user_id, expires_ms)"
                                " VALUES (?1, ?2, ?3)",
                                sqlite::blob{h}, user_id, expires_ms);
            if (!done) {
                return done.error();
            }
            return {};
        });
    }

    task<user_record> consume_password_reset(std::string reset_hash, std::int64_t now_ms,
                                             std::string password_hash) override {
        return write<user_record>([h = std::move(reset_hash), now_ms, hash = std::move(
                                                                            password_hash)](
                                      connection& c) -> result<user_record> {
            const auto refused = [] {
                return make_error(errc::forbidden, "the reset token is unknown, used or expired");
            };
            auto row = query_one(
                c, "SELECT user_id, expires_ms FROM password_resets WHERE token_hash = ?1",
                [](const statement& s) {
                    return std::pair{s.column_uint64(0), s.column_int64(1)};
                },
                sqlite::blob{h});
            if (!row) {
                return row.error();
            }
            if (!*row) {
                return refused();
            }
            const auto [user_id, expires_ms] = **row;
            if (expires_ms <= now_ms) {
                return refused();
            }
            // Every reset of the user is used up with this one.
            auto used = execute(c, "DELETE FROM password_resets WHERE user_id = ?1", user_id);
            if (!used) {
                return used.error();
            }
            auto changed = execute(c, "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                                   user_id, hash);
            if (!changed) {
                return changed.error();
            }
            auto dropped = execute(c, "DELETE FROM tokens WHERE user_id = ?1", user_id);
            if (!dropped) {
                return dropped.error();
            }
            return storage::get_user(c, user_id);
        });
    }

    // ---- friends ----

    task<send_friend_request_result> send_friend_request(std::uint64_t request_id,
                                                         std::uint64_t from_user_id,
                                                         std::uint64_t to_user_id, std::string note,
                                                         std::int64_t now_ms) override {
        return write<send_friend_request_result>([=, n = std::move(note)](connection& c) {
            return storage::send_friend_request(c, request_id, from_user_id, to_user_id, n, now_ms);
        });
    }

    task<friend_request_record> get_friend_request(std::uint64_t request_id) override {
        return read<friend_request_record>(
            [=](connection& c) { return get_request(c, request_id); });
    }

    task<friend_request_record> accept_friend_request(std::uint64_t request_id,
                                                      std::uint64_t actor_id,
                                                      std::int64_t now_ms) override {
        return write<friend_request_record>([=](connection& c) {
            return respond(c, request_id, actor_id, friend_request_status::accepted, now_ms);
        });
    }

    task<friend_request_record> reject_friend_request(std::uint64_t request_id,
                                                      std::uint64_t actor_id,
                                                      std::int64_t now_ms) override {
        return write<friend_request_record>([=](connection& c) {
            return respond(c, request_id, actor_id, friend_request_status::rejected, now_ms);
        });
    }

    task<friend_requests> list_friend_requests(std::uint64_t user_id) override {
        return read<friend_requests>([=](connection& c) -> result<friend_requests> {
            auto incoming = query_all(c,
                                      "SELECT " MONOCHAT_REQUEST_COLUMNS
                                      " FROM friend_requests"
                                      " WHERE to_user_id = ?1 AND status = 'pending'"
                                      " ORDER BY created_ms DESC, id DESC",
                                      request_from, user_id);
            if (!incoming) {
                return incoming.error();
            }
            auto outgoing = query_all(c,
                                      "SELECT " MONOCHAT_REQUEST_COLUMNS
                                      " FROM friend_requests"
                                      " WHERE from_user_id = ?1 AND status = 'pending'"
                                      " ORDER BY created_ms DESC, id DESC",
                                      request_from, user_id);
            if (!outgoing) {
                return outgoing.error();
            }
            return friend_requests{std::move(*incoming), std::move(*outgoing)};
        });
    }

    task<std::vector<user_record>> list_friends(std::uint64_t user_id) override {
        return read<std::vector<user_record>>([=](connection& c) {
            return query_all(
                c,
                "SELECT u.id, u.username, u.display_name, u.password_hash,"
                " u.guest, u.created_ms, u.suspended, u.bot, u.avatar_file_id"
                " FROM friendships f JOIN users u ON u.id = f.friend_id"
                " WHERE f.user_id = ?1 ORDER BY u.username, u.id",
                [](const statement& s) { return user_from(s); }, user_id);
        });
    }

    task<bool> are_friends(std::uint64_t a, std::uint64_t b) override {
        return read<bool>([=](connection& c) { return storage::are_friends(c, a, b); });
    }

    task<void> remove_friend(std::uint64_t user_id, std::uint64_t friend_id) override {
        return write<void>([=](connection& c) -> status {
            auto deleted = execute(c,
                                   "DELETE FROM friendships"
                                   " WHERE (user_id = ?1 AND friend_id = ?2)"
                                   " OR (user_id = ?2 AND friend_id = ?1)",
                                   user_id, friend_id);
            if (!deleted) {
                return deleted.error();
            }
            if (*deleted == 0) {
                return make_error(errc::not_found,
                                  fmt::format("not friends with user {}", friend_id));
            }
            return {};
        });
    }

    // ---- groups ----

    task<group_record> create_group(std::uint64_t group_id, std::string name,
                                    std::uint64_t owner_id, bool is_public,
                                    std::vector<std::uint64_t> member_ids, std::int64_t created_ms,
                                    std::uint64_t max_members) override {
        return journaled<group_record>([=, n = std::move(name), m = std::move(member_ids)](
                                           connection& c,
                                           journal_sink& jr) -> result<group_record> {
            auto group = storage::create_group(c, group_id, n, owner_id, is_public, m, created_ms,
                                               max_members);
            if (!group) {
                return group;
            }
            std::vector<std::uint64_t> everyone = m;
            everyone.push_back(owner_id);
            if (auto st = jr.add(c, journal::member_joined, group_id,
                                      journal::members_detail(sorted_unique(std::move(everyone))));
                !st) {
                return st.error();
            }
            return group;
        });
    }

    task<group_record> get_group(std::uint64_t group_id) override {
        return read<group_record>([=](connection& c) { return storage::get_group(c, group_id); });
    }

    task<member_page> list_members(std::uint64_t group_id, std::uint64_t after_user_id,
                                   std::size_t limit) override {
        return read<member_page>([=](connection& c) {
            return storage::list_members(c, group_id, after_user_id, limit);
        });
    }

    task<std::optional<member_role>> member_role_of(std::uint64_t group_id,
                                                    std::uint64_t user_id) override {
        return read<std::optional<member_role>>(
            [=](connection& c) -> result<std::optional<member_role>> {
                if (auto st = require_group(c, group_id); !st) {
                    return st.error();
                }
                return role_of(c, group_id, user_id);
            });
    }

    task<members_added> add_members(std::uint64_t group_id, std::vector<std::uint64_t> user_ids,
                                    std::int64_t joined_ms, std::uint64_t max_members) override {
        return journaled<members_added>(
            [=, ids = std::move(user_ids)](connection& c, journal_sink& jr) {
                return jr.joined(c, group_id,
                                      storage::add_members(c, group_id, ids, joined_ms, max_members));
            });
    }

    task<members_added> join_group(std::uint64_t group_id, std::uint64_t user_id,
                                   std::int64_t joined_ms, std::uint64_t max_members) override {
        return journaled<members_added>([=](connection& c, journal_sink& jr) {
            return jr.joined(
                c, group_id, storage::add_members(c, group_id, {user_id}, joined_ms, max_members));
        });
    }

    task<group_record> remove_member(std::uint64_t group_id, std::uint64_t user_id) override {
        return journaled<group_record>(
            [=](connection& c, journal_sink& jr) -> result<group_record> {
                auto group = storage::remove_member(c, group_id, user_id);
                if (!group) {
                    return group;
                }
                if (auto st = jr.add(c, journal::member_left, group_id,
                                          journal::members_detail({user_id}));
                    !st) {
                    return st.error();
                }
                return group;
            });
    }

    task<group_record> set_member_role(std::uint64_t group_id, std::uint64_t user_id,
                                       member_role role) override {
        return write<group_record>(
            [=](connection& c) { return storage::set_member_role(c, group_id, user_id, role); });
    }

    task<deleted_group> delete_group(std::uint64_t group_id, std::uint64_t owner_id,
                                     std::int64_t now_ms) override {
        return write<deleted_group>(
            [=](connection& c) { return storage::delete_group(c, group_id, owner_id, now_ms); });
    }

    task<std::vector<std::uint64_t>> deleted_groups() override {
        return read<std::vector<std::uint64_t>>([](connection& c) {
            return query_all(c, "SELECT group_id FROM deleted_groups ORDER BY group_id", id_from);
        });
    }

    task<void> forget_deleted_group(std::uint64_t group_id) override {
        return write<void>([=](connection& c) -> status {
            if (auto done = execute(c, "DELETE FROM deleted_groups WHERE group_id = ?1", group_id);
                !done) {
                return done.error();
            }
            return {};
        });
    }

    task<group_directory_page> public_groups(std::string name_contains,
                                             std::uint64_t after_group_id,
                                             std::size_t limit) override {
        return read<group_directory_page>([=, q = std::move(name_contains)](connection& c) {
            return storage::public_groups(c, q, after_group_id, limit);
        });
    }

    task<std::vector<user_group>> groups_of_user(std::uint64_t user_id) override {
        return read<std::vector<user_group>>([=](connection& c) {
            return query_all(
                c,
                "SELECT g.id, g.name, g.owner_id, g.public, g.member_count,"
                " g.created_ms, m.role, m.joined_ms"
                " FROM group_members m JOIN chat_groups g ON g.id = m.group_id"
                " WHERE m.user_id = ?1 ORDER BY g.id",
                [](const statement& s) {
                    return user_group{group_from(s), role_from(s.column_text(6)),
                                      s.column_int64(7)};
                },
                user_id);
        });
    }

    task<std::vector<std::uint64_t>> member_ids(std::uint64_t group_id, std::uint64_t after_user_id,
                                                std::size_t limit) override {
        return read<std::vector<std::uint64_t>>(
            [=](connection& c) { return storage::member_ids(c, group_id, after_user_id, limit); });
    }

    task<std::uint64_t> member_count(std::uint64_t group_id) override {
        return read<std::uint64_t>([=](connection& c) -> result<std::uint64_t> {
            auto group = storage::get_group(c, group_id);
            if (!group) {
                return group.error();
            }
            return group->member_count;
        });
    }

    // ---- direct conversations ----

    task<void> record_direct_message(std::uint64_t a, std::uint64_t b,
                                     std::int64_t message_ms) override {
        return write<void>(
            [=](connection& c) { return storage::record_direct_message(c, a, b, message_ms); });
    }

    task<std::vector<direct_conversation>> direct_conversations(std::uint64_t user_id) override {
        return read<std::vector<direct_conversation>>([=](connection& c) {
            return query_all(
                c,
                "SELECT conversation_id, peer_id, last_message_ms"
                " FROM direct_conversations WHERE user_id = ?1"
                " ORDER BY last_message_ms DESC, peer_id",
                [](const statement& s) {
                    return direct_conversation{s.column_text(0), s.column_uint64(1),
                                               s.column_int64(2)};
                },
                user_id);
        });
    }

    // ---- read state ----

    task<bool> set_read_position(std::uint64_t user_id, std::string conversation_id,
                                 std::uint64_t seq, std::int64_t now_ms) override {
        return write<bool>([=, cid = std::move(conversation_id)](connection& c) {
            return storage::set_read_position(c, user_id, cid, seq, now_ms);
        });
    }

    task<void> record_sent(std::vector<sent_record> records) override {
        return write<void>([records = std::move(records)](connection& c) -> status {
            for (const auto& r : records) {
                // A send that committed just before its group was deleted: the group's read
                // state is gone and stays gone.
                if (const auto group = group_of_conversation(r.conversation_id)) {
                    auto exists = query_one(c, "SELECT 1 FROM chat_groups WHERE id = ?1",
                                            true_from, *group);
                    if (!exists) {
                        return exists.error();
                    }
                    if (!*exists) {
                        continue;
                    }
                }
                auto moved = storage::set_read_position(c, r.user_id, r.conversation_id, r.seq,
                                                        r.ts_ms);
                if (!moved && moved.error().code != errc::not_found) {
                    return moved.error();
                }
                if (r.direct_peer != 0) {
                    auto listed =
                        storage::record_direct_message(c, r.user_id, r.direct_peer, r.ts_ms);
                    if (!listed && listed.error().code != errc::not_found) {
                        return listed;
                    }
                }
            }
            return {};
        });
    }

    task<std::uint64_t> get_read_position(std::uint64_t user_id,
                                          std::string conversation_id) override {
        return read<std::uint64_t>([=, cid = std::move(conversation_id)](
                                       connection& c) -> result<std::uint64_t> {
            auto row = query_one(
                c, "SELECT read_seq FROM read_state WHERE user_id = ?1 AND conversation_id = ?2",
                [](const statement& s) { return s.column_uint64(0); }, user_id, cid);
            if (!row) {
                return row.error();
            }
            return row->value_or(0);
        });
    }

    task<std::vector<read_position>> read_positions(std::uint64_t user_id) override {
        return read<std::vector<read_position>>([=](connection& c) {
            return query_all(
                c,
                "SELECT conversation_id, read_seq, updated_ms FROM read_state"
                " WHERE user_id = ?1 ORDER BY conversation_id",
                [](const statement& s) {
                    return read_position{s.column_text(0), s.column_uint64(1), s.column_int64(2)};
                },
                user_id);
        });
    }

    task<readers_result> conversation_readers(
        std::string conversation_id, std::uint64_t seq, std::size_t limit,
        std::optional<std::uint64_t> members_of_group) override {
        return read<readers_result>([=, cid = std::move(conversation_id)](connection& c) {
            return storage::conversation_readers(c, cid, seq, limit, members_of_group);
        });
    }

    // ---- per-user conversation settings ----

    task<void> set_muted_until(std::uint64_t user_id, std::string conversation_id,
                               std::int64_t muted_until_ms) override {
        return write<void>([=, cid = std::move(conversation_id)](connection& c) -> status {
            if (muted_until_ms < 0) {
                return make_error(errc::invalid_argument, "muted_until must not be negative");
            }
            if (auto st = require_user(c, user_id); !st) {
                return st;
            }
            auto done = muted_until_ms == 0
                            ? execute(c,
                                      "DELETE FROM conversation_settings"
                                      " WHERE user_id = ?1 AND conversation_id = ?2",
                                      user_id, cid)
                            : execute(c,
                                      "INSERT INTO conversation_settings"
                                      " (user_id, conversation_id, muted_until_ms)"
                                      " VALUES (?1, ?2, ?3) ON CONFLICT (user_id, conversation_id)"
                                      " DO UPDATE SET muted_until_ms = excluded.muted_until_ms",
                                      user_id, cid, muted_until_ms);
            if (!done) {
                return done.error();
            }
            return {};
        });
    }

    task<std::vector<conversation_setting>> conversation_settings(std::uint64_t user_id) override {
        return read<std::vector<conversation_setting>>([=](connection& c) {
            return query_all(
                c,
                "SELECT conversation_id, muted_until_ms FROM conversation_settings"
                " WHERE user_id = ?1 ORDER BY conversation_id",
                [](const statement& s) {
                    return conversation_setting{s.column_text(0), s.column_int64(1)};
                },
                user_id);
        });
    }

    // ---- mentions ----

    task<std::uint64_t> add_mentions(std::string conversation_id, std::uint64_t seq,
                                     std::vector<std::uint64_t> user_ids,
                                     std::optional<std::uint64_t> members_of_group) override {
        return write<std::uint64_t>(
            [=, cid = std::move(conversation_id), ids = std::move(user_ids)](connection& c) {
                return storage::add_mentions(c, cid, seq, ids, members_of_group);
            });
    }

    task<std::uint64_t> remove_mentions(std::string conversation_id, std::uint64_t seq) override {
        return write<std::uint64_t>(
            [=, cid = std::move(conversation_id)](connection& c) -> result<std::uint64_t> {
                if (seq > max_id) {
                    return std::uint64_t{0};
                }
                auto done = execute(c, "DELETE FROM mentions WHERE conversation_id = ?1 AND seq = ?2",
                                    cid, seq);
                if (!done) {
                    return done.error();
                }
                return static_cast<std::uint64_t>(*done);
            });
    }

    task<std::vector<mention_count>> unread_mentions(std::uint64_t user_id) override {
        // Rows exist only for unread mentions (reading deletes them); the read_state join
        // still guards against a mention recorded just after a concurrent read moved past it.
        return read<std::vector<mention_count>>([=](connection& c) {
            return query_all(
                c,
                "SELECT m.conversation_id, count(*) FROM mentions m"
                " LEFT JOIN read_state r"
                "  ON r.user_id = m.user_id AND r.conversation_id = m.conversation_id"
                " WHERE m.user_id = ?1 AND m.seq > coalesce(r.read_seq, 0)"
                " GROUP BY m.conversation_id ORDER BY m.conversation_id",
                [](const statement& s) {
                    return mention_count{s.column_text(0), s.column_uint64(1)};
                },
                user_id);
        });
    }

    // ---- Web Push subscriptions ----

    task<void> put_push_subscription(push_subscription_record sub,
                                     std::size_t max_per_user) override {
        return write<void>([sub = std::move(sub), max_per_user](connection& c) -> status {
            auto token = query_one(c, "SELECT user_id FROM tokens WHERE token_hash = ?1",
                                   [](const statement& s) { return s.column_uint64(0); },
                                   sqlite::blob{sub.token_hash});
            if (!token) {
                return token.error();
            }
            if (!*token || **token != sub.user_id) {
                return make_error(errc::not_found, "the session is gone");
            }
            auto others = query_one(c,
                                    "SELECT COUNT(*) FROM push_subscriptions"
                                    " WHERE user_id = ?1 AND endpoint != ?2",
                                    [](const statement& s) { return s.column_uint64(0); },
                                    sub.user_id, sub.endpoint);
            if (!others) {
                return others.error();
            }
            if (others->value_or(0) >= max_per_user) {
                return make_error(errc::conflict,
                                  "too many push subscriptions (push.max_subscriptions_per_user)");
            }
            auto put = execute(c,
                               "INSERT OR REPLACE INTO push_subscriptions"
                               " (endpoint, token_hash, user_id, p256dh, auth, created_ms)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                               sub.endpoint, sqlite::blob{sub.token_hash}, sub.user_id,
                               sqlite::blob{sub.p256dh}, sqlite::blob{sub.auth}, sub.created_ms);
            if (!put) {
                return put.error();
            }
            return {};
        });
    }

    task<void> delete_push_subscription(std::uint64_t user_id, std::string endpoint) override {
        return write<void>([user_id, e = std::move(endpoint)](connection& c) -> status {
            auto deleted = execute(
                c, "DELETE FROM push_subscriptions WHERE user_id = ?1 AND endpoint = ?2", user_id, e);
            if (!deleted) {
                return deleted.error();
            }
            if (*deleted == 0) {
                return make_error(errc::not_found, "no push subscription with that endpoint");
            }
            return {};
        });
    }

    task<bool> remove_push_endpoint(std::string endpoint) override {
        return write<bool>([e = std::move(endpoint)](connection& c) -> result<bool> {
            auto deleted = execute(c, "DELETE FROM push_subscriptions WHERE endpoint = ?1", e);
            if (!deleted) {
                return deleted.error();
            }
            return *deleted != 0;
        });
    }

    task<std::vector<push_subscription_record>> push_targets(std::uint64_t user_id,
                                                             std::string conversation_id,
                                                             std::int64_t now_ms) override {
        return read<std::vector<push_subscription_record>>(
            [=, cid = std::move(conversation_id)](connection& c) {
                return query_all(
                    c,
                    "SELECT endpoint, p256dh, auth, user_id, token_hash, created_ms"
                    " FROM push_subscriptions WHERE user_id = ?1 AND NOT EXISTS ("
                    "SELECT 1 FROM conversation_settings WHERE user_id = ?1"
                    " AND conversation_id = ?2 AND muted_until_ms > ?3)"
                    " ORDER BY endpoint",
                    [](const statement& s) {
                        return push_subscription_record{s.column_text(0), s.column_blob(1),
                                                        s.column_blob(2), s.column_uint64(3),
                                                        s.column_blob(4), s.column_int64(5)};
                    },
                    user_id, cid, now_ms);
            });
    }

    // ---- group event journal ----

    task<std::vector<group_journal_row>> read_group_journal(std::uint64_t after_id,
                                                            std::size_t limit) override {
        return read<std::vector<group_journal_row>>(
            [=](connection& c) { return journal::read(c, after_id, limit); });
    }

    task<std::uint64_t> group_journal_head() override {
        return read<std::uint64_t>([](connection& c) { return journal::head(c); });
    }

    task<std::uint64_t> prune_group_journal(std::uint64_t up_to_id) override {
        return write<std::uint64_t>([=](connection& c) { return journal::prune(c, up_to_id); });
    }

    void set_group_journal_listener(group_journal_listener listener) override {
        std::lock_guard lock(listener_mutex_);
        listener_ = listener ? std::make_shared<const group_journal_listener>(std::move(listener))
                             : nullptr;
    }

    // ---- operations ----

    task<void> backup_to(std::string path) override {
        return readers_.run<void>(
            [p = std::move(path)](connection& c) { return sqlite::backup_database(c, p); });
    }

private:
    static sqlite::thread_metrics make_thread_metrics(infra::metrics_registry& m) {
        return sqlite::thread_metrics{
            &m.get_counter("monochat_sqlite_write_batches_total",
                           "SQLite write transactions committed by the group-commit writer."),
            &m.get_counter("monochat_sqlite_writes_total", "SQLite write operations."),
            &m.get_counter("monochat_sqlite_write_errors_total",
                           "SQLite write operations that failed (their changes rolled back)."),
            &m.get_counter("monochat_sqlite_reads_total", "SQLite read operations."),
            &m.get_histogram("monochat_sqlite_commit_seconds",
                             "Time to run and commit one SQLite write batch.",
                             infra::latency_buckets()),
        };
    }

    template <class T, class F>
    task<T> write(F fn) {
        return writer_.write<T>(std::move(fn));
    }

    template <class T, class F>
    task<T> read(F fn) {
        return readers_.read<T>(std::move(fn));
    }

    // What a group change appends to the journal, inside its job (on the writer thread); the
    // rows reach the listener only once the job's batch committed.
    class journal_sink {
    public:
        explicit journal_sink(const sqlite_social_store& store) : store_(store) {}

        status add(connection& c, std::string_view event, std::uint64_t group_id,
                   std::string detail) {
            group_journal_row row;
            row.ts_ms = store_.journal_clock_ != nullptr ? store_.journal_clock_->now_ms()
                                                         : infra::system_clock{}.now_ms();
            row.event = std::string(event);
            row.group_id = group_id;
            row.after_seq = store_.group_last_seq_ ? store_.group_last_seq_(group_id) : 0;
            row.detail = std::move(detail);
            auto stored = journal::append(c, std::move(row));
            if (!stored) {
                return stored.error();
            }
            rows_.push_back(std::move(*stored));
            return {};
        }

        // A member_joined row for those `added` names (none when nobody was added).
        result<members_added> joined(connection& c, std::uint64_t group_id,
                                     result<members_added> added) {
            if (added && !added->user_ids.empty()) {
                if (auto st = add(c, journal::member_joined, group_id,
                                  journal::members_detail(added->user_ids));
                    !st) {
                    return st.error();
                }
            }
            return added;
        }

        std::vector<group_journal_row>& rows() { return rows_; }

    private:
        const sqlite_social_store& store_;
        std::vector<group_journal_row> rows_;
    };

    // A write whose job may append journal rows: `fn(connection&, journal_sink&) -> result<T>`.
    // The listener hears of the rows after the commit, before the caller resumes.
    template <class T, class F>
    task<T> journaled(F fn) {
        auto sink = std::make_shared<journal_sink>(*this);
        // Named first: GCC 12 mishandles a capturing lambda temporary in a co_await operand.
        auto job = [fn = std::move(fn), sink](connection& c) -> result<T> { return fn(c, *sink); };
        auto r = co_await writer_.write<T>(std::move(job));
        if (r.has_value() && !sink->rows().empty()) {
            std::shared_ptr<const group_journal_listener> l;
            {
                std::lock_guard lock(listener_mutex_);
                l = listener_;
            }
            if (l) {
                for (const auto& row : sink->rows()) {
                    (*l)(row);
                }
            }
        }
        co_return r;
    }

    infra::metrics_registry& metrics_;
    const infra::clock* const journal_clock_;
    const std::function<std::uint64_t(std::uint64_t)> group_last_seq_;
    std::mutex listener_mutex_;
    std::shared_ptr<const group_journal_listener> listener_;
    sqlite::reader_pool readers_;
    // Declared last: destroyed first, so pending writes complete while readers still exist.
    sqlite::writer writer_;
};

#undef MONOCHAT_USER_COLUMNS
#undef MONOCHAT_USER_INSERT_COLUMNS
#undef MONOCHAT_GROUP_FULL_COLUMNS
#undef MONOCHAT_GROUP_COLUMNS
#undef MONOCHAT_REQUEST_COLUMNS

}  // namespace

result<std::unique_ptr<social_store>> open_sqlite_social_store(
    const sqlite_social_store_options& options, infra::metrics_registry& metrics) {
    if (options.path.empty()) {
        return make_error(errc::invalid_argument, "storage: the SQLite path is empty");
    }
    if (options.readers == 0) {
        return make_error(errc::invalid_argument, "storage.sqlite_readers: must be at least 1");
    }
    sqlite::open_options writer_options;
    writer_options.synchronous_full = options.synchronous_full;
    writer_options.busy_timeout_ms = options.busy_timeout_ms;
    auto writer_conn = connection::open(options.path, writer_options);
    if (!writer_conn) {
        return writer_conn.error();
    }
    if (auto migrated = sqlite::migrate(**writer_conn, sqlite::social_migrations()); !migrated) {
        return migrated.error();
    }
    sqlite::open_options reader_options = writer_options;
    reader_options.read_only = true;
    std::vector<std::unique_ptr<connection>> readers;
    for (std::size_t i = 0; i < options.readers; ++i) {
        auto conn = connection::open(options.path, reader_options);
        if (!conn) {
            return conn.error();
        }
        readers.push_back(std::move(*conn));
    }
    return std::unique_ptr<social_store>(new sqlite_social_store(
        std::move(*writer_conn), std::move(readers), options, metrics));
}

}  // namespace monochat::storage
