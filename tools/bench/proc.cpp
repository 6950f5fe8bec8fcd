#include "bench/proc.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

namespace monochat::bench {

namespace {

std::optional<std::string> slurp(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string proc_path(int pid, const char* leaf) {
    return pid == 0 ? std::string("/proc/self/") + leaf
                    : "/proc/" + std::to_string(pid) + "/" + leaf;
}

std::optional<std::int64_t> status_kb(const std::string& text, std::string_view key) {
    auto at = text.find(std::string(key) + ":");
    if (at == std::string::npos) {
        return std::nullopt;
    }
    at += key.size() + 1;
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) {
        ++at;
    }
    return std::strtoll(text.c_str() + at, nullptr, 10);
}

}  // namespace

std::optional<double> cpu_seconds(int pid) {
    const auto text = slurp(proc_path(pid, "stat"));
    if (!text) {
        return std::nullopt;
    }
    // Fields after the command name, which may hold spaces: ") S ppid ...", utime and stime
    // are fields 14 and 15 of the whole line, 12 and 13 after the ") ".
    const auto close = text->rfind(')');
    if (close == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream rest(text->substr(close + 2));
    std::vector<std::string> f;
    std::string w;
    while (f.size() < 13 && rest >> w) {
        f.push_back(w);
    }
    if (f.size() < 13) {
        return std::nullopt;
    }
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    return (std::stod(f[11]) + std::stod(f[12])) / ticks;
}

memory_kb memory_of(int pid) {
    const auto text = slurp(proc_path(pid, "status"));
    if (!text) {
        return {};
    }
    return {status_kb(*text, "VmRSS"), status_kb(*text, "VmHWM")};
}

bool reset_peak_rss(int pid) {
    std::ofstream out(proc_path(pid, "clear_refs"));
    if (!out) {
        return false;
    }
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

std::optional<machine_cpu> machine_cpu_now() {
    const auto text = slurp("/proc/stat");
    if (!text) {
        return std::nullopt;
    }
    std::istringstream in(*text);
    std::string line;
    machine_cpu m;
    bool first = true;
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    while (std::getline(in, line)) {
        if (first) {
            first = false;
            std::istringstream f(line);
            std::string name;
            double v[8] = {};
            f >> name;
            for (double& x : v) {
                f >> x;
            }
            double total = 0;
            for (double x : v) {
                total += x;
            }
            m.busy_s = (total - v[3] - v[4]) / ticks;
            m.steal_s = v[7] / ticks;
        } else if (line.starts_with("cpu") && line.size() > 3 && line[3] >= '0' && line[3] <= '9') {
            ++m.cores;
        }
    }
    return m;
}

bool process_alive(int pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

std::uint64_t raise_nofile_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) {
        return 0;
    }
    if (r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
        getrlimit(RLIMIT_NOFILE, &r);
    }
    return r.rlim_cur;
}

machine_info describe_machine() {
    machine_info m;
    m.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    if (const auto cpu = slurp("/proc/cpuinfo")) {
        const auto at = cpu->find("model name");
        if (at != std::string::npos) {
            const auto colon = cpu->find(':', at);
            const auto end = cpu->find('\n', at);
            if (colon != std::string::npos && colon < end) {
                m.cpu_model = cpu->substr(colon + 2, end - colon - 2);
            }
        }
    }
    if (const auto mem = slurp("/proc/meminfo")) {
        m.mem_total_kb = status_kb(*mem, "MemTotal").value_or(0);
    }
    return m;
}

}  // namespace monochat::bench
