#include <monochat/gateway/search_routes.hpp>

#include <monochat/logic/search.hpp>
#include <monochat/logic/validation.hpp>

#include "gateway/rest_pipeline.hpp"

namespace monochat::gateway {

void add_search_routes(router& routes, authenticator authenticate, logic::search_service& search) {
    rest::endpoints<logic::identity> api(routes, "/api/v1", rest::bearer(std::move(authenticate)));
    logic::search_service* const s = &search;
    api.add(http_method::get, "/search/messages",
            [s](logic::identity who, const rest::request& r) -> rest::reply {
                const auto q = r.query("q");
                if (!q) {
                    co_return make_error(errc::invalid_argument, "q is required");
                }
                auto limit = logic::parse_limit(r.query("limit"));
                if (!limit) {
                    co_return limit.error();
                }
                logic::search_request req;
                req.q = std::string(*q);
                if (auto cid = r.query("conversation_id")) {
                    req.conversation_id = std::string(*cid);
                }
                req.limit = *limit;
                co_return rest::answer(
                    co_await s->search(who, std::move(req)), 200, [](const auto& found) {
                        std::string out = R"({"messages":[)";
                        for (std::size_t i = 0; i < found.size(); ++i) {
                            if (i != 0) {
                                out += ',';
                            }
                            out += found[i];
                        }
                        out += "]}";
                        return out;
                    });
            });
}

}  // namespace monochat::gateway
