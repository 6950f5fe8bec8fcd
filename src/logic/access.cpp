#include <monochat/logic/access.hpp>

#include <algorithm>
#include <charconv>

namespace monochat::logic {

result<std::uint64_t> parse_id(std::string_view text, std::string_view what) {
    std::uint64_t v = 0;
    const bool digits_only =
        !text.empty() && text.size() <= 20 &&
        text.find_first_not_of("0123456789") == std::string_view::npos &&
        !(text.size() > 1 && text[0] == '0');
    if (!digits_only) {
        return make_error(errc::invalid_argument,
                          std::string(what) + " must be a decimal id string");
    }
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size()) {
        return make_error(errc::invalid_argument, std::string(what) + " is out of range");
    }
    return v;
}

result<conversation_ref> parse_conversation_id(std::string_view id) {
    conversation_ref ref;
    if (id == world_conversation_id) {
        ref.kind = conversation_kind::world;
        ref.id = std::string(id);
        return ref;
    }
    const auto bad = [&] {
        return make_error(errc::invalid_argument,
                          "conversation_id must be world, dm:<low>:<high> or group:<group_id>");
    };
    if (id.rfind("group:", 0) == 0) {
        auto gid = parse_id(id.substr(6), "group id");
        if (!gid || *gid == 0) {
            return bad();
        }
        ref.kind = conversation_kind::group;
        ref.group_id = *gid;
        ref.id = std::string(id);
        return ref;
    }
    if (id.rfind("dm:", 0) == 0) {
        const auto rest = id.substr(3);
        const auto colon = rest.find(':');
        if (colon == std::string_view::npos) {
            return bad();
        }
        auto low = parse_id(rest.substr(0, colon), "user id");
        auto high = parse_id(rest.substr(colon + 1), "user id");
        if (!low || !high || *low == 0 || *low >= *high) {
            return bad();
        }
        ref.kind = conversation_kind::direct;
        ref.low = *low;
        ref.high = *high;
        ref.id = std::string(id);
        return ref;
    }
    return bad();
}

}  // namespace monochat::logic

#include <monochat/infra/clock.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/logic/moderation.hpp>
#include <monochat/logic/validation.hpp>
#include <monochat/storage/social_stores.hpp>
#include <monochat/storage/group_store.hpp>
#include <monochat/storage/relation_store.hpp>
#include <monochat/storage/user_store.hpp>

