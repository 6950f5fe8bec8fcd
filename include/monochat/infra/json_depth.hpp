#pragma once
// The nesting cap of every JSON input (contract v1.1, "Request bodies"): a document that nests
// arrays and objects deeper than `max_json_depth` is `invalid_argument`. Checked on the text,
// before any parser or serializer sees it, because nlohmann's dump(), comparisons and copies
// recurse once per level: a 150 KB body of 75,000 brackets overflowed the stack.
// Thread-safety: pure functions.

#include <cstddef>
#include <string_view>

namespace monochat::infra {

inline constexpr std::size_t max_json_depth = 64;

struct json_depth_options {
    std::size_t limit = max_json_depth;
    // `//` and `/* */` comments (the config file allows them) are skipped like whitespace.
    bool comments = false;
};

// True when some array or object in `text` opens more than `limit` levels deep (the top-level
// value is level 1). Brackets inside strings, escaped quotes included, do not count. The scan
// is linear and iterative; it does not validate the rest of the syntax (the parser does that).
bool json_nesting_exceeds(std::string_view text, json_depth_options options = {}) noexcept;

// The message of the `invalid_argument` error for such a document.
inline constexpr std::string_view json_too_deep_message =
    "JSON nesting is deeper than 64 levels";

}  // namespace monochat::infra
