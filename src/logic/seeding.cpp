#include <monochat/logic/seeding.hpp>

#include <fmt/format.h>

#include <monochat/infra/clock.hpp>
#include <monochat/infra/ids.hpp>
#include <monochat/logic/tokens.hpp>
#include <monochat/logic/validation.hpp>
#include <monochat/storage/seed.hpp>

#include "logic/passwords.hpp"

namespace monochat::logic {

namespace {

// The server makes its ids as node 1 (app/application.cpp); seeded ones come from another
// node, so that they can never collide with ids the server makes later, whatever the clocks.
constexpr std::uint32_t seed_node = 2;

}  // namespace

result<seed_outcome> seed_accounts(const seed_request& request, const infra::clock& clock) {
    if (request.users == 0) {
        return make_error(errc::invalid_argument, "seeding needs at least one user");
    }
    if (request.group_members > request.users || request.tokens > request.users) {
        return make_error(errc::invalid_argument,
                          "seeding: more group members or tokens than users");
    }
    // The longest name decides whether every name is valid (they differ only in the number).
    for (const auto& name : {fmt::format("{}0", request.username_prefix),
                             fmt::format("{}{}", request.username_prefix, request.users - 1)}) {
        if (auto st = validate_username(name); !st) {
            return make_error(errc::invalid_argument,
                              fmt::format("seeding: username {}: {}", name, st.error().message));
        }
    }
    if (auto st = validate_password(request.password); !st) {
        return st.error();
    }
    auto hash = hash_password(request.password,
                              {request.argon2_ops, request.argon2_memory_kib * 1024});
    if (!hash) {
        return hash.error();
    }
    const std::int64_t now = clock.now_ms();
    infra::id_generator ids(clock, seed_node);
    storage::seed_options o;
    o.path = request.db_path;
    o.username_prefix = request.username_prefix;
    o.users = request.users;
    o.password_hash = std::move(*hash);
    o.group_members = request.group_members;
    o.group_name = request.group_name;
    o.group_public = request.group_public;
    o.now_ms = now;
    o.token_expires_ms = now + request.token_ttl_s * 1000;
    o.next_id = [&ids] { return ids.next(); };
    o.synchronous_full = request.synchronous_full;
    std::vector<std::string> tokens;
    tokens.reserve(request.tokens);
    o.token_hashes.reserve(request.tokens);
    for (std::uint64_t i = 0; i < request.tokens; ++i) {
        tokens.push_back(new_token());
        o.token_hashes.push_back(hash_token(tokens.back()));
    }
    auto seeded = storage::seed_social_store(o);
    if (!seeded) {
        return seeded.error();
    }
    seed_outcome out;
    out.group_id = seeded->group_id;
    out.users.reserve(seeded->user_ids.size());
    for (std::size_t i = 0; i < seeded->user_ids.size(); ++i) {
        out.users.push_back({seeded->user_ids[i], fmt::format("{}{}", request.username_prefix, i),
                             i < tokens.size() ? std::move(tokens[i]) : std::string()});
    }
    return out;
}

}  // namespace monochat::logic
