#pragma once
// Metrics registry: counters, gauges and histograms with labels, rendered in the Prometheus
// text exposition format (version 0.0.4) for `GET /metrics`.
//
// Thread-safety: registration takes a mutex; the returned references stay valid for the
// registry's lifetime and their updates are lock-free atomics, so hot paths look a metric up
// once and keep the reference. The same name must always be registered with the same type.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace monochat::infra {

using metric_labels = std::vector<std::pair<std::string, std::string>>;

// Counters, gauges and histograms are striped per thread: a thread adds to its own stripe
// (its own cache line, so threads never contend or bounce lines on the hot paths: a delivery,
// a frame, an ack), and a scrape sums the stripes. Threads take stripes in turn; with more
// threads than stripes some share one, which stays correct (the adds are atomic).
namespace detail {
inline constexpr std::size_t metric_stripes = 8;
// The calling thread's stripe.
std::size_t metric_stripe() noexcept;
struct alignas(64) stripe_u64 {
    std::atomic<std::uint64_t> v{0};
};
struct alignas(64) stripe_f64 {
    std::atomic<double> v{0};
};
void add_double(std::atomic<double>& a, double d) noexcept;
}  // namespace detail

class counter {
public:
    void inc(std::uint64_t n = 1) noexcept {
        stripes_[detail::metric_stripe()].v.fetch_add(n, std::memory_order_relaxed);
    }
    std::uint64_t value() const noexcept;

private:
    std::array<detail::stripe_u64, detail::metric_stripes> stripes_;
};

class gauge {
public:
    // Replaces the value (the stripes' sum). Not meant to race with add() on the same gauge.
    void set(double v) noexcept;
    void add(double d) noexcept { detail::add_double(stripes_[detail::metric_stripe()].v, d); }
    void inc() noexcept { add(1); }
    void dec() noexcept { add(-1); }
    double value() const noexcept;

private:
    std::array<detail::stripe_f64, detail::metric_stripes> stripes_;
};

class histogram {
public:
    // `bounds` are the upper bounds of the buckets, ascending; +Inf is implicit.
    explicit histogram(std::vector<double> bounds);
    void observe(double v) noexcept;

    const std::vector<double>& bounds() const noexcept { return bounds_; }
    // Non-cumulative count of bucket i (i == bounds().size() is the +Inf bucket).
    std::uint64_t bucket_count(std::size_t i) const noexcept;
    std::uint64_t count() const noexcept;
    double sum() const noexcept;

private:
    // One stripe: its bucket counts (an allocation of its own), its count and its sum.
    struct alignas(64) stripe {
        std::unique_ptr<std::atomic<std::uint64_t>[]> counts;
        std::atomic<std::uint64_t> count{0};
        std::atomic<double> sum{0};
    };
    std::vector<double> bounds_;
    std::array<stripe, detail::metric_stripes> stripes_;
};

// Buckets for latencies in seconds, 100 µs to 10 s.
std::vector<double> latency_buckets();

class metrics_registry {
public:
    metrics_registry();
    ~metrics_registry();
    metrics_registry(const metrics_registry&) = delete;
    metrics_registry& operator=(const metrics_registry&) = delete;

    counter& get_counter(std::string_view name, std::string_view help,
                         const metric_labels& labels = {});
    gauge& get_gauge(std::string_view name, std::string_view help,
                     const metric_labels& labels = {});
    histogram& get_histogram(std::string_view name, std::string_view help,
                             const std::vector<double>& bounds, const metric_labels& labels = {});
    // A gauge whose value is read at scrape time (queue depths, cache sizes). `fn` must stay
    // callable for the registry's lifetime, or until remove_callbacks(owner) is called.
    void gauge_callback(std::string_view name, std::string_view help, const metric_labels& labels,
                        std::function<double()> fn, const void* owner = nullptr);
    void remove_callbacks(const void* owner);

    std::string render() const;

private:
    struct family;
    family& find_or_add(std::string_view name, std::string_view help, int type);

    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<family>> families_;
};

}  // namespace monochat::infra
