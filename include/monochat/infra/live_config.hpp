#pragma once
// The configuration as an immutable snapshot that a reload swaps atomically (userver's rcu):
// readers take `get()` once per operation and read consistent values from it; a reload
// publishes a new snapshot with `set()`. Settings not marked live in the key table are read
// once at start and keep their start-up values.
// Thread-safety: get() and set() may be called from any thread.

#include <atomic>
#include <memory>
#include <monochat/infra/config.hpp>

namespace monochat::infra {

class live_config {
public:
    explicit live_config(config initial)
        : current_(std::make_shared<const config>(std::move(initial))) {}

    std::shared_ptr<const config> get() const { return current_.load(std::memory_order_acquire); }
    void set(config next) {
        current_.store(std::make_shared<const config>(std::move(next)), std::memory_order_release);
    }

private:
    std::atomic<std::shared_ptr<const config>> current_;
};

}  // namespace monochat::infra
