// The groups role of the SQLite social store (group_store.hpp) on the shared core
// (sqlite_social.hpp).

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <monochat/infra/clock.hpp>
#include <monochat/storage/group_store.hpp>
#include <mutex>
#include <string_view>
#include <utility>

#include "storage/group_journal_sqlite.hpp"
#include "storage/sqlite_social.hpp"

namespace monochat::storage::social_sql {

namespace {

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

member_role role_from(const std::string& text) {
    // The CHECK constraint admits only the three spellings.
    return parse_member_role(text).value_or(member_role::member);
}

member_record member_from(const statement& s) {
    return member_record{s.column_uint64(0), role_from(s.column_text(1)), s.column_int64(2)};
}

// ---- groups ----

group_invite_record group_invite_from(const statement& s) {
    return group_invite_record{s.column_text(0),  s.column_uint64(1), s.column_uint64(2),
                               s.column_int64(3), s.column_uint64(4), s.column_int64(5)};
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
            return make_error(errc::forbidden, fmt::format("user {} is banned from this group", u));
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

result<deleted_group> delete_group(connection& c, std::uint64_t group_id, std::uint64_t owner_id,
                                   std::int64_t now_ms) {
    auto group = get_group(c, group_id);
    if (!group) {
        return group.error();
    }
    if (group->owner_id != owner_id) {
        return make_error(errc::forbidden, "only the owner may delete the group");
    }
    auto members = query_all(c,
                             "SELECT user_id FROM group_members WHERE group_id = ?1"
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
    auto rows = query_all(
        c,
        "SELECT " MONOCHAT_GROUP_FULL_COLUMNS
        " FROM chat_groups"
        " WHERE public = 1 AND id > ?1 AND name LIKE ?2 ESCAPE '\\'"
        " ORDER BY id LIMIT ?3",
        [](const statement& s) { return full_group_from(s); }, after, pattern, to_limit(limit) + 1);
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

class sqlite_group_store final : public group_store {
public:
    sqlite_group_store(social_db& db, const infra::clock* journal_clock,
                       std::function<std::uint64_t(std::uint64_t)> group_last_seq)
        : db_(db), journal_clock_(journal_clock), group_last_seq_(std::move(group_last_seq)) {}

    // ---- group details ----

    task<group_record> update_group(std::uint64_t group_id, std::optional<std::string> name,
                                    std::optional<std::string> description,
                                    std::optional<bool> is_public) override {
        return journaled<group_record>(
            [=, name = std::move(name), description = std::move(description)](
                connection& c, journal_sink& jr) -> result<group_record> {
                auto changed = execute(c,
                                       "UPDATE chat_groups SET name = coalesce(?2, name),"
                                       " description = coalesce(?3, description),"
                                       " public = coalesce(?4, public) WHERE id = ?1",
                                       group_id, name, description, is_public);
                if (!changed) {
                    return changed.error();
                }
                auto group = social_sql::get_group(c, group_id);
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

    // ---- group moderation ----

    task<void> set_group_mute(std::uint64_t group_id, std::uint64_t user_id, std::int64_t until_ms,
                              std::int64_t now_ms) override {
        return db_.write<void>([=](connection& c) -> status {
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
        return db_.write<void>([=](connection& c) -> status {
            auto deleted =
                execute(c, "DELETE FROM group_mutes WHERE group_id = ?1 AND user_id = ?2", group_id,
                        user_id);
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
        return db_.read<std::vector<group_mute_record>>([](connection& c) {
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
            auto group = social_sql::get_group(c, group_id);
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
                auto removed = social_sql::remove_member(c, group_id, user_id);  // conflict: owner
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
            auto done =
                execute(c,
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
        return db_.write<void>([=](connection& c) -> status {
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
        return db_.read<std::vector<group_ban_record>>(
            [=](connection& c) -> result<std::vector<group_ban_record>> {
                if (auto st = require_group(c, group_id); !st) {
                    return st.error();
                }
                return query_all(
                    c,
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
        return db_.write<group_invite_record>([i = std::move(invite), now_ms, max_per_group](
                                                  connection& c) -> result<group_invite_record> {
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
            auto done =
                execute(c,
                        "INSERT INTO group_invites (code, group_id, uses_left,"
                        " expires_ms, created_by, created_ms)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        i.code, i.group_id, i.uses_left, i.expires_ms, i.created_by, i.created_ms);
            if (!done) {
                return done.error();
            }
            return i;
        });
    }

    task<std::vector<group_invite_record>> group_invites(std::uint64_t group_id,
                                                         std::int64_t now_ms) override {
        return db_.read<std::vector<group_invite_record>>(
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
        return db_.write<void>([group_id, code = std::move(code)](connection& c) -> status {
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
        return db_.read<group_invite_record>(
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
        return journaled<members_added>(
            [=, code = std::move(code)](connection& c, journal_sink& jr) -> result<members_added> {
                auto role = role_of(c, group_id, user_id);
                if (!role) {
                    return role.error();
                }
                if (*role) {
                    auto group = social_sql::get_group(c, group_id);
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
                return jr.joined(
                    c, group_id,
                    social_sql::add_members(c, group_id, {user_id}, now_ms, max_members));
            });
    }

    // ---- groups ----

    task<group_record> create_group(std::uint64_t group_id, std::string name,
                                    std::uint64_t owner_id, bool is_public,
                                    std::vector<std::uint64_t> member_ids, std::int64_t created_ms,
                                    std::uint64_t max_members) override {
        return journaled<group_record>(
            [=, n = std::move(name), m = std::move(member_ids)](
                connection& c, journal_sink& jr) -> result<group_record> {
                auto group = social_sql::create_group(c, group_id, n, owner_id, is_public, m,
                                                      created_ms, max_members);
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
        return db_.read<group_record>(
            [=](connection& c) { return social_sql::get_group(c, group_id); });
    }

    task<member_page> list_members(std::uint64_t group_id, std::uint64_t after_user_id,
                                   std::size_t limit) override {
        return db_.read<member_page>([=](connection& c) {
            return social_sql::list_members(c, group_id, after_user_id, limit);
        });
    }

    task<std::optional<member_role>> member_role_of(std::uint64_t group_id,
                                                    std::uint64_t user_id) override {
        return db_.read<std::optional<member_role>>(
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
                                 social_sql::add_members(c, group_id, ids, joined_ms, max_members));
            });
    }

    task<members_added> join_group(std::uint64_t group_id, std::uint64_t user_id,
                                   std::int64_t joined_ms, std::uint64_t max_members) override {
        return journaled<members_added>([=](connection& c, journal_sink& jr) {
            return jr.joined(
                c, group_id,
                social_sql::add_members(c, group_id, {user_id}, joined_ms, max_members));
        });
    }

    task<group_record> remove_member(std::uint64_t group_id, std::uint64_t user_id) override {
        return journaled<group_record>([=](connection& c,
                                           journal_sink& jr) -> result<group_record> {
            auto group = social_sql::remove_member(c, group_id, user_id);
            if (!group) {
                return group;
            }
            if (auto st =
                    jr.add(c, journal::member_left, group_id, journal::members_detail({user_id}));
                !st) {
                return st.error();
            }
            return group;
        });
    }

    task<group_record> set_member_role(std::uint64_t group_id, std::uint64_t user_id,
                                       member_role role) override {
        return db_.write<group_record>(
            [=](connection& c) { return social_sql::set_member_role(c, group_id, user_id, role); });
    }

    task<deleted_group> delete_group(std::uint64_t group_id, std::uint64_t owner_id,
                                     std::int64_t now_ms) override {
        return db_.write<deleted_group>(
            [=](connection& c) { return social_sql::delete_group(c, group_id, owner_id, now_ms); });
    }

    task<std::vector<std::uint64_t>> deleted_groups() override {
        return db_.read<std::vector<std::uint64_t>>([](connection& c) {
            return query_all(c, "SELECT group_id FROM deleted_groups ORDER BY group_id", id_from);
        });
    }

    task<void> forget_deleted_group(std::uint64_t group_id) override {
        return db_.write<void>([=](connection& c) -> status {
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
        return db_.read<group_directory_page>([=, q = std::move(name_contains)](connection& c) {
            return social_sql::public_groups(c, q, after_group_id, limit);
        });
    }

    task<std::vector<user_group>> groups_of_user(std::uint64_t user_id) override {
        return db_.read<std::vector<user_group>>([=](connection& c) {
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
        return db_.read<std::vector<std::uint64_t>>([=](connection& c) {
            return social_sql::member_ids(c, group_id, after_user_id, limit);
        });
    }

    task<std::uint64_t> member_count(std::uint64_t group_id) override {
        return db_.read<std::uint64_t>([=](connection& c) -> result<std::uint64_t> {
            auto group = social_sql::get_group(c, group_id);
            if (!group) {
                return group.error();
            }
            return group->member_count;
        });
    }

    // ---- group event journal ----

    task<std::vector<group_journal_row>> read_group_journal(std::uint64_t after_id,
                                                            std::size_t limit) override {
        return db_.read<std::vector<group_journal_row>>(
            [=](connection& c) { return journal::read(c, after_id, limit); });
    }

    task<std::uint64_t> group_journal_head() override {
        return db_.read<std::uint64_t>([](connection& c) { return journal::head(c); });
    }

    task<std::uint64_t> prune_group_journal(std::uint64_t up_to_id) override {
        return db_.write<std::uint64_t>([=](connection& c) { return journal::prune(c, up_to_id); });
    }

    void set_group_journal_listener(group_journal_listener listener) override {
        std::lock_guard lock(listener_mutex_);
        listener_ = listener ? std::make_shared<const group_journal_listener>(std::move(listener))
                             : nullptr;
    }

private:
    // What a group change appends to the journal, inside its job (on the writer thread); the
    // rows reach the listener only once the job's batch committed.
    class journal_sink {
    public:
        explicit journal_sink(const sqlite_group_store& store) : store_(store) {}

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
        const sqlite_group_store& store_;
        std::vector<group_journal_row> rows_;
    };

    // A write whose job may append journal rows: `fn(connection&, journal_sink&) -> result<T>`.
    // The listener hears of the rows after the commit, before the caller resumes.
    template <class T, class F>
    task<T> journaled(F fn) {
        auto sink = std::make_shared<journal_sink>(*this);
        // Named first: GCC 12 mishandles a capturing lambda temporary in a co_await operand.
        auto job = [fn = std::move(fn), sink](connection& c) -> result<T> { return fn(c, *sink); };
        auto r = co_await db_.write<T>(std::move(job));
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

    social_db& db_;
    const infra::clock* const journal_clock_;
    const std::function<std::uint64_t(std::uint64_t)> group_last_seq_;
    std::mutex listener_mutex_;
    std::shared_ptr<const group_journal_listener> listener_;
};

}  // namespace

std::unique_ptr<group_store> make_sqlite_group_store(
    social_db& db, const infra::clock* journal_clock,
    std::function<std::uint64_t(std::uint64_t)> group_last_seq) {
    return std::make_unique<sqlite_group_store>(db, journal_clock, std::move(group_last_seq));
}

}  // namespace monochat::storage::social_sql