namespace monochat::logic {

namespace {

// The rules of the table in access.hpp, once for both ways of learning the facts (the caches'
// snapshots in try_can_send, the store's awaitable calls in check).
status group_rule(const identity& who, bool member) {
    if (who.guest || !member) {
        return make_error(errc::forbidden, "only members of the group may do this");
    }
    return {};
}

status direct_rule(const identity& who, const conversation_ref& c, bool low_guest, bool high_guest) {
    const bool participant = who.user_id == c.low || who.user_id == c.high;
    if (who.guest || !participant || low_guest || high_guest) {
        return make_error(errc::forbidden, "this direct conversation is not yours");
    }
    return {};
}

status friendship_rule(bool friends) {
    if (!friends) {
        return make_error(errc::forbidden, "direct messages need friendship");
    }
    return {};
}

}  // namespace

boost::asio::awaitable<status> access_control::can_read(const identity& who,
                                                        const conversation_ref& c) {
    co_return co_await check(who, c, false);
}

boost::asio::awaitable<status> access_control::can_send(const identity& who,
                                                        const conversation_ref& c) {
    co_return co_await check(who, c, true);
}

status access_control::moderation_rule(const identity& who, const conversation_ref& c) const {
    if (moderation_ == nullptr) {
        return {};
    }
    switch (c.kind) {
        case conversation_kind::world:
            if (moderation_->muted_in_world(who.user_id, clock_->now_ms())) {
                return make_error(errc::forbidden, "you are muted in world");
            }
            return {};
        case conversation_kind::direct: {
            const auto peer = who.user_id == c.low ? c.high : c.low;
            if (moderation_->blocks(peer, who.user_id)) {
                // The same answer as any other closed direct chat: nothing says why.
                return make_error(errc::forbidden, "you cannot send to this direct conversation");
            }
            return {};
        }
        case conversation_kind::group:
            if (moderation_->muted_in_group(c.group_id, who.user_id, clock_->now_ms())) {
                return make_error(errc::forbidden, "you are muted in this group");
            }
            return {};
    }
    return {};
}

boost::asio::awaitable<world_slot> access_control::take_world_slot(const identity& who) {
    world_slot out;
    const auto cfg = live_.get();
    const std::int64_t window_ms = cfg->policy.world_slow_mode_s * 1000;
    if (moderation_ == nullptr || window_ms <= 0) {
        co_return out;
    }
    const auto wait_ms =
        moderation_->take_world_slot(who.user_id, clock_->now_ms(), window_ms, out.previous);
    if (wait_ms == 0) {
        out.taken = true;
        co_return out;
    }
    if (!who.guest && !cfg->auth.admins.empty()) {
        auto user = co_await user_store_.get_user(who.user_id);
        if (user && named_admin(cfg->auth.admins, user->username)) {
            co_return out;  // exempt, and not counted
        }
    }
    out.wait_s = static_cast<int>((wait_ms + 999) / 1000);
    co_return out;
}

void access_control::give_back_world_slot(const identity& who, const world_slot& slot) {
    if (moderation_ != nullptr && slot.taken) {
        moderation_->give_back_world_slot(who.user_id, slot.previous);
    }
}

std::optional<status> access_control::try_can_send(const identity& who,
                                                   const conversation_ref& c) const {
    if (auto st = moderation_rule(who, c); !st) {
        return st;
    }
    switch (c.kind) {
        case conversation_kind::world: return status{};
        case conversation_kind::group: {
            if (members_ == nullptr) {
                return std::nullopt;
            }
            const auto ids = members_->cached_member_ids(c.group_id);
            if (!ids) {
                return std::nullopt;
            }
            return group_rule(who, std::binary_search(ids->begin(), ids->end(), who.user_id));
        }
        case conversation_kind::direct: {
            if (users_ == nullptr) {
                return std::nullopt;
            }
            const auto low_guest = users_->cached_guest(c.low);
            const auto high_guest = users_->cached_guest(c.high);
            if (!low_guest || !high_guest) {
                return std::nullopt;  // not cached, or no such user: the store says which
            }
            if (auto ok = direct_rule(who, c, *low_guest, *high_guest); !ok) {
                return ok;
            }
            if (!live_.get()->policy.dm_requires_friendship) {
                return status{};
            }
            const auto friends = users_->cached_friendship(c.low, c.high);
            if (!friends) {
                return std::nullopt;
            }
            return friendship_rule(*friends);
        }
    }
    return std::nullopt;
}

boost::asio::awaitable<status> access_control::check(const identity& who, const conversation_ref& c,
                                                     bool send) {
    if (send) {
        if (auto st = moderation_rule(who, c); !st) {
            co_return st;
        }
    }
    if (c.kind == conversation_kind::world) {
        co_return status{};
    }
    switch (c.kind) {
        case conversation_kind::group: {
            auto role = co_await group_store_.member_role_of(c.group_id, who.user_id);
            if (!role) {
                co_return role.error();  // not_found: no such group
            }
            co_return group_rule(who, role->has_value());
        }
        case conversation_kind::direct: {
            // The conversation exists when both users do; outsiders learn only that much.
            // (A braced list as a coroutine call argument trips GCC 12: name the vector.)
            std::vector<std::uint64_t> pair{c.low, c.high};
            auto users = co_await user_store_.get_users(std::move(pair));
            if (!users) {
                co_return users.error();
            }
            if (users->size() != 2) {
                co_return make_error(errc::not_found, "no such user in this conversation");
            }
            if (auto ok = direct_rule(who, c, (*users)[0].guest, (*users)[1].guest); !ok) {
                co_return ok;
            }
            if (!send || !live_.get()->policy.dm_requires_friendship) {
                co_return status{};
            }
            auto friends = co_await relation_store_.are_friends(c.low, c.high);
            if (!friends) {
                co_return friends.error();
            }
            co_return friendship_rule(*friends);
        }
        case conversation_kind::world: break;
    }
    co_return status{};
}

}  // namespace monochat::logic
