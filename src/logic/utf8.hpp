#pragma once
// UTF-8 decoding shared by the validators (names, notes) and the emoji check.
// Thread-safety: pure functions.

#include <cstddef>
#include <string_view>

namespace monochat::logic {

// Decodes one code point at `i` (advancing it); -1 on a malformed sequence: strict UTF-8, no
// overlong forms, no surrogates, nothing above U+10FFFF. `i` must be below s.size().
inline long next_code_point(std::string_view s, std::size_t& i) noexcept {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        ++i;
        return b0;
    }
    std::size_t len = 0;
    long cp = 0;
    long min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2;
        cp = b0 & 0x1F;
        min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3;
        cp = b0 & 0x0F;
        min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4;
        cp = b0 & 0x07;
        min = 0x10000;
    } else {
        return -1;
    }
    if (i + len > s.size()) {
        return -1;
    }
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) {
            return -1;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return -1;
    }
    i += len;
    return cp;
}

}  // namespace monochat::logic
