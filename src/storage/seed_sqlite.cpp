#include <monochat/storage/seed.hpp>

#include <fmt/format.h>

#include "storage/sqlite_db.hpp"
#include "storage/sqlite_migrations.hpp"

namespace monochat::storage {

namespace {

using sqlite::connection;

// Runs one cached statement with `args`.
template <class... Args>
status run(connection& c, std::string_view sql, const Args&... args) {
    auto stmt = c.prepare(sql);
    if (!stmt) {
        return stmt.error();
    }
    if (auto st = stmt->bind(args...); !st) {
        return st;
    }
    return stmt->run();
}

status check(const seed_options& o) {
    if (o.path.empty() || o.username_prefix.empty() || o.password_hash.empty() || !o.next_id) {
        return make_error(errc::invalid_argument,
                          "seeding needs a path, a username prefix, a password hash and ids");
    }
    if (o.group_members > o.users || o.token_hashes.size() > o.users) {
        return make_error(errc::invalid_argument,
                          "seeding: more group members or tokens than users");
    }
    if (o.group_members != 0 && o.group_name.empty()) {
        return make_error(errc::invalid_argument, "seeding: the group needs a name");
    }
    return {};
}

}  // namespace

result<seed_report> seed_social_store(const seed_options& o) {
    if (auto st = check(o); !st) {
        return st.error();
    }
    sqlite::open_options oo;
    oo.synchronous_full = o.synchronous_full;
    auto conn = connection::open(o.path, oo);
    if (!conn) {
        return conn.error();
    }
    connection& c = **conn;
    if (auto v = sqlite::migrate(c, sqlite::social_migrations()); !v) {
        return v.error();
    }
    auto tx = sqlite::transaction::begin(c, true);
    if (!tx) {
        return tx.error();
    }
    seed_report report;
    report.user_ids.reserve(o.users);
    // The same row a registration writes (social_store_sqlite.cpp, create_user); last_seen_ms
    // is the creation time, as for a new account.
    for (std::uint64_t i = 0; i < o.users; ++i) {
        const std::uint64_t id = o.next_id();
        if (auto st = run(c,
                          "INSERT INTO users (id, username, display_name, password_hash, guest,"
                          " created_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5)",
                          id, fmt::format("{}{}", o.username_prefix, i),
                          fmt::format("{} {}", o.display_prefix, i), o.password_hash, o.now_ms);
            !st) {
            return make_error(st.error().code,
                              fmt::format("seeding user {}: {}", i, st.error().message));
        }
        report.user_ids.push_back(id);
    }
    for (std::size_t i = 0; i < o.token_hashes.size(); ++i) {
        if (auto st = run(c,
                          "INSERT INTO tokens (token_hash, user_id, created_ms, expires_ms)"
                          " VALUES (?1, ?2, ?3, ?4)",
                          sqlite::blob{o.token_hashes[i]}, report.user_ids[i], o.now_ms,
                          o.token_expires_ms);
            !st) {
            return st.error();
        }
    }
    if (o.group_members != 0) {
        report.group_id = o.next_id();
        if (auto st = run(c,
                          "INSERT INTO chat_groups (id, name, owner_id, public, created_ms,"
                          " member_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                          report.group_id, o.group_name, report.user_ids[0], o.group_public,
                          o.now_ms, o.group_members);
            !st) {
            return st.error();
        }
        for (std::uint64_t i = 0; i < o.group_members; ++i) {
            if (auto st = run(c,
                              "INSERT INTO group_members (group_id, user_id, role, joined_ms)"
                              " VALUES (?1, ?2, ?3, ?4)",
                              report.group_id, report.user_ids[i], i == 0 ? "owner" : "member",
                              o.now_ms);
                !st) {
                return st.error();
            }
        }
    }
    if (auto st = tx->commit(); !st) {
        return st.error();
    }
    return report;
}

}  // namespace monochat::storage
