#pragma once
// Request bodies in, response bodies out, for the REST handlers. Private to gateway.
//
// Reading follows shared/protocol.md: a body is parsed as JSON whatever its Content-Type; one
// that is not a JSON object, a field of the wrong type and a missing required field are
// invalid_argument naming the field; unknown fields are ignored; an optional field that is null
// counts as absent. Nothing here throws.
//
// Writing composes bodies from JSON text that logic already wrote (wire.hpp), so an object is
// written once, whether it goes into a response or an event frame.

#include <cstdint>
#include <monochat/infra/result.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::gateway::json_util {

using json = nlohmann::json;

// `body` as a JSON object. An empty body is an empty object when `empty_is_object`, else an
// error (endpoints whose fields are all optional accept no body at all).
[[nodiscard]] result<json> parse_object(std::string_view body, bool empty_is_object = false);

[[nodiscard]] result<std::string> required_string(const json& object, std::string_view field);
[[nodiscard]] result<std::optional<std::string>> optional_string(const json& object,
                                                                 std::string_view field);
[[nodiscard]] result<std::optional<bool>> optional_bool(const json& object,
                                                        std::string_view field);
// A JSON integer (no fraction), absent or null: nullopt.
[[nodiscard]] result<std::optional<std::int64_t>> optional_integer(const json& object,
                                                                   std::string_view field);
// An id: a string holding a decimal unsigned 64-bit number.
[[nodiscard]] result<std::uint64_t> required_id(const json& object, std::string_view field);
// An array of ids; an absent (or null) optional array is empty.
[[nodiscard]] result<std::vector<std::uint64_t>> id_array(const json& object,
                                                          std::string_view field, bool required);
// A JSON number that is a non-negative integer (a `seq`).
[[nodiscard]] result<std::uint64_t> required_unsigned(const json& object, std::string_view field);

// A JSON string literal, quotes included.
[[nodiscard]] std::string quote(std::string_view text);

// Writes `{"k1": v1, "k2": v2}` from values that are JSON text already.
class object_writer {
public:
    object_writer& raw(std::string_view key, std::string_view json_text);
    object_writer& string(std::string_view key, std::string_view text);
    // `[t1, t2, ...]` from JSON texts.
    object_writer& array(std::string_view key, const std::vector<std::string>& json_texts);
    [[nodiscard]] std::string finish();

private:
    std::string out_ = "{";
};

}  // namespace monochat::gateway::json_util
