#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "storage/sqlite_db.hpp"
#include "storage/sqlite_migrations.hpp"
#include "unit/storage/social_test_support.hpp"

namespace monochat::storage {
namespace {

using sqlite::connection;
using test::error_of;
using test::value_of;

constexpr std::int64_t t0 = 1'790'000'000'000;

std::unique_ptr<connection> open_raw(const std::string& path) {
    return value_of(connection::open(path, sqlite::open_options{}));
}

int latest() { return sqlite::social_migrations().back().version; }

bool has_table(connection& c, const std::string& name) {
    auto stmt =
        value_of(c.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1"));
    value_of(stmt.bind(name));
    return value_of(stmt.step());
}

template <class... Args>
void exec(connection& c, std::string_view sql, const Args&... args) {
    auto stmt = value_of(c.prepare(sql));
    value_of(stmt.bind(args...));
    value_of(stmt.run());
}

TEST_CASE("migration versions run from 1 without gaps", "[social]") {
    const auto all = sqlite::social_migrations();
    REQUIRE(all.size() >= 2);
    for (std::size_t i = 0; i < all.size(); ++i) {
        CHECK(all[i].version == static_cast<int>(i) + 1);
        CHECK(std::string(all[i].description).size() > 0);
    }
}

TEST_CASE("an empty file migrates to the latest version", "[social]") {
    test::scratch_dir dir;
    auto c = open_raw(dir.file("new.db"));
    CHECK(value_of(sqlite::schema_version(*c)) == 0);
    CHECK(value_of(sqlite::migrate(*c, sqlite::social_migrations())) == 0);
    CHECK(value_of(sqlite::schema_version(*c)) == latest());
    for (const char* table : {"users", "tokens", "friend_requests", "friendships", "chat_groups",
                              "group_members", "read_state", "direct_conversations"}) {
        INFO(table);
        CHECK(has_table(*c, table));
    }
}

TEST_CASE("migrating an up-to-date file changes nothing", "[social]") {
    test::scratch_dir dir;
    auto c = open_raw(dir.file("db"));
    value_of(sqlite::migrate(*c, sqlite::social_migrations()));
    CHECK(value_of(sqlite::migrate(*c, sqlite::social_migrations())) == latest());
    CHECK(value_of(sqlite::schema_version(*c)) == latest());
}

TEST_CASE("a version 1 file migrates to the latest version and keeps its data", "[social]") {
    test::scratch_dir dir;
    const std::string path = dir.file("social.db");
    {
        auto c = open_raw(path);
        CHECK(value_of(sqlite::migrate(*c, sqlite::social_migrations(), 1)) == 0);
        CHECK(value_of(sqlite::schema_version(*c)) == 1);
        CHECK_FALSE(has_table(*c, "read_state"));
        // Data as the version 1 code wrote it.
        for (std::int64_t id = 1; id <= 3; ++id) {
            exec(*c,
                 "INSERT INTO users (id, username, display_name, password_hash, guest, "
                 "created_ms) VALUES (?1, ?2, ?3, 'h', 0, ?4)",
                 id, "user" + std::to_string(id), "User " + std::to_string(id), t0);
        }
        exec(*c,
             "INSERT INTO tokens (token_hash, user_id, created_ms, expires_ms)"
             " VALUES (?1, 1, ?2, ?3)",
             sqlite::blob{"hash-1"}, t0, t0 + 1000);
        exec(*c,
             "INSERT INTO friendships (user_id, friend_id, since_ms) VALUES (1, 2, ?1), (2, 1, ?1)",
             t0);
        exec(*c,
             "INSERT INTO chat_groups (id, name, owner_id, public, created_ms)"
             " VALUES (50, 'old group', 1, 1, ?1)",
             t0);
        exec(*c,
             "INSERT INTO group_members (group_id, user_id, role, joined_ms)"
             " VALUES (50, 1, 'owner', ?1), (50, 2, 'admin', ?1), (50, 3, 'member', ?1)",
             t0);
    }

    infra::metrics_registry metrics;
    sqlite_social_store_options o;
    o.path = path;
    o.readers = 1;
    o.synchronous_full = false;
    auto store = value_of(open_sqlite_social_store(o, metrics));
    CHECK(value_of(test::run(store->get_user(2))).display_name == "User 2");
    CHECK(value_of(test::run(store->get_user_by_username("user3"))).id == 3);
    CHECK(value_of(test::run(store->lookup_token("hash-1"))).user_id == 1);
    CHECK(value_of(test::run(store->are_friends(1, 2))));
    // The member count that version 2 added was filled in from the existing members.
    const auto group = value_of(test::run(store->get_group(50)));
    CHECK(group.name == "old group");
    CHECK(group.member_count == 3);
    CHECK(value_of(test::run(store->member_role_of(50, 2))) == member_role::admin);
    // And version 2's tables work.
    CHECK(value_of(test::run(store->set_read_position(3, "group:50", 4, t0))));
    CHECK(value_of(test::run(store->join_group(50, 3, t0, 100))).group.member_count == 3);
    store.reset();

    auto c = open_raw(path);
    CHECK(value_of(sqlite::schema_version(*c)) == latest());
}

TEST_CASE("a file with a newer schema version than the code knows is refused", "[social]") {
    test::scratch_dir dir;
    const std::string path = dir.file("future.db");
    {
        auto c = open_raw(path);
        value_of(sqlite::migrate(*c, sqlite::social_migrations()));
        exec(*c, "UPDATE schema_version SET version = ?1", latest() + 1);
    }
    auto c = open_raw(path);
    auto migrated = sqlite::migrate(*c, sqlite::social_migrations());
    CHECK(error_of(migrated) == errc::internal);
    CHECK(migrated.error().message.find("newer") != std::string::npos);

    infra::metrics_registry metrics;
    sqlite_social_store_options o;
    o.path = path;
    CHECK(error_of(open_sqlite_social_store(o, metrics)) == errc::internal);
    CHECK(value_of(sqlite::schema_version(*c)) == latest() + 1);
}

TEST_CASE("a database that is not monochat's is refused", "[social]") {
    test::scratch_dir dir;
    const std::string path = dir.file("other.db");
    {
        auto c = open_raw(path);
        value_of(c->exec("CREATE TABLE something_else (x INTEGER);"));
    }
    infra::metrics_registry metrics;
    sqlite_social_store_options o;
    o.path = path;
    auto opened = open_sqlite_social_store(o, metrics);
    CHECK(error_of(opened) == errc::internal);
    CHECK(opened.error().message.find("not a monochat database") != std::string::npos);
}

TEST_CASE("a failing migration leaves the file at the previous whole version", "[social]") {
    const sqlite::migration broken[] = {
        {1, "one table", "CREATE TABLE a (x INTEGER);"},
        {2, "half done", "CREATE TABLE b (x INTEGER); INSERT INTO missing VALUES (1);"},
    };
    test::scratch_dir dir;
    auto c = open_raw(dir.file("db"));
    auto migrated = sqlite::migrate(*c, broken);
    CHECK(error_of(migrated) == errc::internal);
    CHECK(migrated.error().message.find("migration 2") != std::string::npos);
    CHECK(value_of(sqlite::schema_version(*c)) == 1);
    CHECK(has_table(*c, "a"));
    CHECK_FALSE(has_table(*c, "b"));
}

TEST_CASE("sqlite errors map to the protocol's codes", "[social]") {
    test::scratch_dir dir;
    auto c = open_raw(dir.file("db"));
    value_of(
        c->exec("CREATE TABLE p (id INTEGER PRIMARY KEY);"
                "CREATE TABLE ch (p INTEGER NOT NULL REFERENCES p (id), v INTEGER CHECK (v > 0));"
                "INSERT INTO p VALUES (1);"));
    auto insert = [&](std::string_view sql, std::int64_t a, std::int64_t b) {
        auto stmt = value_of(c->prepare(sql));
        value_of(stmt.bind(a, b));
        return stmt.run();
    };
    CHECK(error_of(insert("INSERT INTO p (id) VALUES (?1 + ?2)", 1, 0)) == errc::conflict);
    CHECK(error_of(insert("INSERT INTO ch (p, v) VALUES (?1, ?2)", 7, 1)) == errc::not_found);
    CHECK(error_of(insert("INSERT INTO ch (p, v) VALUES (?1, ?2)", 1, -1)) == errc::internal);
    CHECK(error_of(c->prepare("SELECT nonsense FROM nowhere")) == errc::internal);
}

TEST_CASE("a statement in use is not handed out twice", "[social]") {
    test::scratch_dir dir;
    auto c = open_raw(dir.file("db"));
    value_of(c->exec("CREATE TABLE n (x INTEGER); INSERT INTO n VALUES (1), (2);"));
    constexpr std::string_view sql = "SELECT x FROM n ORDER BY x";
    auto outer = value_of(c->prepare(sql));
    CHECK(value_of(outer.step()));
    CHECK(outer.column_int64(0) == 1);
    {
        // A nested use of the same SQL gets its own statement and leaves the outer one alone.
        auto inner = value_of(c->prepare(sql));
        CHECK(value_of(inner.step()));
        CHECK(inner.column_int64(0) == 1);
    }
    CHECK(value_of(outer.step()));
    CHECK(outer.column_int64(0) == 2);
}

}  // namespace
}  // namespace monochat::storage
