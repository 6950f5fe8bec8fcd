#include "logic/emoji.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <vector>

#include "logic/utf8.hpp"

namespace monochat::logic {

namespace {

struct range {
    char32_t first;
    char32_t last;
};

// Extended_Pictographic, Unicode 15 (emoji-data.txt), merged into ranges. Includes the
// reserved code points the property covers, so emoji of later Unicode versions pass too.
constexpr range extended_pictographic[] = {
    {0x00A9, 0x00A9},   {0x00AE, 0x00AE},   {0x203C, 0x203C},   {0x2049, 0x2049},
    {0x2122, 0x2122},   {0x2139, 0x2139},   {0x2194, 0x2199},   {0x21A9, 0x21AA},
    {0x231A, 0x231B},   {0x2328, 0x2328},   {0x2388, 0x2388},   {0x23CF, 0x23CF},
    {0x23E9, 0x23F3},   {0x23F8, 0x23FA},   {0x24C2, 0x24C2},   {0x25AA, 0x25AB},
    {0x25B6, 0x25B6},   {0x25C0, 0x25C0},   {0x25FB, 0x25FE},   {0x2600, 0x2605},
    {0x2607, 0x2612},   {0x2614, 0x2685},   {0x2690, 0x2705},   {0x2708, 0x2712},
    {0x2714, 0x2714},   {0x2716, 0x2716},   {0x271D, 0x271D},   {0x2721, 0x2721},
    {0x2728, 0x2728},   {0x2733, 0x2734},   {0x2744, 0x2744},   {0x2747, 0x2747},
    {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},   {0x2757, 0x2757},
    {0x2763, 0x2767},   {0x2795, 0x2797},   {0x27A1, 0x27A1},   {0x27B0, 0x27B0},
    {0x27BF, 0x27BF},   {0x2934, 0x2935},   {0x2B05, 0x2B07},   {0x2B1B, 0x2B1C},
    {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x3030, 0x3030},   {0x303D, 0x303D},
    {0x3297, 0x3297},   {0x3299, 0x3299},   {0x1F000, 0x1F0FF}, {0x1F10D, 0x1F10F},
    {0x1F12F, 0x1F12F}, {0x1F16C, 0x1F171}, {0x1F17E, 0x1F17F}, {0x1F18E, 0x1F18E},
    {0x1F191, 0x1F19A}, {0x1F1AD, 0x1F1E5}, {0x1F201, 0x1F20F}, {0x1F21A, 0x1F21A},
    {0x1F22F, 0x1F22F}, {0x1F232, 0x1F23A}, {0x1F23C, 0x1F23F}, {0x1F249, 0x1F3FA},
    {0x1F400, 0x1F53D}, {0x1F546, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F774, 0x1F77F},
    {0x1F7D5, 0x1F7FF}, {0x1F80C, 0x1F80F}, {0x1F848, 0x1F84F}, {0x1F85A, 0x1F85F},
    {0x1F888, 0x1F88F}, {0x1F8AE, 0x1F8FF}, {0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945},
    {0x1F947, 0x1FAFF}, {0x1FC00, 0x1FFFD},
};

constexpr range emoji_modifier = {0x1F3FB, 0x1F3FF};  // skin tones
constexpr range regional_indicator = {0x1F1E6, 0x1F1FF};
constexpr range tag_spec = {0xE0020, 0xE007E};
constexpr char32_t cancel_tag = 0xE007F;
constexpr char32_t zwj = 0x200D;
constexpr char32_t vs16 = 0xFE0F;
constexpr char32_t combining_keycap = 0x20E3;

constexpr bool in(const range& r, char32_t c) { return c >= r.first && c <= r.last; }

bool is_pictographic(char32_t c) {
    const auto* const begin = std::begin(extended_pictographic);
    const auto* const it = std::upper_bound(begin, std::end(extended_pictographic), c,
                                            [](char32_t v, const range& r) { return v < r.first; });
    return it != begin && in(*std::prev(it), c);
}

bool is_keycap_base(char32_t c) { return (c >= U'0' && c <= U'9') || c == U'#' || c == U'*'; }

// Strict UTF-8 (utf8.hpp), as code points.
std::optional<std::vector<char32_t>> decode(std::string_view s) {
    std::vector<char32_t> out;
    std::size_t i = 0;
    while (i < s.size()) {
        const long c = next_code_point(s, i);
        if (c < 0) {
            return std::nullopt;
        }
        out.push_back(static_cast<char32_t>(c));
    }
    return out;
}

// One element of a ZWJ sequence starting at `pos`; returns the position after it, or nullopt.
std::optional<std::size_t> element(const std::vector<char32_t>& cps, std::size_t pos) {
    if (pos >= cps.size() || !(is_pictographic(cps[pos]) || in(emoji_modifier, cps[pos]))) {
        return std::nullopt;
    }
    const bool modifier_alone = in(emoji_modifier, cps[pos]);
    ++pos;
    if (pos < cps.size() && cps[pos] == vs16) {
        ++pos;
    }
    if (!modifier_alone && pos < cps.size() && in(emoji_modifier, cps[pos])) {
        ++pos;
    }
    if (pos < cps.size() && in(tag_spec, cps[pos])) {
        while (pos < cps.size() && in(tag_spec, cps[pos])) {
            ++pos;
        }
        if (pos >= cps.size() || cps[pos] != cancel_tag) {
            return std::nullopt;
        }
        ++pos;
    }
    return pos;
}

}  // namespace

bool is_single_emoji(std::string_view text) {
    if (text.empty() || text.size() > max_emoji_bytes) {
        return false;
    }
    const auto decoded = decode(text);
    if (!decoded) {
        return false;
    }
    const std::vector<char32_t>& cps = *decoded;
    if (cps.size() == 2 && in(regional_indicator, cps[0]) && in(regional_indicator, cps[1])) {
        return true;
    }
    if (is_keycap_base(cps[0])) {
        return (cps.size() == 2 && cps[1] == combining_keycap) ||
               (cps.size() == 3 && cps[1] == vs16 && cps[2] == combining_keycap);
    }
    std::size_t pos = 0;
    for (;;) {
        const auto next = element(cps, pos);
        if (!next) {
            return false;
        }
        pos = *next;
        if (pos == cps.size()) {
            return true;
        }
        if (cps[pos] != zwj) {
            return false;
        }
        ++pos;
    }
}

}  // namespace monochat::logic
