#include <monochat/infra/clock.hpp>

namespace monochat::infra {

std::int64_t system_clock::now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::chrono::steady_clock::time_point system_clock::steady_now() const {
    return std::chrono::steady_clock::now();
}

}  // namespace monochat::infra
