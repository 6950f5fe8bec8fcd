#pragma once
// The monochat process under test: written config, fork/exec, the bound port read from the
// `msg=listening addr=` log line, /readyz polled until 200, SIGKILL and reap. The data dir is
// the caller's and outlives every run, so a restart finds what the killed process left.

#include <sys/types.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

namespace monochat::chaos {

class server {
public:
    // `binary`: path of monochat; `work_dir`: holds the config and the log; `config`: the
    // whole config file (server.port is forced to 0, storage.data_dir to `data_dir`).
    server(std::string binary, std::string work_dir, std::string data_dir, nlohmann::json config);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Starts and waits until /readyz answers 200; returns the time that took. Throws
    // std::runtime_error (with the tail of the log) when the process exits or is not ready
    // within `timeout`.
    std::chrono::milliseconds start(std::chrono::milliseconds timeout);
    // SIGKILL and reap.
    void kill9();
    // SIGTERM and wait up to `timeout`; SIGKILL after that. True when it exited by itself.
    bool stop(std::chrono::milliseconds timeout);
    // True while the process has not exited (reaps it when it has).
    bool alive();

    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    const std::string& data_dir() const { return data_dir_; }
    // The last `bytes` of the log of every run so far.
    std::string log_tail(std::size_t bytes = 4000) const;

private:
    std::string binary_;
    std::string work_dir_;
    std::string data_dir_;
    nlohmann::json config_;
    pid_t pid_ = -1;
    int port_ = 0;
};

}  // namespace monochat::chaos
