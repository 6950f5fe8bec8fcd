#pragma once
// Integration-test fixture: the real monochat binary on an ephemeral port with its own data
// directory. Starting writes a config file (port 0, data dir inside a temp dir, plus the
// caller's overrides), execs the binary, reads the bound address from its "listening" log
// line and polls /readyz until it answers 200. The destructor sends SIGTERM and, if the
// process is still there after 10 s, SIGKILL; the temp dir goes with the fixture.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace monochat::test {

// Path of the built monochat binary (set by CMake).
std::string monochat_binary();

struct exit_info {
    bool exited = false;  // false: still running at the deadline
    int code = -1;        // exit status when exited normally
    int signal = 0;       // terminating signal, 0 if none
};

class server_process {
public:
    // `overrides` is merged into the generated config (e.g. {"limits": {"send_rate": 1000}}).
    explicit server_process(nlohmann::json overrides = nlohmann::json::object(),
                            std::map<std::string, std::string> env = {});
    ~server_process();
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    // Starts the process and waits until it is ready (throws on failure or after `timeout`).
    void start(std::chrono::milliseconds timeout = std::chrono::milliseconds(20000));
    // SIGTERM, then waits up to `timeout` for the exit.
    exit_info stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
    // SIGKILL and reap (crash simulation); the data dir stays for a restart.
    void kill9();
    void signal(int sig);
    exit_info wait(std::chrono::milliseconds timeout);

    bool running() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }
    const std::string& host() const { return host_; }
    int port() const { return port_; }
    std::string data_dir() const;
    std::string config_path() const;
    // Everything the process wrote to stdout and stderr so far (all runs).
    std::string log() const;
    // Replaces the config overrides for the next start (keeps the data dir).
    void set_overrides(nlohmann::json overrides) { overrides_ = std::move(overrides); }
    // How start() asks whether the server is ready; by default GET /readyz over plain HTTP is
    // 200 (a TLS-only server needs an HTTPS probe).
    std::function<bool(const std::string& host, int port)> ready_probe;

private:
    temp_dir dir_;
    nlohmann::json overrides_;
    std::map<std::string, std::string> env_;
    pid_t pid_ = -1;
    std::string host_ = "127.0.0.1";
    int port_ = 0;
    std::size_t log_offset_ = 0;  // where the current run's lines begin
};

// Runs the binary with `args` and extra environment, to completion; returns the exit status
// and combined output. For tests of command-line behaviour and configuration errors.
struct run_result {
    exit_info exit;
    std::string output;
};
run_result run_monochat(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {},
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

// Polls `pred` every 10 ms until it returns true or `timeout` passes.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) {
            return true;
        }
        struct timespec ts{0, 10'000'000};
        nanosleep(&ts, nullptr);
    }
    return pred();
}

}  // namespace monochat::test
