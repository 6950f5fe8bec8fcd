#pragma once
// Writing JSON text without a DOM, for the frames written once per message (acks, pushes):
// building an nlohmann::json object and dumping it costs an allocation per field.

#include <cstdint>
#include <string>
#include <string_view>

namespace monochat::infra {

// Appends `s` as a JSON string literal. `s` must be valid UTF-8 (text that came from a parsed
// JSON document, or ids): only quotes, backslashes and control characters are escaped.
void append_json_string(std::string& out, std::string_view s);

// Appends the decimal digits of `v` (a JSON number, or inside a string literal for ids), with
// no temporary string: std::to_string's result outgrows the small-string buffer at 16 digits,
// and every id has 19.
void append_decimal(std::string& out, std::uint64_t v);
void append_decimal(std::string& out, std::int64_t v);

}  // namespace monochat::infra
