#pragma once
// A one-byte lock for critical sections of a few instructions (a pointer pushed into a vector)
// held by many objects at once, such as every connection's push inbox: a std::mutex would cost
// 40 bytes per idle connection. A waiter spins briefly, then yields the core (this machine has
// two; a holder preempted mid-section must get to run).

#include <atomic>
#include <thread>

namespace monochat::infra {

class spin_lock {
public:
    void lock() noexcept {
        for (int spins = 0; locked_.exchange(true, std::memory_order_acquire); ++spins) {
            while (locked_.load(std::memory_order_relaxed)) {
                if (++spins > 64) {
                    std::this_thread::yield();
                }
            }
        }
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
};

}  // namespace monochat::infra
