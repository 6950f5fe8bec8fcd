#pragma once
// The wire objects of wire.hpp as nlohmann values, for building event frames without writing
// and re-parsing text. Private to logic.

#include <monochat/logic/wire.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace monochat::logic::wire {

using json = nlohmann::json;

[[nodiscard]] json object(const user_info& u);
[[nodiscard]] json object(const friend_request_info& r);
[[nodiscard]] json object(const group_info& g);
[[nodiscard]] json object(const member_info& m);

// Compact text; invalid UTF-8 (which validation keeps out) would be replaced, never thrown.
[[nodiscard]] std::string dump(const json& j);

}  // namespace monochat::logic::wire
