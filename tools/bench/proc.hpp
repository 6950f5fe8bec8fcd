#pragma once
// What the generator reads about processes and the machine from /proc, the same figures the
// peers' harness reads (bench-peers/lib/proc.js): CPU seconds of a whole thread group
// (utime + stime of /proc/PID/stat), VmRSS and VmHWM of /proc/PID/status, machine-wide busy
// and steal time of /proc/stat.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace monochat::bench {

// Microseconds of CLOCK_MONOTONIC (std::chrono::steady_clock on Linux).
inline std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// user + system CPU seconds of every thread of `pid` (0: this process); nullopt when gone.
std::optional<double> cpu_seconds(int pid);

struct memory_kb {
    std::optional<std::int64_t> rss;
    std::optional<std::int64_t> hwm;
};
memory_kb memory_of(int pid);

// Resets VmHWM to the current RSS (writes 5 to /proc/PID/clear_refs); false when not allowed.
bool reset_peak_rss(int pid);

struct machine_cpu {
    double busy_s = 0;  // all but idle and iowait
    double steal_s = 0;
    int cores = 0;
};
std::optional<machine_cpu> machine_cpu_now();

bool process_alive(int pid);

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
std::uint64_t raise_nofile_limit();

// `nproc`, the CPU model and MemTotal, for the report.
struct machine_info {
    int cores = 0;
    std::string cpu_model;
    std::int64_t mem_total_kb = 0;
};
machine_info describe_machine();

}  // namespace monochat::bench
