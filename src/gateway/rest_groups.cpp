// Groups: /groups (creating, and the public directory), /groups/{group_id}, its members, roles
// and joining.

#include <monochat/logic/social.hpp>
#include <monochat/logic/validation.hpp>

#include "gateway/json_util.hpp"
#include "gateway/rest_common.hpp"

namespace monochat::gateway {

namespace {

using json_util::json;
using json_util::object_writer;

std::string group_body(const logic::group_info& g) {
    return rest::wrapped("group", logic::to_json(g));
}

std::string next_json(const std::optional<std::uint64_t>& next) {
    return next ? json_util::quote(std::to_string(*next)) : std::string("null");
}

// An optional `after` query parameter: an id, 0 when absent.
result<std::uint64_t> after_param(const rest::request& r) {
    const auto text = r.query("after");
    if (!text) {
        return std::uint64_t{0};
    }
    return logic::parse_id(*text, "after");
}

struct new_group {
    std::string name;
    std::vector<std::uint64_t> member_ids;
    bool is_public = false;

    static result<new_group> from_json(const json& j) {
        auto name = json_util::required_string(j, "name");
        if (!name) {
            return name.error();
        }
        auto members = json_util::id_array(j, "member_ids", false);
        if (!members) {
            return members.error();
        }
        auto is_public = json_util::optional_bool(j, "public");
        if (!is_public) {
            return is_public.error();
        }
        return new_group{std::move(*name), std::move(*members), is_public->value_or(false)};
    }
};

struct user_ids {
    std::vector<std::uint64_t> ids;

    static result<user_ids> from_json(const json& j) {
        auto ids = json_util::id_array(j, "user_ids", true);
        if (!ids) {
            return ids.error();
        }
        return user_ids{std::move(*ids)};
    }
};

// PATCH /groups/{group_id}: every field optional.
struct group_change {
    std::optional<std::string> name;
    std::optional<std::string> description;
    std::optional<bool> is_public;

    static result<group_change> from_json(const json& j) {
        auto name = json_util::optional_string(j, "name");
        if (!name) {
            return name.error();
        }
        auto description = json_util::optional_string(j, "description");
        if (!description) {
            return description.error();
        }
        auto is_public = json_util::optional_bool(j, "public");
        if (!is_public) {
            return is_public.error();
        }
        return group_change{std::move(*name), std::move(*description), *is_public};
    }
};

struct role_change {
    std::string role;

    static result<role_change> from_json(const json& j) {
        auto role = json_util::required_string(j, "role");
        if (!role) {
            return role.error();
        }
        return role_change{std::move(*role)};
    }
};

// POST /groups/{group_id}/members/{user_id}/mute.
struct member_mute {
    std::int64_t duration_s = 0;

    static result<member_mute> from_json(const json& j) {
        auto duration = json_util::optional_integer(j, "duration_s");
        if (!duration) {
            return duration.error();
        }
        if (!*duration) {
            return make_error(errc::invalid_argument, "duration_s is required (0: until lifted)");
        }
        return member_mute{**duration};
    }
};

// {"mutes": [{"user_id", "until"}]}: until null for a mute until lifted.
std::string mutes_body(const std::vector<std::pair<std::uint64_t, std::int64_t>>& mutes) {
    json list = json::array();
    for (const auto& [user, until] : mutes) {
        list.push_back({{"user_id", std::to_string(user)},
                        {"until", until == 0 ? json(nullptr) : json(until)}});
    }
    return json{{"mutes", std::move(list)}}.dump();
}

// POST /groups/{group_id}/invites: every field optional.
struct new_group_invite {
    static constexpr bool may_be_empty = true;
    std::optional<std::int64_t> uses;
    std::optional<std::int64_t> expires_in_s;

    static result<new_group_invite> from_json(const json& j) {
        auto uses = json_util::optional_integer(j, "uses");
        if (!uses) {
            return uses.error();
        }
        auto expires = json_util::optional_integer(j, "expires_in_s");
        if (!expires) {
            return expires.error();
        }
        return new_group_invite{*uses, *expires};
    }
};

// POST /groups/join.
struct invite_code {
    std::string code;

