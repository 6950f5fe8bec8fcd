#pragma once
// Is a string one emoji (shared/protocol.md v1.1, Reactions)? A single grapheme cluster that
// Unicode marks as emoji, judged from small code point tables (Unicode 15 emoji-data.txt:
// Extended_Pictographic, Emoji_Modifier, Regional_Indicator) and the sequence forms of UTS #51:
//
//   flag       Regional_Indicator Regional_Indicator                         🇫🇷
//   keycap     [0-9#*] U+FE0F? U+20E3                                         1️⃣
//   zwj        element (U+200D element)*                                     👩‍💻,
//   🏳️‍🌈 element    (Extended_Pictographic | Emoji_Modifier) U+FE0F? Emoji_Modifier?
//              (tag U+E0020..U+E007E)+ U+E007F when a tag sequence follows    👍🏽,
//              🏴󠁧󠁢󠁳󠁣󠁴󠁿
//
// Anything else (text, two emoji, invalid UTF-8, a dangling joiner, U+FE0E text presentation,
// more than `max_emoji_bytes`) is not one emoji. The tables err on the side of the Unicode
// properties, not of what a given font draws.

#include <cstddef>
#include <string_view>

namespace monochat::logic {

// Longest emoji accepted, in UTF-8 bytes (a family of five with joiners is 32).
constexpr std::size_t max_emoji_bytes = 32;

bool is_single_emoji(std::string_view text);

}  // namespace monochat::logic
