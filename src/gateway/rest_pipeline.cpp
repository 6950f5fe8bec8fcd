#include "gateway/rest_pipeline.hpp"

#include <cstdlib>
#include <monochat/logic/validation.hpp>

namespace monochat::gateway::rest {

namespace {

bool ends_with(std::string_view text, std::string_view tail) {
    return text.size() >= tail.size() && text.substr(text.size() - tail.size()) == tail;
}

}  // namespace

gate<logic::identity> bearer(authenticator authenticate) {
    return [authenticate = std::move(authenticate)](
               const http_request& req) -> net::awaitable<result<logic::identity>> {
        const auto token = req.bearer_token();
        if (token.empty()) {
            co_return make_error(errc::unauthenticated, "a bearer token is required");
        }
        co_return co_await authenticate(std::string(token));
    };
}

gate<anyone> open() {
    return [](const http_request& req) -> net::awaitable<result<anyone>> {
        co_return anyone{req.client_address, req.user_agent};
    };
}

std::uint64_t request::number(std::string_view name) const {
    for (const auto& [key, value] : numbers_) {
        if (key == name) {
            return value;
        }
    }
    // The route template has no such numeric parameter: a bug in the route, not bad input.
    std::abort();
}

result<std::vector<std::pair<std::string, std::uint64_t>>> path_numbers(const http_request& req) {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (const auto& [name, text] : req.path_params) {
        if (name == "seq") {
            auto v = logic::parse_number(text, name);
            if (!v) {
                return v.error();
            }
            out.emplace_back(name, *v);
        } else if (ends_with(name, "_id")) {
            auto v = logic::parse_id(text, name);
            if (!v) {
                return v.error();
            }
            out.emplace_back(name, *v);
        }
    }
    return out;
}

result<http_response> no_content(const status& s) {
    if (!s) {
        return s.error();
    }
    return http_response::no_content();
}

std::string wrapped(std::string_view key, const std::string& json_text) {
    return json_util::object_writer().raw(key, json_text).finish();
}

}  // namespace monochat::gateway::rest
