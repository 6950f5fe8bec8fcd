// Bulk seeding (storage/seed.hpp): what it writes is what the store reads, and it is all or
// nothing.

#include <catch2/catch.hpp>
#include <monochat/storage/seed.hpp>

#include "social_test_support.hpp"

using namespace monochat;
using namespace monochat::storage;

namespace {

seed_options options_in(const test::scratch_dir& dir, std::uint64_t& next) {
    seed_options o;
    o.path = dir.file("seed.db");
    o.username_prefix = "sd";
    o.users = 2500;
    o.password_hash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA";
    o.group_members = 2000;
    o.group_name = "seeded";
    o.token_hashes = {std::string(32, 'a'), std::string(32, 'b')};
    o.now_ms = 1'800'000'000'000;
    o.token_expires_ms = o.now_ms + 1000;
    o.next_id = [&next] { return next++; };
    return o;
}

}  // namespace

TEST_CASE("seeded users, tokens and group read back through the store", "[social][seed]") {
    test::scratch_dir dir;
    std::uint64_t next = 1000;
    const auto o = options_in(dir, next);
    const auto seeded = test::value_of(seed_social_store(o));
    REQUIRE(seeded.user_ids.size() == 2500);
    CHECK(seeded.user_ids.front() == 1000);
    CHECK(seeded.group_id == 3500);

    infra::metrics_registry metrics;
    sqlite_social_store_options so;
    so.path = o.path;
    so.readers = 1;
    auto store = test::value_of(open_sqlite_social_store(so, metrics));
    const auto u = test::value_of(test::run(store->get_user_by_username("sd2499")));
    CHECK(u.id == seeded.user_ids[2499]);
    CHECK(u.password_hash == o.password_hash);
    CHECK_FALSE(u.guest);
    const auto t = test::value_of(test::run(store->lookup_token(std::string(32, 'b'))));
    CHECK(t.user_id == seeded.user_ids[1]);
    CHECK(t.expires_ms == o.token_expires_ms);
    const auto g = test::value_of(test::run(store->get_group(seeded.group_id)));
    CHECK(g.member_count == 2000);
    CHECK(g.owner_id == seeded.user_ids[0]);
    CHECK(g.is_public);
    const auto page = test::value_of(test::run(store->list_members(seeded.group_id, 0, 3000)));
    REQUIRE(page.members.size() == 2000);
    CHECK(page.members.front().role == member_role::owner);
    CHECK(page.members.back().user_id == seeded.user_ids[1999]);
    CHECK(page.members.back().role == member_role::member);
    CHECK(test::value_of(test::run(store->member_count(seeded.group_id))) == 2000);
}

TEST_CASE("seeding a taken username writes nothing at all", "[social][seed]") {
    test::scratch_dir dir;
    std::uint64_t next = 1000;
    auto o = options_in(dir, next);
    o.username_prefix = "sd5";  // one user: sd50
    o.users = 1;
    o.group_members = 0;
    o.token_hashes.clear();
    test::value_of(seed_social_store(o));
    // sd0..sd49 are written before sd50 clashes: all of it goes.
    auto clash = o;
    clash.username_prefix = "sd";
    clash.users = 60;
    clash.group_members = 60;
    CHECK(test::error_of(seed_social_store(clash)) == errc::conflict);
    clash.group_members = 61;
    CHECK(test::error_of(seed_social_store(clash)) == errc::invalid_argument);

    infra::metrics_registry metrics;
    sqlite_social_store_options so;
    so.path = o.path;
    so.readers = 1;
    auto store = test::value_of(open_sqlite_social_store(so, metrics));
    CHECK(test::error_of(test::run(store->get_user_by_username("sd0"))) == errc::not_found);
    CHECK(test::error_of(test::run(store->get_user_by_username("sd49"))) == errc::not_found);
    CHECK(test::value_of(test::run(store->get_user_by_username("sd50"))).id == 1000);
}
