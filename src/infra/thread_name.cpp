#include <monochat/infra/thread_name.hpp>

#include <algorithm>
#include <array>
#include <pthread.h>

namespace monochat::infra {

void name_this_thread(std::string_view name) noexcept {
    std::array<char, 16> buf{};
    const auto n = std::min(name.size(), buf.size() - 1);
    std::copy_n(name.data(), n, buf.data());
    (void)pthread_setname_np(pthread_self(), buf.data());
}

}  // namespace monochat::infra
