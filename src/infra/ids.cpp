#include <monochat/infra/ids.hpp>

#include <stdexcept>

namespace monochat::infra {

id_generator::id_generator(const clock& clk, std::uint32_t node) : clock_(clk), node_(node) {
    if (node >= (1U << node_bits)) {
        throw std::invalid_argument("id_generator: node id must be below 1024");
    }
}

std::uint64_t id_generator::next() {
    std::lock_guard lock(mutex_);
    // A clock that steps back (NTP) or a burst of more than 4096 ids in one millisecond
    // borrows from the future rather than repeating an id.
    std::int64_t ms = clock_.now_ms() - epoch_ms;
    if (ms <= last_ms_) {
        ms = last_ms_;
        if (++sequence_ == (1U << sequence_bits)) {
            sequence_ = 0;
            ++ms;
        }
    } else {
        sequence_ = 0;
    }
    last_ms_ = ms;
    return (static_cast<std::uint64_t>(ms) << (node_bits + sequence_bits)) |
           (static_cast<std::uint64_t>(node_) << sequence_bits) | sequence_;
}

}  // namespace monochat::infra
