#pragma once
// Who may read and send where (shared/protocol.md, "Conversations and ordering" and "Guests").
//
//   world               every user, guests included
//   dm:<low>:<high>     the two users; sending needs friendship unless
//                       policy.dm_requires_friendship is false; guests never
//   group:<group_id>    the group's current members; guests never
//
// A conversation that does not exist is not_found; one that exists but that the caller may not
// see is forbidden; a malformed id is invalid_argument.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <monochat/infra/result.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace monochat::logic {

// The authenticated caller of an operation.
struct identity {
    std::uint64_t user_id = 0;
    bool guest = false;
    std::string token_hash;       // of the token that authenticated this caller
    std::int64_t expires_ms = 0;  // when that token expires (Unix ms); 0: not known
};

enum class conversation_kind { world, direct, group };

struct conversation_ref {
    conversation_kind kind = conversation_kind::world;
    std::string id;              // canonical spelling
    std::uint64_t group_id = 0;  // group
    std::uint64_t low = 0;       // direct: the two users, low < high
    std::uint64_t high = 0;
};

inline constexpr std::string_view world_conversation_id = "world";

// Parses "world", "dm:<low>:<high>" (low < high, both decimal u64 without leading zeros) or
// "group:<id>". Errors: invalid_argument.
[[nodiscard]] result<conversation_ref> parse_conversation_id(std::string_view id);

// Parses a decimal unsigned 64-bit id as sent on the wire ("7290512345678901248"): digits only,
// no sign, no leading zeros, at most 2^64-1. Errors: invalid_argument naming `what`.
[[nodiscard]] result<std::uint64_t> parse_id(std::string_view text, std::string_view what);

}  // namespace monochat::logic

namespace monochat::infra {
class clock;
class live_config;
}  // namespace monochat::infra
namespace monochat::storage {
class directory_snapshots;
class group_store;
class member_snapshots;
class relation_store;
class user_store;
}  // namespace monochat::storage

namespace monochat::logic {

class moderation_state;

// What slow mode in world answers a send (access_control::world_slot).
struct world_slot {
    int wait_s = 0;             // > 0: refused, retry after this many seconds
    bool taken = false;         // the send was counted: give it back if it does not happen
    std::int64_t previous = 0;  // for moderation_state::give_back_world_slot
};

// The access rules of the table above, answered from the social store; with a moderation
// state, sends also obey it: a user muted in world cannot send there, a member muted in a group
// cannot send there, and a user blocked by the other one cannot send into their direct chat
// (forbidden, whatever dm_requires_friendship).
// Thread-safety: any thread; awaitables resume on the caller's executor.
class access_control {
public:
    // `users` and `members`: the caches' snapshots, for try_can_send; null: it always answers
    // nullopt.
    // `moderation` and `clock` (both or neither): the mutes and blocks sends obey.
    access_control(storage::user_store& user_store, storage::relation_store& relation_store,
                   storage::group_store& group_store, const infra::live_config& live,
                   storage::directory_snapshots* users = nullptr,
                   storage::member_snapshots* members = nullptr,
                   moderation_state* moderation = nullptr, const infra::clock* clock = nullptr)
        : user_store_(user_store),
          relation_store_(relation_store),
          group_store_(group_store),
          live_(live),
          users_(users),
          members_(members),
          moderation_(moderation),
          clock_(clock) {}

    // May `who` read the conversation (history, sync, mark read, online, search)?
    // Errors: not_found, forbidden.
    boost::asio::awaitable<status> can_read(const identity& who, const conversation_ref& c);
    // May `who` send to it? Also needs friendship in direct chats when
    // policy.dm_requires_friendship. Errors: not_found, forbidden.
    boost::asio::awaitable<status> can_send(const identity& who, const conversation_ref& c);
    // can_send answered from what the caches hold, without waiting (the send path's common
    // case); nullopt when something is not cached: ask can_send.
    std::optional<status> try_can_send(const identity& who, const conversation_ref& c) const;
    // Slow mode in world (policy.world_slow_mode_s): may `who` send a new message there now?
    // Counts the send when it may. Admins (auth.admins) are exempt; their names are read only
    // when a send would be refused. Without a moderation state: always yes.
    boost::asio::awaitable<world_slot> take_world_slot(const identity& who);
    // Undoes a counted slot whose send did not happen.
    void give_back_world_slot(const identity& who, const world_slot& slot);

private:
    boost::asio::awaitable<status> check(const identity& who, const conversation_ref& c, bool send);
    // The moderation rules of a send that the membership rules allowed.
    status moderation_rule(const identity& who, const conversation_ref& c) const;

    storage::user_store& user_store_;
    storage::relation_store& relation_store_;
    storage::group_store& group_store_;
    const infra::live_config& live_;
    storage::directory_snapshots* users_;
    storage::member_snapshots* members_;
    moderation_state* moderation_;
    const infra::clock* clock_;
};

}  // namespace monochat::logic