    static result<invite_code> from_json(const json& j) {
        auto code = json_util::required_string(j, "code");
        if (!code) {
            return code.error();
        }
        if (code->empty()) {
            return make_error(errc::invalid_argument, "code must not be empty");
        }
        return invite_code{std::move(*code)};
    }
};

json invite_json(const logic::group_invite_info& i) {
    return {{"code", i.code},
            {"group_id", std::to_string(i.group_id)},
            {"uses_left", i.uses_left},
            {"expires_at", i.expires_at},
            {"created_by", std::to_string(i.created_by)},
            {"created_at", i.created_at}};
}

// POST /groups/{group_id}/bans.
struct new_ban {
    std::uint64_t user_id = 0;

    static result<new_ban> from_json(const json& j) {
        auto user_id = json_util::required_id(j, "user_id");
        if (!user_id) {
            return user_id.error();
        }
        return new_ban{*user_id};
    }
};

// {"bans": [{"user_id", "banned_by", "banned_at"}]}.
std::string bans_body(const std::vector<logic::group_ban_info>& bans) {
    json list = json::array();
    for (const auto& b : bans) {
        list.push_back({{"user_id", std::to_string(b.user_id)},
                        {"banned_by", std::to_string(b.banned_by)},
                        {"banned_at", b.banned_at}});
    }
    return json{{"bans", std::move(list)}}.dump();
}

}  // namespace

void add_group_routes(rest::endpoints<logic::identity>& api, const rest_services& services) {
    logic::social* const social = &services.social;

    api.add<new_group>(
        http_method::post, "/groups",
        [social](logic::identity who, const rest::request&, new_group b) -> rest::reply {
            co_return rest::answer(co_await social->create_group(std::move(who), std::move(b.name),
                                                                 std::move(b.member_ids),
                                                                 b.is_public),
                                   201, group_body);
        });

    // The directory of public groups (issue 19): GET /groups?public=true&q=&after=&limit=.
    // `public=true` is required, so that a later listing of one's own groups can take the
    // other spelling without changing what this one means.
    api.add(http_method::get, "/groups",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                if (r.query("public") != std::optional<std::string_view>("true")) {
                    co_return make_error(errc::invalid_argument,
                                         "only the public directory is listed: add public=true");
                }
                auto after = after_param(r);
                if (!after) {
                    co_return after.error();
                }
                auto limit = logic::parse_limit(r.query("limit"));
                if (!limit) {
                    co_return limit.error();
                }
                std::string q(r.query("q").value_or(std::string_view()));
                co_return rest::answer(
                    co_await social->public_groups(std::move(who), std::move(q), *after, *limit),
                    200, [](const logic::group_directory& page) {
                        return object_writer()
                            .array("groups", json_items(page.groups))
                            .raw("next", next_json(page.next))
                            .finish();
                    });
            });

