// The relations role of the SQLite social store (relation_store.hpp) on the shared core
// (sqlite_social.hpp).

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <monochat/storage/relation_store.hpp>
#include <utility>

#include "storage/sqlite_social.hpp"

namespace monochat::storage::social_sql {

namespace {

friend_request_status status_from(const std::string& text) {
    if (text == "accepted") {
        return friend_request_status::accepted;
    }
    if (text == "rejected") {
        return friend_request_status::rejected;
    }
    return friend_request_status::pending;  // the CHECK constraint admits nothing else
}

friend_request_record request_from(const statement& s) {
    return friend_request_record{s.column_uint64(0),
                                 s.column_uint64(1),
                                 s.column_uint64(2),
                                 s.column_text(3),
                                 status_from(s.column_text(4)),
                                 s.column_int64(5),
                                 s.column_int64(6)};
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

class sqlite_relation_store final : public relation_store {
public:
    explicit sqlite_relation_store(social_db& db) : db_(db) {}

    // ---- blocks ----

    task<void> block_user(std::uint64_t user_id, std::uint64_t blocked_id,
                          std::int64_t now_ms) override {
        return db_.write<void>([=](connection& c) -> status {
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
            auto unfriended =
                execute(c,
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
        return db_.write<void>([=](connection& c) -> status {
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
        return db_.read<std::vector<user_record>>([=](connection& c) {
            return query_all(
                c,
                "SELECT u.id, u.username, u.display_name, u.password_hash,"
                " u.guest, u.created_ms, u.suspended, u.bot, u.avatar_file_id"
                " FROM blocks b JOIN users u ON u.id = b.blocked_id"
                " WHERE b.user_id = ?1 ORDER BY b.created_ms DESC, u.id",
                [](const statement& s) { return user_from(s); }, user_id);
        });
    }

    task<std::vector<std::uint64_t>> blocked_by(std::uint64_t user_id,
                                                std::vector<std::uint64_t> user_ids) override {
        return db_.read<std::vector<std::uint64_t>>(
            [user_id,
             ids = std::move(user_ids)](connection& c) -> result<std::vector<std::uint64_t>> {
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
        return db_.read<std::vector<block_pair>>([](connection& c) {
            return query_all(c, "SELECT user_id, blocked_id FROM blocks", [](const statement& s) {
                return block_pair{s.column_uint64(0), s.column_uint64(1)};
            });
        });
    }

    // ---- friends ----

    task<send_friend_request_result> send_friend_request(std::uint64_t request_id,
                                                         std::uint64_t from_user_id,
                                                         std::uint64_t to_user_id, std::string note,
                                                         std::int64_t now_ms) override {
        return db_.write<send_friend_request_result>([=, n = std::move(note)](connection& c) {
            return social_sql::send_friend_request(c, request_id, from_user_id, to_user_id, n,
                                                   now_ms);
        });
    }

    task<friend_request_record> get_friend_request(std::uint64_t request_id) override {
        return db_.read<friend_request_record>(
            [=](connection& c) { return get_request(c, request_id); });
    }

    task<friend_request_record> accept_friend_request(std::uint64_t request_id,
                                                      std::uint64_t actor_id,
                                                      std::int64_t now_ms) override {
        return db_.write<friend_request_record>([=](connection& c) {
            return respond(c, request_id, actor_id, friend_request_status::accepted, now_ms);
        });
    }

    task<friend_request_record> reject_friend_request(std::uint64_t request_id,
                                                      std::uint64_t actor_id,
                                                      std::int64_t now_ms) override {
        return db_.write<friend_request_record>([=](connection& c) {
            return respond(c, request_id, actor_id, friend_request_status::rejected, now_ms);
        });
    }

    task<friend_requests> list_friend_requests(std::uint64_t user_id) override {
        return db_.read<friend_requests>([=](connection& c) -> result<friend_requests> {
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
        return db_.read<std::vector<user_record>>([=](connection& c) {
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
        return db_.read<bool>([=](connection& c) { return social_sql::are_friends(c, a, b); });
    }

    task<void> remove_friend(std::uint64_t user_id, std::uint64_t friend_id) override {
        return db_.write<void>([=](connection& c) -> status {
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

private:
    social_db& db_;
};

}  // namespace

std::unique_ptr<relation_store> make_sqlite_relation_store(social_db& db) {
    return std::make_unique<sqlite_relation_store>(db);
}

}  // namespace monochat::storage::social_sql
