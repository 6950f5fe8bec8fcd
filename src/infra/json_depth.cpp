#include <monochat/infra/json_depth.hpp>

namespace monochat::infra {

bool json_nesting_exceeds(std::string_view text, json_depth_options options) noexcept {
    std::size_t depth = 0;
    const std::size_t n = text.size();
    for (std::size_t i = 0; i < n; ++i) {
        const char c = text[i];
        switch (c) {
            case '[':
            case '{':
                if (++depth > options.limit) {
                    return true;
                }
                break;
            case ']':
            case '}':
                // Unbalanced closers are the parser's to refuse; never wrap around.
                if (depth > 0) {
                    --depth;
                }
                break;
            case '"':
                // Skip to the closing quote; a backslash escapes the next character.
                for (++i; i < n && text[i] != '"'; ++i) {
                    if (text[i] == '\\') {
                        ++i;
                    }
                }
                break;
            case '/':
                if (!options.comments || i + 1 >= n) {
                    break;
                }
                if (text[i + 1] == '/') {
                    i += 2;
                    while (i < n && text[i] != '\n') {
                        ++i;
                    }
                } else if (text[i + 1] == '*') {
                    const auto end = text.find("*/", i + 2);
                    if (end == std::string_view::npos) {
                        return false;
                    }
                    i = end + 1;
                }
                break;
            default:
                break;
        }
    }
    return false;
}

}  // namespace monochat::infra
