#pragma once
// Bulk seeding of the social store for benchmarks and scale tests (issue 22): many accounts and
// one large group written in one SQLite transaction, through the store's own schema and
// migrations, so that a server opens the file as if the accounts had registered. Registering
// 100,000 users through the API costs 100,000 Argon2 hashes; this takes seconds.
//
// Only for a data directory no server is using (the caller holds its locks). Not thread-safe;
// blocks the calling thread.

#include <cstdint>
#include <functional>
#include <monochat/infra/result.hpp>
#include <string>
#include <vector>

namespace monochat::storage {

struct seed_options {
    // The social store's SQLite file (created and migrated when missing).
    std::string path;
    // Users are named `<username_prefix><i>` for i in 0..users-1, shown as `display_prefix i`.
    std::string username_prefix;
    std::string display_prefix = "Seed user";
    std::uint64_t users = 0;
    // The encoded password hash every seeded user gets (one shared hash is enough).
    std::string password_hash;
    // When non-zero: a group named `group_name` of users 0..group_members-1, user 0 its owner.
    std::uint64_t group_members = 0;
    std::string group_name;
    bool group_public = true;
    // Stored token hashes for users 0..token_hashes.size()-1 (one each), valid until
    // `token_expires_ms`, so that a benchmark needs no login per user.
    std::vector<std::string> token_hashes;
    std::int64_t token_expires_ms = 0;
    std::int64_t now_ms = 0;
    // Fresh ids (users, the group), increasing.
    std::function<std::uint64_t()> next_id;
    bool synchronous_full = true;
};

struct seed_report {
    std::vector<std::uint64_t> user_ids;  // by index
    std::uint64_t group_id = 0;           // 0: no group
};

// Writes everything in one transaction: all of it or nothing. Errors: invalid_argument (no
// path, prefix, hash or id source; more group members or tokens than users), conflict (a
// username is taken, e.g. the prefix was seeded before), unavailable (cannot write the file),
// internal (not a monochat database, or a schema newer than this build).
[[nodiscard]] result<seed_report> seed_social_store(const seed_options& options);

}  // namespace monochat::storage
