#pragma once
// libsodium must be initialised once before its CSPRNG or hashes are used. Without a working
// CSPRNG no token or salt is safe to hand out, so a failure ends the process. Private to logic.

#include <sodium.h>

#include <cstdlib>

namespace monochat::logic {

inline void ensure_sodium() {
    static const bool ready = sodium_init() >= 0;
    if (!ready) {
        std::abort();
    }
}

}  // namespace monochat::logic
