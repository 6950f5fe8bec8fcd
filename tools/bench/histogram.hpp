#pragma once
// Latency histogram over whole microseconds, the same buckets as the peers' harness
// (bench-peers/lib/hist.js): exact below 256 us, then 128 sub-buckets per power of two, so a
// quantile is off by under 0.8 %. Not thread-safe: each io thread records into its own and the
// main thread merges them once the threads have stopped.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <optional>

namespace monochat::bench {

class histogram {
public:
    void record(std::int64_t us) {
        std::uint64_t v = us > 0 ? static_cast<std::uint64_t>(us) : 0;
        v = std::min<std::uint64_t>(v, max_value);
        ++counts_[index(v)];
        ++n_;
        sum_ += v;
        max_ = std::max(max_, v);
    }

    void merge(const histogram& o) {
        for (std::size_t i = 0; i < size; ++i) {
            counts_[i] += o.counts_[i];
        }
        n_ += o.n_;
        sum_ += o.sum_;
        max_ = std::max(max_, o.max_);
    }

    std::uint64_t count() const { return n_; }
    std::uint64_t max() const { return max_; }
    double mean() const {
        return n_ == 0 ? 0 : static_cast<double>(sum_) / static_cast<double>(n_);
    }

    // Microseconds at quantile q in [0, 1]: the middle of the bucket holding that rank, capped
    // by the largest value seen. Empty: nullopt.
    std::optional<double> quantile(double q) const {
        if (n_ == 0) {
            return std::nullopt;
        }
        const auto rank = std::max<std::uint64_t>(
            1, static_cast<std::uint64_t>(q * static_cast<double>(n_) + 0.999999));
        std::uint64_t acc = 0;
        for (std::size_t i = 0; i < size; ++i) {
            acc += counts_[i];
            if (acc >= rank) {
                const double mid =
                    (static_cast<double>(lower(i)) + static_cast<double>(lower(i + 1))) / 2 - 0.5;
                return std::min(static_cast<double>(max_),
                                std::max(mid, static_cast<double>(lower(i))));
            }
        }
        return static_cast<double>(max_);
    }

private:
    static constexpr std::size_t sub = 128;
    static constexpr std::size_t size = 256 + 24 * sub;  // up to 2^31 us, about 35 minutes
    static constexpr std::uint64_t max_value = (1ULL << 31) - 1;

    static std::size_t index(std::uint64_t v) {
        if (v < 256) {
            return static_cast<std::size_t>(v);
        }
        const int e = 63 - std::countl_zero(v);
        return 256 + static_cast<std::size_t>(e - 8) * sub +
               static_cast<std::size_t>((v >> (e - 7)) - sub);
    }
    static std::uint64_t lower(std::size_t i) {
        if (i < 256) {
            return i;
        }
        const std::size_t j = i - 256;
        const std::size_t e = j / sub + 8;
        return static_cast<std::uint64_t>((j % sub) + sub) << (e - 7);
    }

    std::array<std::uint64_t, size + 1> counts_{};
    std::uint64_t n_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace monochat::bench
