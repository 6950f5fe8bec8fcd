// The administration role of the SQLite social store (admin_store.hpp) on the shared core
// (sqlite_social.hpp).

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <monochat/storage/admin_store.hpp>
#include <utility>

#include "storage/sqlite_social.hpp"

namespace monochat::storage::social_sql {

namespace {

class sqlite_admin_store final : public admin_store {
public:
    explicit sqlite_admin_store(social_db& db) : db_(db) {}

    // ---- administration ----

    task<std::vector<user_record>> list_users(std::uint64_t after, std::size_t limit) override {
        return db_.read<std::vector<user_record>>(
            [=](connection& c) -> result<std::vector<user_record>> {
                if (limit == 0) {
                    return make_error(errc::invalid_argument, "limit must be at least 1");
                }
                return query_all(
                    c,
                    "SELECT " MONOCHAT_USER_COLUMNS
                    " FROM users WHERE id > ?1 ORDER BY id LIMIT ?2",
                    [](const statement& s) { return user_from(s); }, after, to_limit(limit));
            });
    }

    task<void> set_suspended(std::uint64_t user_id, bool suspended) override {
        // Named first: GCC 12 destroys the captures of a lambda built inside a co_await twice
        // (docs/testing.md).
        auto job = [=](connection& c) -> status {
            auto changed =
                execute(c, "UPDATE users SET suspended = ?2 WHERE id = ?1", user_id, suspended);
            if (!changed) {
                return changed.error();
            }
            if (*changed == 0) {
                return user_not_found(user_id);
            }
            return {};
        };
        auto r = co_await db_.write<void>(std::move(job));
        if (r) {
            db_.changes().user_changed(user_id);
        }
        co_return r;
    }

    // ---- world moderation ----

    task<void> set_world_mute(std::uint64_t user_id, std::int64_t until_ms,
                              std::int64_t now_ms) override {
        return db_.write<void>([=](connection& c) -> status {
            if (auto st = require_user(c, user_id); !st) {
                return st;
            }
            auto ended = execute(
                c, "DELETE FROM world_mutes WHERE until_ms != 0 AND until_ms <= ?1", now_ms);
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
        return db_.write<void>([=](connection& c) -> status {
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
        return db_.read<std::vector<world_mute_record>>([](connection& c) {
            return query_all(c, "SELECT user_id, until_ms FROM world_mutes ORDER BY user_id",
                             [](const statement& s) {
                                 return world_mute_record{s.column_uint64(0), s.column_int64(1)};
                             });
        });
    }

    // ---- operations ----

    task<void> backup_to(std::string path) override {
        return db_.readers().run<void>(
            [p = std::move(path)](connection& c) { return sqlite::backup_database(c, p); });
    }

private:
    social_db& db_;
};

}  // namespace

std::unique_ptr<admin_store> make_sqlite_admin_store(social_db& db) {
    return std::make_unique<sqlite_admin_store>(db);
}

}  // namespace monochat::storage::social_sql
