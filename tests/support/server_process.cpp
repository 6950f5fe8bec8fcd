#include "support/server_process.hpp"
#include "support/run_with_input.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "support/http_client.hpp"

#ifndef MONOCHAT_BINARY
#error "MONOCHAT_BINARY must be defined by the build"
#endif

namespace monochat::test {
namespace {

void merge(nlohmann::json& into, const nlohmann::json& from) {
    for (const auto& [k, v] : from.items()) {
        if (v.is_object() && into.contains(k) && into[k].is_object()) {
            merge(into[k], v);
        } else {
            into[k] = v;
        }
    }
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& log_path, const std::string& stdin_path = "/dev/null") {
    // Everything the child needs is built before fork: between fork and exec only
    // async-signal-safe calls are allowed. The test runner's own MONOCHAT_* settings do not
    // leak into the server under test.
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::string_view(*e).rfind("MONOCHAT_", 0) != 0) {
            env_strings.emplace_back(*e);
        }
    }
    for (const auto& [k, v] : env) {
        env_strings.push_back(k + "=" + v);
    }
    std::vector<char*> envp;
    for (auto& s : env_strings) {
        envp.push_back(s.data());
    }
    envp.push_back(nullptr);
    std::vector<char*> argv;
    for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            ::close(fd);
        }
        const int in = ::open(stdin_path.c_str(), O_RDONLY);
        if (in >= 0) {
            ::dup2(in, 0);
            ::close(in);
        }
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    return pid;
}

exit_info wait_pid(pid_t pid, std::chrono::milliseconds timeout) {
    exit_info info;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            info.exited = true;
            if (WIFEXITED(status)) {
                info.code = WEXITSTATUS(status);
            } else if (WIFSIGNALED(status)) {
                info.signal = WTERMSIG(status);
            }
            return info;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return info;
        }
        struct timespec ts{0, 5'000'000};
        nanosleep(&ts, nullptr);
    }
}

}  // namespace

std::string monochat_binary() {
    // The test command also runs the integration tests against the Release binary that the
    // run command builds (scripts/test.sh): MONOCHAT_TEST_SERVER names it.
    if (const char* other = std::getenv("MONOCHAT_TEST_SERVER"); other != nullptr && *other != '\0') {
        return other;
    }
    return MONOCHAT_BINARY;
}

server_process::server_process(nlohmann::json overrides, std::map<std::string, std::string> env)
    : overrides_(std::move(overrides)), env_(std::move(env)) {}

server_process::~server_process() {
    if (pid_ > 0) {
        auto info = stop(std::chrono::milliseconds(10000));
        if (!info.exited) {
            kill9();
        } else if (info.code != 0 || info.signal != 0) {
            // A graceful stop ends with status 0. Anything else is a crash during shutdown or a
            // sanitizer report at exit (LeakSanitizer checks there): the test that ran it fails.
            const auto text = log();
            const auto tail = text.size() > 4000 ? text.substr(text.size() - 4000) : text;
            FAIL_CHECK("monochat exited with status " << info.code << " (signal " << info.signal
                                                      << ") after SIGTERM; the end of its log:\n"
                                                      << tail);
        }
    }
}

std::string server_process::data_dir() const { return (dir_.path() / "data").string(); }
std::string server_process::config_path() const { return (dir_.path() / "monochat.json").string(); }
std::string server_process::log() const { return read_file((dir_.path() / "server.log").string()); }

void server_process::start(std::chrono::milliseconds timeout) {
    nlohmann::json cfg = {
        {"server", {{"host", host_}, {"port", 0}}},
        {"storage", {{"data_dir", data_dir()}}},
        {"log", {{"level", "info"}}},
    };
    merge(cfg, overrides_);
    {
        std::ofstream out(config_path());
        out << cfg.dump(2);
    }
    const std::string log_path = (dir_.path() / "server.log").string();
    log_offset_ = log().size();
    pid_ = spawn({monochat_binary(), "--config", config_path()}, env_, log_path);

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    static const std::regex listening(R"(msg=listening addr=([0-9.]+):([0-9]+))");
    port_ = 0;
    while (port_ == 0) {
        std::smatch m;
        const std::string text = log().substr(log_offset_);
        if (std::regex_search(text, m, listening)) {
            port_ = std::stoi(m[2].str());
            break;
        }
        if (auto info = wait_pid(pid_, std::chrono::milliseconds(0)); info.exited) {
            pid_ = -1;
            throw std::runtime_error("monochat exited during start-up:\n" + text);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            throw std::runtime_error("monochat did not log its address in time:\n" + text);
        }
        struct timespec ts{0, 10'000'000};
        nanosleep(&ts, nullptr);
    }
    http_client http(host_, port_);
    http.timeout = std::chrono::milliseconds(2000);
    const bool ready = wait_until(
        [&] {
            try {
                return ready_probe ? ready_probe(host_, port_) : http.get("/readyz").status == 200;
            } catch (const std::exception&) {
                return false;
            }
        },
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
    if (!ready) {
        throw std::runtime_error("monochat did not become ready in time:\n" + log());
    }
}

void server_process::signal(int sig) {
    if (pid_ > 0) {
        ::kill(pid_, sig);
    }
}

exit_info server_process::wait(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) {
        return {};
    }
    auto info = wait_pid(pid_, timeout);
    if (info.exited) {
        pid_ = -1;
    }
    return info;
}

exit_info server_process::stop(std::chrono::milliseconds timeout) {
    signal(SIGTERM);
    return wait(timeout);
}

void server_process::kill9() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        wait_pid(pid_, std::chrono::milliseconds(10000));
        pid_ = -1;
    }
}

run_result run_monochat(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env,
                        std::chrono::milliseconds timeout) {
    return run_monochat_with_input(args, "", env, timeout);
}

run_result run_monochat_with_input(const std::vector<std::string>& args,
                                   const std::string& stdin_text,
                                   const std::map<std::string, std::string>& env,
                                   std::chrono::milliseconds timeout) {
    temp_dir dir;
    const std::string log_path = (dir.path() / "out.log").string();
    const std::string stdin_path = (dir.path() / "in.txt").string();
    {
        std::ofstream in(stdin_path, std::ios::binary);
        in << stdin_text;
    }
    std::vector<std::string> argv{monochat_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    const pid_t pid = spawn(argv, env, log_path, stdin_path);
    run_result r;
    r.exit = wait_pid(pid, timeout);
    if (!r.exit.exited) {
        ::kill(pid, SIGKILL);
        wait_pid(pid, std::chrono::milliseconds(5000));
    }
    r.output = read_file(log_path);
    return r;
}

}  // namespace monochat::test
