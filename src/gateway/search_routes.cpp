#include <monochat/gateway/search_routes.hpp>

#include <monochat/logic/search.hpp>

#include "gateway/ws_frames.hpp"

namespace monochat::gateway {

void add_search_routes(router& routes, authenticator authenticate, logic::search_service& search) {
    routes.add(
        http_method::get, "/api/v1/search/messages",
        [authenticate, &search](http_request& req) -> boost::asio::awaitable<http_response> {
            const auto token = req.bearer_token();
            if (token.empty()) {
                co_return error_response(
                    make_error(errc::unauthenticated, "a bearer token is required"));
            }
            auto who = co_await authenticate(std::string(token));
            if (!who) {
                co_return error_response(who.error());
            }
            const auto q = req.query_param("q");
            if (!q) {
                co_return error_response(make_error(errc::invalid_argument, "q is required"));
            }
            auto limit = ws_frames::parse_limit(req.query_param("limit"));
            if (!limit) {
                co_return error_response(limit.error());
            }
            logic::search_request s;
            s.q = std::string(*q);
            if (auto cid = req.query_param("conversation_id")) {
                s.conversation_id = std::string(*cid);
            }
            s.limit = *limit;
            auto found = co_await search.search(*who, std::move(s));
            if (!found) {
                co_return error_response(found.error());
            }
            std::string out = R"({"messages":[)";
            for (std::size_t i = 0; i < found->size(); ++i) {
                if (i != 0) {
                    out += ',';
                }
                out += (*found)[i];
            }
            out += "]}";
            co_return http_response::json(200, std::move(out));
        });
}

}  // namespace monochat::gateway
