#pragma once
// Writing JSON text without a DOM, for the frames written once per message (acks, pushes):
// building an nlohmann::json object and dumping it costs an allocation per field.

#include <string>
#include <string_view>

namespace monochat::infra {

// Appends `s` as a JSON string literal. `s` must be valid UTF-8 (text that came from a parsed
// JSON document, or ids): only quotes, backslashes and control characters are escaped.
void append_json_string(std::string& out, std::string_view s);

}  // namespace monochat::infra
