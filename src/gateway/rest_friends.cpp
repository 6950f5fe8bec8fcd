// Friends: /friends/requests, /friends; blocking: /blocks.

#include <monochat/logic/social.hpp>

#include "gateway/json_util.hpp"
#include "gateway/rest_common.hpp"

namespace monochat::gateway {

namespace {

using json_util::json;
using json_util::object_writer;

std::string request_body(const logic::friend_request_info& r) {
    return rest::wrapped("request", logic::to_json(r));
}

struct friend_request {
    std::uint64_t user_id = 0;
    std::string note;

    static result<friend_request> from_json(const json& j) {
        auto to = json_util::required_id(j, "user_id");
        if (!to) {
            return to.error();
        }
        auto note = json_util::optional_string(j, "note");
        if (!note) {
            return note.error();
        }
        return friend_request{*to, note->value_or("")};
    }
};

struct target_user {
    std::uint64_t user_id = 0;

    static result<target_user> from_json(const json& j) {
        auto id = json_util::required_id(j, "user_id");
        if (!id) {
            return id.error();
        }
        return target_user{*id};
    }
};

}  // namespace

void add_friend_routes(rest::endpoints<logic::identity>& api, const rest_services& services) {
    logic::social* const social = &services.social;

    api.add<friend_request>(
        http_method::post, "/friends/requests",
        [social](logic::identity who, const rest::request&, friend_request b) -> rest::reply {
            auto r = co_await social->send_friend_request(std::move(who), b.user_id,
                                                          std::move(b.note));
            if (!r) {
                co_return r.error();
            }
            // A crossing request answers with theirs, accepted: nothing was created.
            co_return http_response::json(r->accepted_existing ? 200 : 201,
                                          request_body(r->request));
        });

    api.add(http_method::get, "/friends/requests",
            [social](logic::identity who, const rest::request&) -> rest::reply {
                co_return rest::answer(co_await social->list_friend_requests(std::move(who)), 200,
                                       [](const auto& lists) {
                                           return object_writer()
                                               .array("incoming", json_items(lists.incoming))
                                               .array("outgoing", json_items(lists.outgoing))
                                               .finish();
                                       });
            });

    api.add(http_method::post, "/friends/requests/{request_id}/accept",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::answer(co_await social->accept_friend_request(
                                           std::move(who), r.number("request_id")),
                                       200, request_body);
            });

    api.add(http_method::post, "/friends/requests/{request_id}/reject",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::answer(co_await social->reject_friend_request(
                                           std::move(who), r.number("request_id")),
                                       200, request_body);
            });

    api.add(http_method::get, "/friends",
            [social](logic::identity who, const rest::request&) -> rest::reply {
                co_return rest::answer(
                    co_await social->list_friends(std::move(who)), 200, [](const auto& friends) {
                        return object_writer().array("friends", json_items(friends)).finish();
                    });
            });

    api.add(http_method::del, "/friends/{user_id}",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::no_content(
                    co_await social->remove_friend(std::move(who), r.number("user_id")));
            });

    api.add<target_user>(
        http_method::post, "/blocks",
        [social](logic::identity who, const rest::request&, target_user b) -> rest::reply {
            co_return rest::no_content(co_await social->block_user(std::move(who), b.user_id));
        });

    api.add(http_method::del, "/blocks/{user_id}",
            [social](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::no_content(
                    co_await social->unblock_user(std::move(who), r.number("user_id")));
            });

    api.add(http_method::get, "/blocks",
            [social](logic::identity who, const rest::request&) -> rest::reply {
                co_return rest::answer(
                    co_await social->blocked_users(std::move(who)), 200, [](const auto& users) {
                        return object_writer().array("users", json_items(users)).finish();
                    });
            });
}

}  // namespace monochat::gateway
