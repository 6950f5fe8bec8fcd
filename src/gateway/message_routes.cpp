#include <monochat/gateway/message_routes.hpp>

#include <monochat/logic/message_format.hpp>
#include <monochat/logic/messaging.hpp>
#include <monochat/logic/validation.hpp>
#include <nlohmann/json.hpp>

#include "gateway/rest_pipeline.hpp"
#include "gateway/ws_frames.hpp"

namespace monochat::gateway {

namespace {
using json = nlohmann::json;

// An optional numeric query parameter (`after_seq`, `before_seq`, `after`).
result<std::optional<std::uint64_t>> optional_number(const rest::request& r, std::string_view name) {
    const auto v = r.query(name);
    if (!v) {
        return std::optional<std::uint64_t>{};
    }
    auto n = logic::parse_number(*v, name);
    if (!n) {
        return n.error();
    }
    return std::optional<std::uint64_t>{*n};
}

// POST /conversations/{cid}/messages.
struct send_body {
    std::string client_msg_id;
    logic::message_body body;

    static result<send_body> from_json(const json& j) {
        auto cmid = j.find("client_msg_id");
        if (cmid == j.end() || !cmid->is_string()) {
            return make_error(errc::invalid_argument,
                              "client_msg_id is required and must be a string");
        }
        auto b = j.find("body");
        if (b == j.end()) {
            return make_error(errc::invalid_argument, "body is required");
        }
        auto parsed = ws_frames::parse_body_json(b->dump());
        if (!parsed) {
            return parsed.error();
        }
        return send_body{cmid->get<std::string>(), std::move(*parsed)};
    }
};

// User ids as the protocol writes them: decimal strings.
json id_strings(const std::vector<std::uint64_t>& ids) {
    json out = json::array();
    for (const auto id : ids) {
        out.push_back(std::to_string(id));
    }
    return out;
}

std::string page_json(const logic::history_page& page) {
    std::string out = R"({"messages":[)";
    for (std::size_t i = 0; i < page.messages.size(); ++i) {
        if (i != 0) {
            out += ',';
        }
        out += page.messages[i];
    }
    out += page.has_more ? R"(],"has_more":true})" : R"(],"has_more":false})";
    return out;
}
}  // namespace

void add_message_routes(router& routes, authenticator authenticate,
                        logic::messaging_service& messaging) {
    rest::endpoints<logic::identity> api(routes, "/api/v1", rest::bearer(std::move(authenticate)));
    logic::messaging_service* const m = &messaging;

    api.add(http_method::get, "/conversations/{cid}/messages",
            [m](logic::identity who, const rest::request& r) -> rest::reply {
                auto after = optional_number(r, "after_seq");
                if (!after) {
                    co_return after.error();
                }
                auto before = optional_number(r, "before_seq");
                if (!before) {
                    co_return before.error();
                }
                auto limit = logic::parse_limit(r.query("limit"));
                if (!limit) {
                    co_return limit.error();
                }
                logic::history_request h;
                h.conversation_id = std::string(r.text("cid"));
                h.after_seq = *after;
                h.before_seq = *before;
                h.limit = *limit;
                co_return rest::answer(co_await m->history(who, std::move(h)), 200, page_json);
            });

    api.add<send_body>(
        http_method::post, "/conversations/{cid}/messages",
        [m](logic::identity who, const rest::request& r, send_body b) -> rest::reply {
            logic::send_request s;
            s.who = who;
            s.conversation_id = std::string(r.text("cid"));
            s.client_msg_id = std::move(b.client_msg_id);
            s.body = std::move(b.body);
            s.trace_id = r.http().trace_id;
            auto sent = co_await m->send(std::move(s));
            if (!sent) {
                co_return sent.error();
            }
            co_return http_response::json(sent->duplicate ? 200 : 201,
                                          R"({"message":)" + logic::message_json(sent->message) +
                                              "}");
        });

    api.add(http_method::get, "/conversations/{cid}/messages/{seq}/readers",
            [m](logic::identity who, const rest::request& r) -> rest::reply {
                auto limit = logic::parse_limit(r.query("limit"));
                if (!limit) {
                    co_return limit.error();
                }
                co_return rest::answer(
                    co_await m->readers(who, std::string(r.text("cid")), r.number("seq"), *limit),
                    200, [](const auto& readers) {
                        return json{{"read_by", id_strings(readers.read_by)},
                                    {"read_count", readers.read_count},
                                    {"member_count", readers.member_count}}
                            .dump();
                    });
            });

    api.add(http_method::get, "/conversations/{cid}/messages/{seq}/reactions",
            [m](logic::identity who, const rest::request& r) -> rest::reply {
                const auto emoji = r.query("emoji");
                if (!emoji || emoji->empty()) {
                    co_return make_error(errc::invalid_argument, "emoji is required");
                }
                auto after = optional_number(r, "after");
                if (!after) {
                    co_return after.error();
                }
                auto limit = logic::parse_limit(r.query("limit"));
                if (!limit) {
                    co_return limit.error();
                }
                logic::reaction_users_request q;
                q.conversation_id = std::string(r.text("cid"));
                q.seq = r.number("seq");
                q.emoji = std::string(*emoji);
                q.after_user_id = after->value_or(0);
                q.limit = *limit;
                co_return rest::answer(
                    co_await m->reaction_users(who, std::move(q)), 200, [](const auto& page) {
                        json next = page.next ? json(std::to_string(*page.next)) : json(nullptr);
                        return json{{"users", id_strings(page.user_ids)}, {"next", next}}.dump();
                    });
            });

    api.add(http_method::get, "/conversations/{cid}/online",
            [m](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::answer(
                    co_await m->online_count(who, std::string(r.text("cid"))), 200,
                    [](const auto& n) { return R"({"online":)" + std::to_string(n) + "}"; });
            });
}

}  // namespace monochat::gateway
