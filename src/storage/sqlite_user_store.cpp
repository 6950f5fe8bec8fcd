// The users role of the SQLite social store (user_store.hpp) on the shared core
// (sqlite_social.hpp).

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <monochat/storage/user_store.hpp>
#include <utility>

#include "storage/sqlite_social.hpp"

namespace monochat::storage::social_sql {

namespace {

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
    auto deleted = execute(c, "DELETE FROM tokens WHERE user_id = ?1 AND token_hash != ?2", user_id,
                           sqlite::blob{keep});
    if (!deleted) {
        return deleted.error();
    }
    return hashes;
}

// ---- users ----

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
        auto reserved =
            query_one(c, "SELECT 1 FROM deleted_users WHERE username = ?1", true_from, u.username);
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

// The user's row and, by ON DELETE CASCADE, its tokens, friendships, requests, memberships and
// read state; refused (conflict) while the user owns a group.
status delete_user_row(connection& c, std::uint64_t user_id) {
    auto owns =
        query_one(c, "SELECT 1 FROM chat_groups WHERE owner_id = ?1 LIMIT 1", true_from, user_id);
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

class sqlite_user_store final : public user_store {
public:
    explicit sqlite_user_store(social_db& db) : db_(db) {}

    // ---- users ----

    task<user_record> create_user(user_record user) override {
        return db_.write<user_record>(
            [u = std::move(user)](connection& c) { return social_sql::create_user(c, u); });
    }

    task<user_record> get_user(std::uint64_t user_id) override {
        return db_.read<user_record>(
            [=](connection& c) { return social_sql::get_user(c, user_id); });
    }

    task<user_record> get_user_by_username(std::string username) override {
        return db_.read<user_record>([name = std::move(username)](
                                         connection& c) -> result<user_record> {
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
        return db_.read<std::vector<user_record>>(
            [ids = std::move(user_ids)](connection& c) -> result<std::vector<user_record>> {
                std::vector<user_record> users;
                users.reserve(ids.size());
                for (const std::uint64_t id : ids) {
                    auto user = social_sql::get_user(c, id);
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
        return db_.read<std::vector<user_record>>(
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
        return db_.write<user_record>(
            [=, name = std::move(display_name)](connection& c) -> result<user_record> {
                auto changed =
                    execute(c, "UPDATE users SET display_name = ?2 WHERE id = ?1", user_id, name);
                if (!changed) {
                    return changed.error();
                }
                if (*changed == 0) {
                    return user_not_found(user_id);
                }
                return social_sql::get_user(c, user_id);
            });
    }

    task<user_record> update_profile(std::uint64_t user_id, profile_update change) override {
        // The writer runs each job in a savepoint of its own: both fields or neither.
        return db_.write<user_record>(
            [=, change = std::move(change)](connection& c) -> result<user_record> {
                auto exists = query_one(c, "SELECT 1 FROM users WHERE id = ?1", true_from, user_id);
                if (!exists) {
                    return exists.error();
                }
                if (!*exists) {
                    return user_not_found(user_id);
                }
                if (change.display_name) {
                    auto st = execute(c, "UPDATE users SET display_name = ?2 WHERE id = ?1",
                                      user_id, *change.display_name);
                    if (!st) {
                        return st.error();
                    }
                }
                if (change.avatar_file_id) {
                    auto st = execute(c, "UPDATE users SET avatar_file_id = ?2 WHERE id = ?1",
                                      user_id, *change.avatar_file_id);
                    if (!st) {
                        return st.error();
                    }
                }
                return social_sql::get_user(c, user_id);
            });
    }

    task<bool> is_avatar(std::uint64_t file_id) override {
        return db_.read<bool>([=](connection& c) -> result<bool> {
            auto row =
                query_one(c, "SELECT 1 FROM users WHERE avatar_file_id = ?1", true_from, file_id);
            if (!row) {
                return row.error();
            }
            return row->has_value();
        });
    }

    task<void> delete_user(std::uint64_t user_id) override {
        // Named first: GCC 12 destroys the captures of a lambda built inside a co_await twice
        // (docs/testing.md).
        auto job = [=](connection& c) -> status {
            if (auto st = require_user(c, user_id); !st) {
                return st;
            }
            return delete_user_row(c, user_id);
        };
        auto r = co_await db_.write<void>(std::move(job));
        if (r) {
            db_.changes().users_removed();
        }
        co_return r;
    }

    // ---- guest expiry ----

    task<void> touch_user(std::uint64_t user_id, std::int64_t now_ms) override {
        return db_.write<void>([=](connection& c) -> status {
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
        return db_.read<std::vector<std::uint64_t>>([=](connection& c) {
            return query_all(c,
                             "SELECT id FROM users WHERE guest = 1 AND last_seen_ms < ?1"
                             " ORDER BY last_seen_ms LIMIT ?2",
                             id_from, seen_before_ms, to_limit(limit));
        });
    }

    task<std::vector<std::uint64_t>> purge_guests(std::vector<std::uint64_t> user_ids,
                                                  std::int64_t seen_before_ms,
                                                  std::int64_t now_ms) override {
        // Named first: GCC 12 destroys the captures of a lambda built inside a co_await twice
        // (docs/testing.md).
        auto job = [ids = std::move(user_ids), seen_before_ms,
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
                    c, "INSERT OR REPLACE INTO deleted_users (id, deleted_ms) VALUES (?1, ?2)", id,
                    now_ms);
                if (!remembered) {
                    return remembered.error();
                }
                purged.push_back(id);
            }
            return purged;
        };
        auto r = co_await db_.write<std::vector<std::uint64_t>>(std::move(job));
        if (r && !r->empty()) {
            db_.changes().users_removed();
        }
        co_return r;
    }

    task<void> delete_account(std::uint64_t user_id, std::int64_t now_ms) override {
        // Named first: GCC 12 destroys the captures of a lambda built inside a co_await twice
        // (docs/testing.md).
        auto job = [=](connection& c) -> status {
            auto user = social_sql::get_user(c, user_id);
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
            auto remembered =
                execute(c,
                        "INSERT OR REPLACE INTO deleted_users (id, deleted_ms, username)"
                        " VALUES (?1, ?2, ?3)",
                        user_id, now_ms, name);
            if (!remembered) {
                return remembered.error();
            }
            return {};
        };
        auto r = co_await db_.write<void>(std::move(job));
        if (r) {
            db_.changes().users_removed();
        }
        co_return r;
    }

    task<bool> is_deleted_user(std::uint64_t user_id) override {
        return db_.read<bool>([=](connection& c) -> result<bool> {
            auto row =
                query_one(c, "SELECT 1 FROM deleted_users WHERE id = ?1", true_from, user_id);
            if (!row) {
                return row.error();
            }
            return row->has_value();
        });
    }

    // ---- tokens ----

    task<void> create_token(token_record token) override {
        return db_.write<void>(
            [t = std::move(token)](connection& c) -> status { return insert_token(c, t); });
    }

    task<user_record> create_user_with_token(user_record user, token_record token) override {
        return db_.write<user_record>(
            [u = std::move(user), t = std::move(token)](connection& c) -> result<user_record> {
                auto created = social_sql::create_user(c, u);
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
        return db_.write<std::vector<std::string>>(
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
        return db_.read<token_record>(
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
        return db_.write<void>([h = std::move(token_hash)](connection& c) -> status {
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
        return db_.write<std::uint64_t>([=](connection& c) -> result<std::uint64_t> {
            auto deleted = execute(c, "DELETE FROM tokens WHERE user_id = ?1", user_id);
            if (!deleted) {
                return deleted.error();
            }
            return static_cast<std::uint64_t>(*deleted);
        });
    }

    task<std::uint64_t> delete_expired_tokens(std::int64_t now_ms, std::size_t limit) override {
        return db_.write<std::uint64_t>([=](connection& c) -> result<std::uint64_t> {
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
        return db_.read<std::vector<token_record>>([=](connection& c) {
            return query_all(c,
                             "SELECT " MONOCHAT_TOKEN_COLUMNS
                             " FROM tokens WHERE user_id = ?1 ORDER BY created_ms, session_id",
                             token_from, user_id);
        });
    }

    task<void> touch_token(std::string token_hash, std::int64_t now_ms) override {
        return db_.write<void>([h = std::move(token_hash), now_ms](connection& c) -> status {
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
        return db_.write<std::string>([=](connection& c) -> result<std::string> {
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
        return db_.write<std::vector<std::string>>(
            [user_id, keep = std::move(keep_token_hash)](connection& c) {
                return delete_tokens_but(c, user_id, keep);
            });
    }

    task<std::vector<std::string>> set_password_hash(std::uint64_t user_id,
                                                     std::string password_hash,
                                                     std::string keep_token_hash) override {
        return db_.write<std::vector<std::string>>(
            [user_id, hash = std::move(password_hash),
             keep = std::move(keep_token_hash)](connection& c) -> result<std::vector<std::string>> {
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

    // ---- registration invites ----

    task<invite_record> create_invite(invite_record invite) override {
        return db_.write<invite_record>([i = std::move(invite)](
                                            connection& c) -> result<invite_record> {
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
        return db_.read<std::vector<invite_record>>([](connection& c) {
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
        return db_.write<void>([code = std::move(code)](connection& c) -> status {
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
        return db_.write<user_record>([u = std::move(user), code = std::move(code),
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
                return make_error(errc::forbidden,
                                  "the invite code is unknown, used up or expired");
            }
            return social_sql::create_user(c, u);
        });
    }

    // ---- password resets ----

    task<void> create_password_reset(std::string reset_hash, std::uint64_t user_id,
                                     std::int64_t expires_ms) override {
        return db_.write<void>([h = std::move(reset_hash), user_id,
                                expires_ms](connection& c) -> status {
            auto registered =
                query_one(c, "SELECT 1 FROM users WHERE id = ?1 AND guest = 0", true_from, user_id);
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
        return db_.write<user_record>([h = std::move(reset_hash), now_ms,
                                       hash = std::move(password_hash)](
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
            auto changed =
                execute(c, "UPDATE users SET password_hash = ?2 WHERE id = ?1", user_id, hash);
            if (!changed) {
                return changed.error();
            }
            auto dropped = execute(c, "DELETE FROM tokens WHERE user_id = ?1", user_id);
            if (!dropped) {
                return dropped.error();
            }
            return social_sql::get_user(c, user_id);
        });
    }

private:
    social_db& db_;
};

}  // namespace

std::unique_ptr<user_store> make_sqlite_user_store(social_db& db) {
    return std::make_unique<sqlite_user_store>(db);
}

}  // namespace monochat::storage::social_sql
