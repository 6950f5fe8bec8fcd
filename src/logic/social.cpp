#include <monochat/logic/social.hpp>

#include <algorithm>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/ids.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/logic/moderation.hpp>
#include <monochat/logic/presence.hpp>
#include <monochat/logic/validation.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/admin_store.hpp>
#include <monochat/storage/group_store.hpp>
#include <monochat/storage/relation_store.hpp>
#include <monochat/storage/user_store.hpp>

#include <cmath>
#include <monochat/logic/tokens.hpp>

#include "logic/convert.hpp"
#include "logic/events.hpp"
#include "logic/token_buckets.hpp"
#include "logic/wire_json.hpp"

namespace monochat::logic {

namespace {

using storage::member_role;
using wire::json;

// The longest timed mute: ten years (a longer one is "until lifted").
constexpr std::int64_t max_mute_s = 10LL * 365 * 24 * 3600;

// Group invite codes: 128 random bits as 32 hex digits, so that trying codes (also limited by
// limits.group_join_rate) finds none.
constexpr std::size_t group_invite_code_chars = 32;

group_invite_info to_invite_info(const storage::group_invite_record& r) {
    return {r.code, r.group_id, r.uses_left, r.expires_ms, r.created_by, r.created_ms};
}

error guests_only_world() { return make_error(errc::forbidden, "guests may only use world"); }

std::string event_frame(std::string_view event, json fields) {
    json frame = {{"type", "event"}, {"event", event}};
    frame.update(fields);
    return wire::dump(frame);
}

json id_array(const std::vector<std::uint64_t>& ids) {
    json out = json::array();
    for (const auto id : ids) {
        out.push_back(std::to_string(id));
    }
    return out;
}

class social_impl final : public social {
public:
    social_impl(const dependencies& deps, conversation_cleanup* cleanup)
        : deps_(deps),
          cleanup_(cleanup),
          events_(deps.bus, deps.groups, deps.config, deps.metrics, deps.group_sink, deps.members),
          join_attempts_(deps.clock) {}

    // ---- friends ----

    task<friend_request_outcome> send_friend_request(identity who, std::uint64_t to_user_id,
                                                     std::string note) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (auto st = validate_note(note); !st) {
            co_return st.error();
        }
        if (to_user_id == who.user_id) {
            co_return make_error(errc::invalid_argument, "cannot send a friend request to oneself");
        }
        auto sent = co_await deps_.relations.send_friend_request(
            deps_.ids.next(), who.user_id, to_user_id, std::move(note), deps_.clock.now_ms());
        if (!sent) {
            co_return sent.error();
        }
        friend_request_outcome out{to_info(sent->request), sent->accepted_existing};
        if (sent->accepted_existing) {
            co_await announce_friends(sent->request.from_user_id, sent->request.to_user_id);
        } else {
            events_.to_users(std::to_string(to_user_id), {to_user_id},
                             event_frame("friend_request", {{"request", wire::object(out.request)}}));
        }
        co_return out;
    }

    task<friend_request_lists> list_friend_requests(identity who) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto lists = co_await deps_.relations.list_friend_requests(who.user_id);
        if (!lists) {
            co_return lists.error();
        }
        friend_request_lists out;
        for (const auto& r : lists->incoming) {
            out.incoming.push_back(to_info(r));
        }
        for (const auto& r : lists->outgoing) {
            out.outgoing.push_back(to_info(r));
        }
        co_return out;
    }

    task<friend_request_info> accept_friend_request(identity who,
                                                    std::uint64_t request_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto r = co_await deps_.relations.accept_friend_request(request_id, who.user_id,
                                                            deps_.clock.now_ms());
        if (!r) {
            co_return r.error();
        }
        co_await announce_friends(r->from_user_id, r->to_user_id);
        co_return to_info(*r);
    }

    task<friend_request_info> reject_friend_request(identity who,
                                                    std::uint64_t request_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto r = co_await deps_.relations.reject_friend_request(request_id, who.user_id,
                                                            deps_.clock.now_ms());
        if (!r) {
            co_return r.error();
        }
        co_return to_info(*r);
    }

