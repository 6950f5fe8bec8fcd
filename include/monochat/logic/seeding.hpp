#pragma once
// `monochat seed` (issue 22): real accounts and one large group written straight into a stopped
// server's social store (storage/seed.hpp), for benchmarks and scale tests. The accounts are
// what registration makes: a valid Argon2id password hash (one shared hash, hashed once at the
// configured cost), usernames that pass validation; optionally a live bearer token for each of
// the first users, so that a benchmark connects thousands of them without thousands of logins.
//
// Blocks the calling thread (one Argon2 hash, one SQLite transaction).

#include <cstdint>
#include <monochat/infra/result.hpp>
#include <string>
#include <vector>

namespace monochat::infra {
class clock;
}

namespace monochat::logic {

struct seed_request {
    std::string db_path;          // the social store's file
    std::string username_prefix;  // users are `<prefix><i>`
    std::uint64_t users = 0;
    std::uint64_t group_members = 0;  // 0: no group; else users 0..n-1, user 0 the owner
    std::string group_name = "seeded group";
    bool group_public = true;
    std::string password;
    std::uint64_t tokens = 0;  // bearer tokens for users 0..tokens-1
    // From the configuration: auth.argon2_ops, auth.argon2_memory_kib, auth.token_ttl_s,
    // storage.sync == "always".
    std::uint64_t argon2_ops = 2;
    std::uint64_t argon2_memory_kib = 19 * 1024;
    std::int64_t token_ttl_s = 30LL * 24 * 3600;
    bool synchronous_full = true;
};

struct seeded_user {
    std::uint64_t user_id = 0;
    std::string username;
    std::string token;  // empty past request.tokens
};

struct seed_outcome {
    std::vector<seeded_user> users;
    std::uint64_t group_id = 0;
};

// Errors: invalid_argument (a username the prefix makes is invalid, a password outside 8..128
// bytes, more members or tokens than users), conflict (the usernames exist), and the store's.
[[nodiscard]] result<seed_outcome> seed_accounts(const seed_request& request,
                                                 const infra::clock& clock);

}  // namespace monochat::logic
