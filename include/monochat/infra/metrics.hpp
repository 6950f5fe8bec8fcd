#pragma once
// Metrics registry: counters, gauges and histograms with labels, rendered in the Prometheus
// text exposition format (version 0.0.4) for `GET /metrics`.
//
// Thread-safety: registration takes a mutex; the returned references stay valid for the
// registry's lifetime and their updates are lock-free atomics, so hot paths look a metric up
// once and keep the reference. The same name must always be registered with the same type.

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

class counter {
public:
    void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

class gauge {
public:
    void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
    void add(double d) noexcept;
    void inc() noexcept { add(1); }
    void dec() noexcept { add(-1); }
    double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

class histogram {
public:
    // `bounds` are the upper bounds of the buckets, ascending; +Inf is implicit.
    explicit histogram(std::vector<double> bounds);
    void observe(double v) noexcept;

    const std::vector<double>& bounds() const noexcept { return bounds_; }
    // Non-cumulative count of bucket i (i == bounds().size() is the +Inf bucket).
    std::uint64_t bucket_count(std::size_t i) const noexcept {
        return counts_[i].load(std::memory_order_relaxed);
    }
    std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
    double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
    std::atomic<std::uint64_t> count_{0};
    std::atomic<double> sum_{0};
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