    task<std::vector<user_info>> list_friends(identity who) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto friends = co_await deps_.relations.list_friends(who.user_id);
        if (!friends) {
            co_return friends.error();
        }
        std::vector<user_info> out;
        out.reserve(friends->size());
        for (const auto& u : *friends) {
            out.push_back(to_info(u, deps_.presence));
        }
        co_return out;
    }

    task<void> remove_friend(identity who, std::uint64_t user_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto st = co_await deps_.relations.remove_friend(who.user_id, user_id);
        if (!st) {
            if (st.error().code == errc::not_found) {
                co_return make_error(errc::not_found, "not friends with that user");
            }
            co_return st.error();
        }
        co_return status{};
    }

    // ---- blocks ----

    task<void> block_user(identity who, std::uint64_t user_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto st = co_await deps_.relations.block_user(who.user_id, user_id, deps_.clock.now_ms());
        if (st && deps_.moderation != nullptr) {
            deps_.moderation->block(who.user_id, user_id);
        }
        co_return st;
    }

    task<void> unblock_user(identity who, std::uint64_t user_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto st = co_await deps_.relations.unblock_user(who.user_id, user_id);
        if (st && deps_.moderation != nullptr) {
            deps_.moderation->unblock(who.user_id, user_id);
        }
        co_return st;
    }

    task<std::vector<user_info>> blocked_users(identity who) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto users = co_await deps_.relations.blocked_users(who.user_id);
        if (!users) {
            co_return users.error();
        }
        std::vector<user_info> out;
        out.reserve(users->size());
        for (const auto& u : *users) {
            out.push_back(to_info(u, deps_.presence));
        }
        co_return out;
    }

    // ---- world moderation ----

    task<void> mute_in_world(std::uint64_t user_id, std::int64_t duration_s) override {
        auto until = mute_end(duration_s);
        if (!until) {
            co_return until.error();
        }
        auto st = co_await deps_.admin.set_world_mute(user_id, *until, deps_.clock.now_ms());
        if (!st) {
            co_return st.error();
        }
        if (deps_.moderation != nullptr) {
            deps_.moderation->mute_in_world(user_id, *until);
        }
        infra::log::info("logic", "muted in world", {{"user_id", user_id}, {"until", *until}});
        co_return status{};
    }

    task<void> unmute_in_world(std::uint64_t user_id) override {
        auto st = co_await deps_.admin.lift_world_mute(user_id);
        if (!st) {
            co_return st.error();
        }
        if (deps_.moderation != nullptr) {
            deps_.moderation->unmute_in_world(user_id);
        }
        co_return status{};
    }

    task<std::vector<std::pair<std::uint64_t, std::int64_t>>> world_mutes() override {
        if (deps_.moderation != nullptr) {
            co_return deps_.moderation->world_mutes(deps_.clock.now_ms());
        }
        auto rows = co_await deps_.admin.world_mutes();
        if (!rows) {
            co_return rows.error();
        }
        std::vector<std::pair<std::uint64_t, std::int64_t>> out;
        const auto now = deps_.clock.now_ms();
        for (const auto& m : *rows) {
            if (m.until_ms == 0 || m.until_ms > now) {
                out.emplace_back(m.user_id, m.until_ms);
            }
        }
        co_return out;
    }

    // ---- groups ----

    task<group_info> create_group(identity who, std::string name,
                                  std::vector<std::uint64_t> member_ids, bool is_public) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (auto st = validate_group_name(name); !st) {
            co_return st.error();
        }
        const auto cfg = deps_.config.get();
        std::sort(member_ids.begin(), member_ids.end());
        member_ids.erase(std::unique(member_ids.begin(), member_ids.end()), member_ids.end());
        std::erase(member_ids, who.user_id);
        if (auto st = co_await only_friends(who.user_id, member_ids); !st) {
            co_return st.error();
        }
        if (auto st = co_await not_blocked_by(who.user_id, member_ids); !st) {
            co_return st.error();
        }
        auto g = co_await deps_.groups.create_group(
            deps_.ids.next(), std::move(name), who.user_id, is_public, member_ids,
            deps_.clock.now_ms(), static_cast<std::uint64_t>(cfg->limits.max_group_members));
        if (!g) {
            co_return g.error();
        }
        const group_info out = to_info(*g);
        if (!member_ids.empty()) {
            co_await events_.to_group(out.group_id, member_joined(out.group_id, member_ids));
        }
        co_return out;
    }

    task<group_info> get_group(identity who, std::uint64_t group_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto g = co_await visible_group(who, group_id);
        if (!g) {
            co_return g.error();
        }
        co_return to_info(*g);
    }

    task<member_list> list_members(identity who, std::uint64_t group_id,
                                   std::uint64_t after_user_id, std::size_t limit) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (auto g = co_await visible_group(who, group_id); !g) {
            co_return g.error();
        }
        auto page = co_await deps_.groups.list_members(group_id, after_user_id, limit);
        if (!page) {
            co_return no_such_group(page.error());
        }
        member_list out;
        out.members.reserve(page->members.size());
        for (const auto& m : page->members) {
            out.members.push_back({m.user_id, std::string(storage::to_string(m.role))});
        }
        out.next = page->next;
        co_return out;
    }

    task<group_info> add_members(identity who, std::uint64_t group_id,
                                 std::vector<std::uint64_t> user_ids) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto role = co_await role_of(group_id, who.user_id);
        if (!role) {
            co_return role.error();
        }
        if (*role != member_role::owner && *role != member_role::admin) {
            co_return make_error(errc::forbidden, "only the owner or an admin may add members");
        }
        std::sort(user_ids.begin(), user_ids.end());
        user_ids.erase(std::unique(user_ids.begin(), user_ids.end()), user_ids.end());
        {
            // Members already in the group are skipped, friends or not (the caller is one).
            std::vector<std::uint64_t> newcomers;
            for (const auto id : user_ids) {
                auto r = co_await deps_.groups.member_role_of(group_id, id);
                if (!r) {
                    co_return no_such_group(r.error());
                }
                if (!r->has_value()) {
                    newcomers.push_back(id);
                }
            }
            if (auto st = co_await only_friends(who.user_id, std::move(newcomers)); !st) {
                co_return st.error();
            }
        }
        if (auto st = co_await not_blocked_by(who.user_id, user_ids); !st) {
            co_return st.error();
        }
        const auto cfg = deps_.config.get();
        auto added = co_await deps_.groups.add_members(
            group_id, std::move(user_ids), deps_.clock.now_ms(),
            static_cast<std::uint64_t>(cfg->limits.max_group_members));
        if (!added) {
            co_return no_such_group(added.error());
        }
        if (!added->user_ids.empty()) {
            co_await events_.to_group(group_id, member_joined(group_id, added->user_ids));
        }
        co_return to_info(added->group);
    }

    task<void> remove_member(identity who, std::uint64_t group_id,
                             std::uint64_t user_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (user_id == who.user_id) {
            auto role = co_await role_of(group_id, who.user_id, "not a member of this group");
            if (!role) {
                co_return role.error();
            }
            if (*role == member_role::owner) {
                co_return owner_cannot_leave();
            }
        } else {
            auto role = co_await role_of(group_id, who.user_id);
            if (!role) {
                co_return role.error();
            }
            if (*role != member_role::owner && *role != member_role::admin) {
                co_return make_error(errc::forbidden,
                                     "only the owner or an admin may remove other members");
            }
            auto target = co_await role_of(group_id, user_id, "that user is not a member");
            if (!target) {
                co_return target.error();
            }
            if (*target == member_role::owner) {
                co_return make_error(errc::forbidden, "the owner cannot be removed");
            }
        }
        auto g = co_await deps_.groups.remove_member(group_id, user_id);
        if (!g) {
            if (g.error().code == errc::conflict) {
                co_return owner_cannot_leave();
            }
            co_return g.error();
        }
        co_await events_.to_group(group_id, member_left(group_id, user_id), user_id);
        co_return status{};
    }

    task<group_info> update_group(identity who, std::uint64_t group_id,
                                  std::optional<std::string> name,
                                  std::optional<std::string> description,
                                  std::optional<bool> is_public) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (name) {
            if (auto st = validate_group_name(*name); !st) {
                co_return st.error();
            }
        }
        if (description) {
            if (auto st = validate_group_description(*description); !st) {
                co_return st.error();
            }
        }
        auto role = co_await role_of(group_id, who.user_id);
        if (!role) {
            co_return role.error();
        }
        if (*role != member_role::owner && *role != member_role::admin) {
            co_return make_error(errc::forbidden, "only the owner or an admin may change the group");
        }
        auto g = co_await deps_.groups.update_group(group_id, std::move(name), std::move(description),
                                                   is_public);
        if (!g) {
            co_return no_such_group(g.error());
        }
        const group_info out = to_info(*g);
        // Named first: a braced list inside a coroutine call's arguments trips GCC 12.
        std::string frame = event_frame("group_updated", {{"group", wire::object(out)}});
        co_await events_.to_group(group_id, std::move(frame));
        co_return out;
    }

    task<void> delete_group(identity who, std::uint64_t group_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto role = co_await role_of(group_id, who.user_id);
        if (!role) {
            co_return role.error();
        }
        if (*role != member_role::owner) {
            co_return make_error(errc::forbidden, "only the owner may delete the group");
        }
        auto gone = co_await deps_.groups.delete_group(group_id, who.user_id, deps_.clock.now_ms());
        if (!gone) {
            co_return no_such_group(gone.error());
        }
        if (deps_.moderation != nullptr) {
            deps_.moderation->forget_group(group_id);
        }
        infra::log::info("logic", "group deleted",
                         {{"group_id", group_id},
                          {"by", who.user_id},
                          {"members", gone->member_ids.size()}});
        std::string frame = event_frame("group_deleted", group_fields(group_id));
        events_.to_members(group_id, std::move(gone->member_ids), std::move(frame));
        if (auto st = co_await finish_delete(group_id); !st) {
            infra::log::warn("logic", "deleted group not cleaned up yet; the next start finishes it",
                             {{"group_id", group_id}, {"error", st.error().message}});
        }
        co_return status{};
    }

    task<std::size_t> finish_deleted_groups() override {
        auto ids = co_await deps_.groups.deleted_groups();
        if (!ids) {
            co_return ids.error();
        }
        std::size_t finished = 0;
        for (const auto group_id : *ids) {
            if (auto st = co_await finish_delete(group_id); !st) {
                co_return st.error();
            }
            ++finished;
        }
        if (finished > 0) {
            infra::log::info("logic", "finished deleting groups", {{"groups", finished}});
        }
        co_return finished;
    }

    task<group_info> set_member_role(identity who, std::uint64_t group_id, std::uint64_t user_id,
                                     std::string role_text) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        const auto wanted = storage::parse_member_role(role_text);
        if (!wanted) {
            co_return make_error(errc::invalid_argument, "role must be owner, admin or member");
        }
        auto mine = co_await role_of(group_id, who.user_id);
        if (!mine) {
            co_return mine.error();
        }
        if (*mine != member_role::owner) {
            co_return make_error(errc::forbidden, "only the owner may change roles");
        }
        auto current = co_await role_of(group_id, user_id, "that user is not a member");
        if (!current) {
            co_return current.error();
        }
        if (user_id == who.user_id && *wanted != member_role::owner) {
            co_return make_error(errc::conflict,
                                 "the owner cannot step down; give ownership to another member");
        }
        if (*current == *wanted) {
            auto g = co_await deps_.groups.get_group(group_id);
            if (!g) {
                co_return g.error();
            }
            co_return to_info(*g);  // nothing changes, nothing to announce
        }
        auto g = co_await deps_.groups.set_member_role(group_id, user_id, *wanted);
        if (!g) {
            co_return g.error();
        }
        const group_info out = to_info(*g);
        co_await events_.to_group(group_id, group_updated(out, user_id, role_text));
        co_return out;
    }

    task<group_directory> public_groups(identity who, std::string query,
                                        std::uint64_t after_group_id,
                                        std::size_t limit) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        const auto max_bytes = deps_.config.get()->limits.max_group_query_bytes;
        if (query.size() > static_cast<std::size_t>(max_bytes)) {
            co_return make_error(errc::invalid_argument,
                                 "q is longer than " + std::to_string(max_bytes) + " bytes");
        }
        auto page = co_await deps_.groups.public_groups(std::move(query), after_group_id, limit);
        if (!page) {
            co_return page.error();
        }
        group_directory out;
        out.groups.reserve(page->groups.size());
        for (const auto& g : page->groups) {
            out.groups.push_back(to_info(g));
        }
        out.next = page->next;
        co_return out;
    }

    task<group_info> join_group(identity who, std::uint64_t group_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto g = co_await deps_.groups.get_group(group_id);
        if (!g) {
            co_return no_such_group(g.error());
        }
        auto role = co_await deps_.groups.member_role_of(group_id, who.user_id);
        if (!role) {
            co_return no_such_group(role.error());
        }
        if (role->has_value()) {
            co_return to_info(*g);  // already a member: a no-op
        }
        if (!g->is_public) {
            co_return make_error(errc::forbidden, "the group is private");
        }
        const auto cfg = deps_.config.get();
        auto joined = co_await deps_.groups.join_group(
            group_id, who.user_id, deps_.clock.now_ms(),
            static_cast<std::uint64_t>(cfg->limits.max_group_members));
        if (!joined) {
            co_return no_such_group(joined.error());
        }
        if (!joined->user_ids.empty()) {
            co_await events_.to_group(group_id, member_joined(group_id, joined->user_ids));
        }
        co_return to_info(joined->group);
    }

    // ---- group moderation ----

    task<void> mute_member(identity who, std::uint64_t group_id, std::uint64_t user_id,
                           std::int64_t duration_s) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        auto until = mute_end(duration_s);
        if (!until) {
            co_return until.error();
        }
        if (user_id == who.user_id) {
            co_return make_error(errc::invalid_argument, "cannot mute oneself");
        }
        if (auto st = co_await require_moderator(group_id, who.user_id); !st) {
            co_return st.error();
        }
        auto target = co_await role_of(group_id, user_id, "that user is not a member");
        if (!target) {
            co_return target.error();
        }
        if (*target == member_role::owner) {
            co_return make_error(errc::forbidden, "the owner cannot be muted");
        }
        auto st = co_await deps_.groups.set_group_mute(group_id, user_id, *until,
                                                      deps_.clock.now_ms());
        if (!st) {
            co_return no_such_group(st.error());
        }
        if (deps_.moderation != nullptr) {
            deps_.moderation->mute_in_group(group_id, user_id, *until);
        }
        json fields = group_fields(group_id);
        fields["user_id"] = std::to_string(user_id);
        fields["until"] = *until == 0 ? json(nullptr) : json(*until);
        events_.to_users(std::to_string(user_id), {user_id},
                         event_frame("member_muted", std::move(fields)));
        co_return status{};
    }

    task<void> unmute_member(identity who, std::uint64_t group_id,
                             std::uint64_t user_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (auto st = co_await require_moderator(group_id, who.user_id); !st) {
            co_return st.error();
        }
        auto st = co_await deps_.groups.lift_group_mute(group_id, user_id);
        if (!st) {
            co_return st.error();
        }
        if (deps_.moderation != nullptr) {
            deps_.moderation->unmute_in_group(group_id, user_id);
        }
        json fields = group_fields(group_id);
        fields["user_id"] = std::to_string(user_id);
        events_.to_users(std::to_string(user_id), {user_id},
                         event_frame("member_unmuted", std::move(fields)));
        co_return status{};
    }

    task<std::vector<std::pair<std::uint64_t, std::int64_t>>> group_mutes(
        identity who, std::uint64_t group_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (auto st = co_await require_moderator(group_id, who.user_id); !st) {
            co_return st.error();
        }
        const auto now = deps_.clock.now_ms();
        if (deps_.moderation != nullptr) {
            co_return deps_.moderation->group_mutes(group_id, now);
        }
        auto rows = co_await deps_.groups.group_mutes();
        if (!rows) {
            co_return rows.error();
        }
        std::vector<std::pair<std::uint64_t, std::int64_t>> out;
        for (const auto& m : *rows) {
            if (m.group_id == group_id && (m.until_ms == 0 || m.until_ms > now)) {
                out.emplace_back(m.user_id, m.until_ms);
            }
        }
        co_return out;
    }

    task<void> ban_user(identity who, std::uint64_t group_id, std::uint64_t user_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (user_id == who.user_id) {
            co_return make_error(errc::invalid_argument, "cannot ban oneself");
        }
        if (auto st = co_await require_moderator(group_id, who.user_id); !st) {
            co_return st.error();
        }
        auto banned =
            co_await deps_.groups.ban_member(group_id, user_id, who.user_id, deps_.clock.now_ms());
        if (!banned) {
            if (banned.error().code == errc::conflict) {
                co_return make_error(errc::forbidden, "the owner cannot be banned");
            }
            co_return no_such_group(banned.error());
        }
        infra::log::info("logic", "banned from group",
                         {{"group_id", group_id}, {"user_id", user_id}, {"by", who.user_id}});
        if (banned->was_member) {
            co_await events_.to_group(group_id, member_left(group_id, user_id), user_id);
        }
        co_return status{};
    }

    task<void> unban_user(identity who, std::uint64_t group_id, std::uint64_t user_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (auto st = co_await require_moderator(group_id, who.user_id); !st) {
            co_return st.error();
        }
        co_return co_await deps_.groups.unban_member(group_id, user_id);
    }

    task<std::vector<group_ban_info>> group_bans(identity who, std::uint64_t group_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (auto st = co_await require_moderator(group_id, who.user_id); !st) {
            co_return st.error();
        }
        auto rows = co_await deps_.groups.group_bans(group_id);
        if (!rows) {
            co_return no_such_group(rows.error());
        }
        std::vector<group_ban_info> out;
        out.reserve(rows->size());
        for (const auto& b : *rows) {
            out.push_back({b.user_id, b.banned_by, b.created_ms});
        }
        co_return out;
    }

    // ---- invite links ----

    task<group_invite_info> create_group_invite(identity who, std::uint64_t group_id,
                                                std::optional<std::int64_t> uses,
                                                std::optional<std::int64_t> expires_in_s) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        const auto cfg = deps_.config.get();
        const std::int64_t n = uses.value_or(1);
        if (n < 1 || n > cfg->limits.max_group_invite_uses) {
            co_return make_error(errc::invalid_argument,
                                 "uses must be 1 to limits.max_group_invite_uses (" +
                                     std::to_string(cfg->limits.max_group_invite_uses) + ")");
        }
        const std::int64_t ttl = expires_in_s.value_or(cfg->limits.max_group_invite_ttl_s);
        if (ttl < 1 || ttl > cfg->limits.max_group_invite_ttl_s) {
            co_return make_error(errc::invalid_argument,
                                 "expires_in_s must be 1 to limits.max_group_invite_ttl_s (" +
                                     std::to_string(cfg->limits.max_group_invite_ttl_s) + ")");
        }
        if (auto st = co_await require_moderator(group_id, who.user_id); !st) {
            co_return st.error();
        }
        const auto now = deps_.clock.now_ms();
        storage::group_invite_record rec;
        rec.code = new_token().substr(0, group_invite_code_chars);
        rec.group_id = group_id;
        rec.uses_left = static_cast<std::uint64_t>(n);
        rec.expires_ms = now + ttl * 1000;
        rec.created_by = who.user_id;
        rec.created_ms = now;
        auto made = co_await deps_.groups.create_group_invite(
            std::move(rec), now, static_cast<std::uint64_t>(cfg->limits.max_group_invites));
        if (!made) {
            co_return no_such_group(made.error());
        }
        co_return to_invite_info(*made);
    }

    task<std::vector<group_invite_info>> group_invites(identity who,
                                                       std::uint64_t group_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (auto st = co_await require_moderator(group_id, who.user_id); !st) {
            co_return st.error();
        }
        auto rows = co_await deps_.groups.group_invites(group_id, deps_.clock.now_ms());
        if (!rows) {
            co_return no_such_group(rows.error());
        }
        std::vector<group_invite_info> out;
        out.reserve(rows->size());
        for (const auto& r : *rows) {
            out.push_back(to_invite_info(r));
        }
        co_return out;
    }

    task<void> revoke_group_invite(identity who, std::uint64_t group_id,
                                   std::string code) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (auto st = co_await require_moderator(group_id, who.user_id); !st) {
            co_return st.error();
        }
        co_return co_await deps_.groups.delete_group_invite(group_id, std::move(code));
    }

    task<group_info> join_by_invite(identity who, std::string code) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        const auto cfg = deps_.config.get();
        // Every attempt counts, a good code too: what is limited is trying codes.
        const double per_minute = static_cast<double>(cfg->limits.group_join_rate);
        const double wait = join_attempts_.take(who.user_id, per_minute / 60.0, per_minute);
        if (wait > 0) {
            error e = make_error(errc::rate_limited, "too many attempts to join by invite");
            e.retry_after_s = static_cast<int>(std::ceil(wait));
            co_return e;
        }
        const auto now = deps_.clock.now_ms();
        auto invite = co_await deps_.groups.find_group_invite(code, now);
        if (!invite) {
            co_return invite.error();
        }
        const std::uint64_t group_id = invite->group_id;
        auto joined = co_await deps_.groups.join_by_invite(
            group_id, std::move(code), who.user_id, now,
            static_cast<std::uint64_t>(cfg->limits.max_group_members));
        if (!joined) {
            co_return joined.error();
        }
        if (!joined->user_ids.empty()) {
            co_await events_.to_group(group_id, member_joined(group_id, joined->user_ids));
        }
        co_return to_info(joined->group);
    }