    api.add(http_method::get, "/groups/{group_id}",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::answer(
                    co_await social->get_group(std::move(who), r.number("group_id")), 200,
                    group_body);
            });

    // Contract v1.1: the owner deletes the group; its conversation is gone for everyone.
    api.add(http_method::del, "/groups/{group_id}",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::no_content(
                    co_await social->delete_group(std::move(who), r.number("group_id")));
            });

    api.add<group_change>(
        http_method::patch, "/groups/{group_id}",
        [social](logic::identity who, const rest::request& r, group_change b) -> rest::reply {
            co_return rest::answer(
                co_await social->update_group(std::move(who), r.number("group_id"),
                                              std::move(b.name), std::move(b.description),
                                              b.is_public),
                200, group_body);
        });

    api.add(http_method::get, "/groups/{group_id}/members",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                auto after = after_param(r);
                if (!after) {
                    co_return after.error();
                }
                auto limit = logic::parse_limit(r.query("limit"));
                if (!limit) {
                    co_return limit.error();
                }
                co_return rest::answer(
                    co_await social->list_members(std::move(who), r.number("group_id"), *after,
                                                  *limit),
                    200, [](const logic::member_list& page) {
                        return object_writer()
                            .array("members", json_items(page.members))
                            .raw("next", next_json(page.next))
                            .finish();
                    });
            });

    api.add<user_ids>(
        http_method::post, "/groups/{group_id}/members",
        [social](logic::identity who, const rest::request& r, user_ids b) -> rest::reply {
            co_return rest::answer(co_await social->add_members(std::move(who),
                                                                r.number("group_id"),
                                                                std::move(b.ids)),
                                   200, group_body);
        });

    api.add(http_method::del, "/groups/{group_id}/members/{user_id}",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::no_content(co_await social->remove_member(
                    std::move(who), r.number("group_id"), r.number("user_id")));
            });

    api.add<role_change>(
        http_method::patch, "/groups/{group_id}/members/{user_id}",
        [social](logic::identity who, const rest::request& r, role_change b) -> rest::reply {
            co_return rest::answer(
                co_await social->set_member_role(std::move(who), r.number("group_id"),
                                                 r.number("user_id"), std::move(b.role)),
                200, group_body);
        });

    // Group moderation (contract v1.1, "Groups").
    api.add<member_mute>(
        http_method::post, "/groups/{group_id}/members/{user_id}/mute",
        [social](logic::identity who, const rest::request& r, member_mute b) -> rest::reply {
            co_return rest::no_content(co_await social->mute_member(
                std::move(who), r.number("group_id"), r.number("user_id"), b.duration_s));
        });
    api.add(http_method::del, "/groups/{group_id}/members/{user_id}/mute",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::no_content(co_await social->unmute_member(
                    std::move(who), r.number("group_id"), r.number("user_id")));
            });
    api.add(http_method::get, "/groups/{group_id}/mutes",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::answer(
                    co_await social->group_mutes(std::move(who), r.number("group_id")), 200,
                    mutes_body);
            });

    api.add<new_ban>(
        http_method::post, "/groups/{group_id}/bans",
        [social](logic::identity who, const rest::request& r, new_ban b) -> rest::reply {
            co_return rest::no_content(
                co_await social->ban_user(std::move(who), r.number("group_id"), b.user_id));
        });
    api.add(http_method::del, "/groups/{group_id}/bans/{user_id}",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::no_content(co_await social->unban_user(
                    std::move(who), r.number("group_id"), r.number("user_id")));
            });
    api.add(http_method::get, "/groups/{group_id}/bans",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::answer(
                    co_await social->group_bans(std::move(who), r.number("group_id")), 200,
                    bans_body);
            });

    // Invite links.
    api.add<new_group_invite>(
        http_method::post, "/groups/{group_id}/invites",
        [social](logic::identity who, const rest::request& r, new_group_invite b) -> rest::reply {
            co_return rest::answer(
                co_await social->create_group_invite(std::move(who), r.number("group_id"), b.uses,
                                                     b.expires_in_s),
                201, [](const logic::group_invite_info& i) {
                    return json{{"invite", invite_json(i)}}.dump();
                });
        });
    api.add(http_method::get, "/groups/{group_id}/invites",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::answer(
                    co_await social->group_invites(std::move(who), r.number("group_id")), 200,
                    [](const std::vector<logic::group_invite_info>& all) {
                        json list = json::array();
                        for (const auto& i : all) {
                            list.push_back(invite_json(i));
                        }
                        return json{{"invites", std::move(list)}}.dump();
                    });
            });
    api.add(http_method::del, "/groups/{group_id}/invites/{code}",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::no_content(co_await social->revoke_group_invite(
                    std::move(who), r.number("group_id"), std::string(r.text("code"))));
            });
    api.add<invite_code>(
        http_method::post, "/groups/join",
        [social](logic::identity who, const rest::request&, invite_code b) -> rest::reply {
            co_return rest::answer(
                co_await social->join_by_invite(std::move(who), std::move(b.code)), 200,
                group_body);
        });

    api.add(http_method::post, "/groups/{group_id}/join",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::answer(
                    co_await social->join_group(std::move(who), r.number("group_id")), 200,
                    group_body);
            });
}

}  // namespace monochat::gateway
