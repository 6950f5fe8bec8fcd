#pragma once
// Shared by the rest_*.cpp handlers. Private to gateway.

#include <monochat/gateway/rest_routes.hpp>
#include <monochat/logic/access.hpp>
#include <monochat/logic/wire.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/rest_pipeline.hpp"

namespace monochat::gateway {

inline constexpr std::string_view api_prefix = "/api/v1";

// The JSON texts of wire values, for json_util::object_writer::array.
template <class T>
[[nodiscard]] std::vector<std::string> json_items(const std::vector<T>& values) {
    std::vector<std::string> out;
    out.reserve(values.size());
    for (const auto& v : values) {
        out.push_back(logic::to_json(v));
    }
    return out;
}

// Each registers its routes under /api/v1 behind the bearer gate of `api`.
void add_account_routes(rest::endpoints<logic::identity>& api, const rest_services& services);
void add_friend_routes(rest::endpoints<logic::identity>& api, const rest_services& services);
void add_group_routes(rest::endpoints<logic::identity>& api, const rest_services& services);
void add_conversation_routes(rest::endpoints<logic::identity>& api, const rest_services& services);

}  // namespace monochat::gateway