private:
    // Everything of a deleted group outside the social store: the log's conversation (its
    // drop is ordered with sends on the log's writer), then the cleanup, then the tombstone.
    task<void> finish_delete(std::uint64_t group_id) {
        std::string conversation_id = group_conversation_id(group_id);
        if (auto st = co_await deps_.log.drop_conversation(conversation_id); !st) {
            co_return st.error();
        }
        if (cleanup_ != nullptr) {
            if (auto st = co_await cleanup_->conversation_dropped(std::move(conversation_id)); !st) {
                co_return st.error();
            }
        }
        co_return co_await deps_.groups.forget_deleted_group(group_id);
    }

    // The caller is the group's owner or an admin: forbidden otherwise (not_found: no group).
    task<void> require_moderator(std::uint64_t group_id, std::uint64_t user_id) {
        auto role = co_await role_of(group_id, user_id);
        if (!role) {
            co_return role.error();
        }
        if (*role != member_role::owner && *role != member_role::admin) {
            co_return make_error(errc::forbidden,
                                 "only the owner or an admin may moderate this group");
        }
        co_return status{};
    }

    static json group_fields(std::uint64_t group_id) {
        return json{{"group_id", std::to_string(group_id)},
                    {"conversation_id", group_conversation_id(group_id)}};
    }

    // Contract v1.1, "Adding members": only the caller's friends may be put into a group. Bots
    // are the exception (issue 21): whoever may add members (a group's creator, its owner and
    // admins) may add a bot without befriending it. Unknown users stay not_found.
    task<void> only_friends(std::uint64_t actor, std::vector<std::uint64_t> user_ids) {
        std::vector<std::uint64_t> strangers;
        for (const auto id : user_ids) {
            auto f = co_await deps_.relations.are_friends(actor, id);
            if (!f) {
                co_return f.error();
            }
            if (!*f) {
                strangers.push_back(id);
            }
        }
        if (strangers.empty()) {
            co_return status{};
        }
        auto known = co_await deps_.users.get_users(strangers);
        if (!known) {
            co_return known.error();
        }
        bool only_bots = true;
        for (const auto id : strangers) {
            const auto it = std::find_if(known->begin(), known->end(),
                                         [id](const storage::user_record& u) { return u.id == id; });
            if (it == known->end()) {
                co_return make_error(errc::not_found, "user " + std::to_string(id) + " not found");
            }
            only_bots = only_bots && it->bot;
        }
        if (only_bots) {
            co_return status{};
        }
        co_return make_error(errc::forbidden, "only your friends can be added to a group");
    }

    // When a mute of `duration_s` from now ends (Unix ms); 0 for 0 (until lifted).
    result<std::int64_t> mute_end(std::int64_t duration_s) const {
        if (duration_s < 0 || duration_s > max_mute_s) {
            return make_error(errc::invalid_argument,
                              "duration_s must be 0 (until lifted) to 315360000 (ten years)");
        }
        return duration_s == 0 ? 0 : deps_.clock.now_ms() + duration_s * 1000;
    }

    static error owner_cannot_leave() {
        return make_error(errc::conflict,
                          "the owner cannot leave; pass ownership to another member first");
    }

    // The store's not_found for a missing group, spelled for the client.
    static error no_such_group(error e) {
        if (e.code == errc::not_found && e.message.empty()) {
            e.message = "no such group";
        }
        return e;
    }

    // The caller's role; forbidden (or not_found with `not_member` given) when not a member.
    task<member_role> role_of(std::uint64_t group_id, std::uint64_t user_id,
                                  const char* not_member = nullptr) {
        auto role = co_await deps_.groups.member_role_of(group_id, user_id);
        if (!role) {
            co_return no_such_group(role.error());
        }
        if (!role->has_value()) {
            if (not_member != nullptr) {
                co_return make_error(errc::not_found, not_member);
            }
            co_return make_error(errc::forbidden, "not a member of this group");
        }
        co_return **role;
    }

    // Nobody is put into a group by someone they block (the same answer as any refused add).
    task<void> not_blocked_by(std::uint64_t actor, std::vector<std::uint64_t> user_ids) {
        if (user_ids.empty()) {
            co_return status{};
        }
        auto blockers = co_await deps_.relations.blocked_by(actor, std::move(user_ids));
        if (!blockers) {
            co_return blockers.error();
        }
        if (!blockers->empty()) {
            co_return make_error(errc::forbidden, "a user named cannot be added by you");
        }
        co_return status{};
    }

    // Members see their group; others see it only when it is public.
    task<storage::group_record> visible_group(const identity& who, std::uint64_t group_id) {
        auto g = co_await deps_.groups.get_group(group_id);
        if (!g) {
            co_return no_such_group(g.error());
        }
        if (g->is_public) {
            co_return std::move(*g);
        }
        auto role = co_await deps_.groups.member_role_of(group_id, who.user_id);
        if (!role) {
            co_return no_such_group(role.error());
        }
        if (!role->has_value()) {
            co_return make_error(errc::forbidden, "the group is private");
        }
        co_return std::move(*g);
    }

    static std::string member_joined(std::uint64_t group_id,
                                     const std::vector<std::uint64_t>& user_ids) {
        return event_frame("member_joined", {{"group_id", std::to_string(group_id)},
                                             {"conversation_id", group_conversation_id(group_id)},
                                             {"user_ids", id_array(user_ids)}});
    }

    static std::string member_left(std::uint64_t group_id, std::uint64_t user_id) {
        return event_frame("member_left", {{"group_id", std::to_string(group_id)},
                                           {"conversation_id", group_conversation_id(group_id)},
                                           {"user_id", std::to_string(user_id)}});
    }

    static std::string group_updated(const group_info& g, std::uint64_t user_id,
                                     const std::string& role) {
        return event_frame("group_updated", {{"group", wire::object(g)},
                                             {"user_id", std::to_string(user_id)},
                                             {"role", role}});
    }

    // friend_added to both users, each told about the other.
    boost::asio::awaitable<void> announce_friends(std::uint64_t a, std::uint64_t b) {
        std::vector<std::uint64_t> ids{a, b};
        auto users = co_await deps_.users.get_users(std::move(ids));
        if (!users || users->size() != 2) {
            infra::log::warn("logic", "friend_added not sent: users unreadable",
                             {{"a", a}, {"b", b}});
            co_return;
        }
        for (std::size_t i = 0; i < 2; ++i) {
            const auto& to = (*users)[i];
            const auto& other = (*users)[1 - i];
            events_.to_users(std::to_string(to.id), {to.id},
                             event_frame("friend_added",
                                         {{"user", wire::object(to_info(other, deps_.presence))}}));
        }
    }

    const dependencies deps_;
    conversation_cleanup* cleanup_;
    event_publisher events_;
    token_buckets join_attempts_;  // POST /groups/join per user (limits.group_join_rate)
};

}  // namespace

std::unique_ptr<social> make_social(const dependencies& deps, conversation_cleanup* cleanup) {
    return std::make_unique<social_impl>(deps, cleanup);
}

}  // namespace monochat::logic
