#include <monochat/gateway/message_routes.hpp>

#include <charconv>
#include <monochat/infra/json_depth.hpp>
#include <monochat/logic/message_format.hpp>
#include <monochat/logic/messaging.hpp>
#include <nlohmann/json.hpp>

#include "gateway/ws_frames.hpp"

namespace monochat::gateway {

namespace {
using json = nlohmann::json;
using net_response = boost::asio::awaitable<http_response>;

result<std::optional<std::uint64_t>> optional_seq(const http_request& req, std::string_view name) {
    auto v = req.query_param(name);
    if (!v) {
        return std::optional<std::uint64_t>{};
    }
    std::uint64_t n = 0;
    const auto* end = v->data() + v->size();
    const auto [ptr, ec] = std::from_chars(v->data(), end, n);
    if (v->empty() || ec != std::errc{} || ptr != end) {
        return make_error(errc::invalid_argument, std::string(name) + " must be a non-negative integer");
    }
    return std::optional<std::uint64_t>{n};
}

// The `{seq}` of a path, a decimal message seq.
result<std::uint64_t> path_seq(const http_request& req) {
    const auto text = req.param("seq");
    std::uint64_t seq = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, seq);
    if (ec != std::errc{} || ptr != end) {
        return make_error(errc::invalid_argument, "seq must be a number");
    }
    return seq;
}

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
    const auto who_of = [authenticate](const http_request& req)
        -> boost::asio::awaitable<result<logic::identity>> {
        const auto token = req.bearer_token();
        if (token.empty()) {
            co_return make_error(errc::unauthenticated, "a bearer token is required");
        }
        co_return co_await authenticate(std::string(token));
    };

    routes.add(http_method::get, "/api/v1/conversations/{cid}/messages",
               [who_of, &messaging](http_request& req) -> net_response {
                   auto who = co_await who_of(req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto after = optional_seq(req, "after_seq");
                   auto before = optional_seq(req, "before_seq");
                   auto limit = ws_frames::parse_limit(req.query_param("limit"));
                   if (!after) {
                       co_return error_response(after.error());
                   }
                   if (!before) {
                       co_return error_response(before.error());
                   }
                   if (!limit) {
                       co_return error_response(limit.error());
                   }
                   logic::history_request h;
                   h.conversation_id = std::string(req.param("cid"));
                   h.after_seq = *after;
                   h.before_seq = *before;
                   h.limit = *limit;
                   auto page = co_await messaging.history(*who, std::move(h));
                   if (!page) {
                       co_return error_response(page.error());
                   }
                   co_return http_response::json(200, page_json(*page));
               });

    routes.add(http_method::post, "/api/v1/conversations/{cid}/messages",
               [who_of, &messaging](http_request& req) -> net_response {
                   auto who = co_await who_of(req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   if (infra::json_nesting_exceeds(req.body)) {
                       co_return error_response(make_error(
                           errc::invalid_argument, std::string(infra::json_too_deep_message)));
                   }
                   json body = json::parse(req.body, nullptr, false);
                   if (body.is_discarded() || !body.is_object()) {
                       co_return error_response(
                           make_error(errc::invalid_argument, "the request body must be a JSON object"));
                   }
                   auto cmid = body.find("client_msg_id");
                   if (cmid == body.end() || !cmid->is_string()) {
                       co_return error_response(
                           make_error(errc::invalid_argument, "client_msg_id is required and must be a string"));
                   }
                   auto b = body.find("body");
                   if (b == body.end()) {
                       co_return error_response(make_error(errc::invalid_argument, "body is required"));
                   }
                   auto parsed = ws_frames::parse_body_json(b->dump());
                   if (!parsed) {
                       co_return error_response(parsed.error());
                   }
                   logic::send_request s;
                   s.who = *who;
                   s.conversation_id = std::string(req.param("cid"));
                   s.client_msg_id = cmid->get<std::string>();
                   s.body = std::move(*parsed);
                   s.trace_id = req.trace_id;
                   auto r = co_await messaging.send(std::move(s));
                   if (!r) {
                       co_return error_response(r.error());
                   }
                   co_return http_response::json(r->duplicate ? 200 : 201,
                                                 R"({"message":)" + logic::message_json(r->message) +
                                                     "}");
               });

    routes.add(http_method::get, "/api/v1/conversations/{cid}/messages/{seq}/readers",
               [who_of, &messaging](http_request& req) -> net_response {
                   auto who = co_await who_of(req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto seq = path_seq(req);
                   if (!seq) {
                       co_return error_response(seq.error());
                   }
                   auto limit = ws_frames::parse_limit(req.query_param("limit"));
                   if (!limit) {
                       co_return error_response(limit.error());
                   }
                   auto r = co_await messaging.readers(*who, std::string(req.param("cid")), *seq, *limit);
                   if (!r) {
                       co_return error_response(r.error());
                   }
                   co_return http_response::json(200, json{{"read_by", id_strings(r->read_by)},
                                                           {"read_count", r->read_count},
                                                           {"member_count", r->member_count}}
                                                          .dump());
               });

    routes.add(http_method::get, "/api/v1/conversations/{cid}/messages/{seq}/reactions",
               [who_of, &messaging](http_request& req) -> net_response {
                   auto who = co_await who_of(req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto seq = path_seq(req);
                   if (!seq) {
                       co_return error_response(seq.error());
                   }
                   const auto emoji = req.query_param("emoji");
                   if (!emoji || emoji->empty()) {
                       co_return error_response(make_error(errc::invalid_argument, "emoji is required"));
                   }
                   auto after = optional_seq(req, "after");
                   if (!after) {
                       co_return error_response(after.error());
                   }
                   auto limit = ws_frames::parse_limit(req.query_param("limit"));
                   if (!limit) {
                       co_return error_response(limit.error());
                   }
                   logic::reaction_users_request r;
                   r.conversation_id = std::string(req.param("cid"));
                   r.seq = *seq;
                   r.emoji = std::string(*emoji);
                   r.after_user_id = after->value_or(0);
                   r.limit = *limit;
                   auto page = co_await messaging.reaction_users(*who, std::move(r));
                   if (!page) {
                       co_return error_response(page.error());
                   }
                   json next = page->next ? json(std::to_string(*page->next)) : json(nullptr);
                   co_return http_response::json(
                       200, json{{"users", id_strings(page->user_ids)}, {"next", next}}.dump());
               });

    routes.add(http_method::get, "/api/v1/conversations/{cid}/online",
               [who_of, &messaging](http_request& req) -> net_response {
                   auto who = co_await who_of(req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto n = co_await messaging.online_count(*who, std::string(req.param("cid")));
                   if (!n) {
                       co_return error_response(n.error());
                   }
                   co_return http_response::json(200, R"({"online":)" + std::to_string(*n) + "}");
               });
}

}  // namespace monochat::gateway
