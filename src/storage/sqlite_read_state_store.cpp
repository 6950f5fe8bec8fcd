// The read-state role of the SQLite social store (read_state_store.hpp) on the shared core
// (sqlite_social.hpp).

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <monochat/storage/read_state_store.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "storage/sqlite_social.hpp"

namespace monochat::storage::social_sql {

namespace {

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
        auto done =
            group ? execute(c,
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

class sqlite_read_state_store final : public read_state_store {
public:
    explicit sqlite_read_state_store(social_db& db) : db_(db) {}

    // ---- direct conversations ----

    task<void> record_direct_message(std::uint64_t a, std::uint64_t b,
                                     std::int64_t message_ms) override {
        return db_.write<void>(
            [=](connection& c) { return social_sql::record_direct_message(c, a, b, message_ms); });
    }

    task<std::vector<direct_conversation>> direct_conversations(std::uint64_t user_id) override {
        return db_.read<std::vector<direct_conversation>>([=](connection& c) {
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
        return db_.write<bool>([=, cid = std::move(conversation_id)](connection& c) {
            return social_sql::set_read_position(c, user_id, cid, seq, now_ms);
        });
    }

    task<void> record_sent(std::vector<sent_record> records) override {
        return db_.write<void>([records = std::move(records)](connection& c) -> status {
            for (const auto& r : records) {
                // A send that committed just before its group was deleted: the group's read
                // state is gone and stays gone.
                if (const auto group = group_of_conversation(r.conversation_id)) {
                    auto exists =
                        query_one(c, "SELECT 1 FROM chat_groups WHERE id = ?1", true_from, *group);
                    if (!exists) {
                        return exists.error();
                    }
                    if (!*exists) {
                        continue;
                    }
                }
                auto moved =
                    social_sql::set_read_position(c, r.user_id, r.conversation_id, r.seq, r.ts_ms);
                if (!moved && moved.error().code != errc::not_found) {
                    return moved.error();
                }
                if (r.direct_peer != 0) {
                    auto listed =
                        social_sql::record_direct_message(c, r.user_id, r.direct_peer, r.ts_ms);
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
        return db_.read<std::uint64_t>([=, cid = std::move(conversation_id)](
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
        return db_.read<std::vector<read_position>>([=](connection& c) {
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
        return db_.read<readers_result>([=, cid = std::move(conversation_id)](connection& c) {
            return social_sql::conversation_readers(c, cid, seq, limit, members_of_group);
        });
    }

    // ---- per-user conversation settings ----

    task<void> set_muted_until(std::uint64_t user_id, std::string conversation_id,
                               std::int64_t muted_until_ms) override {
        return db_.write<void>([=, cid = std::move(conversation_id)](connection& c) -> status {
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
        return db_.read<std::vector<conversation_setting>>([=](connection& c) {
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
        return db_.write<std::uint64_t>(
            [=, cid = std::move(conversation_id), ids = std::move(user_ids)](connection& c) {
                return social_sql::add_mentions(c, cid, seq, ids, members_of_group);
            });
    }

    task<std::uint64_t> remove_mentions(std::string conversation_id, std::uint64_t seq) override {
        return db_.write<std::uint64_t>(
            [=, cid = std::move(conversation_id)](connection& c) -> result<std::uint64_t> {
                if (seq > max_id) {
                    return std::uint64_t{0};
                }
                auto done = execute(
                    c, "DELETE FROM mentions WHERE conversation_id = ?1 AND seq = ?2", cid, seq);
                if (!done) {
                    return done.error();
                }
                return static_cast<std::uint64_t>(*done);
            });
    }

    task<std::vector<mention_count>> unread_mentions(std::uint64_t user_id) override {
        // Rows exist only for unread mentions (reading deletes them); the read_state join
        // still guards against a mention recorded just after a concurrent read moved past it.
        return db_.read<std::vector<mention_count>>([=](connection& c) {
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
        return db_.write<void>([sub = std::move(sub), max_per_user](connection& c) -> status {
            auto token = query_one(
                c, "SELECT user_id FROM tokens WHERE token_hash = ?1",
                [](const statement& s) { return s.column_uint64(0); },
                sqlite::blob{sub.token_hash});
            if (!token) {
                return token.error();
            }
            if (!*token || **token != sub.user_id) {
                return make_error(errc::not_found, "the session is gone");
            }
            auto others = query_one(
                c,
                "SELECT COUNT(*) FROM push_subscriptions"
                " WHERE user_id = ?1 AND endpoint != ?2",
                [](const statement& s) { return s.column_uint64(0); }, sub.user_id, sub.endpoint);
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
        return db_.write<void>([user_id, e = std::move(endpoint)](connection& c) -> status {
            auto deleted =
                execute(c, "DELETE FROM push_subscriptions WHERE user_id = ?1 AND endpoint = ?2",
                        user_id, e);
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
        return db_.write<bool>([e = std::move(endpoint)](connection& c) -> result<bool> {
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
        return db_.read<std::vector<push_subscription_record>>(
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

private:
    social_db& db_;
};

}  // namespace

std::unique_ptr<read_state_store> make_sqlite_read_state_store(social_db& db) {
    return std::make_unique<sqlite_read_state_store>(db);
}

}  // namespace monochat::storage::social_sql
