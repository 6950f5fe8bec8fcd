#include "chaos/server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "support/http_client.hpp"

extern char** environ;

namespace monochat::chaos {

namespace {

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void sleep_ms(long ms) {
    struct timespec ts {
        ms / 1000, (ms % 1000) * 1'000'000
    };
    nanosleep(&ts, nullptr);
}

}  // namespace

server::server(std::string binary, std::string work_dir, std::string data_dir,
               nlohmann::json config)
    : binary_(std::move(binary)),
      work_dir_(std::move(work_dir)),
      data_dir_(std::move(data_dir)),
      config_(std::move(config)) {
    config_["server"]["port"] = 0;
    config_["storage"]["data_dir"] = data_dir_;
    std::ofstream out(work_dir_ + "/monochat.json");
    out << config_.dump(2);
    if (!out) {
        throw std::runtime_error("cannot write " + work_dir_ + "/monochat.json");
    }
}

server::~server() {
    if (pid_ > 0) {
        stop(std::chrono::milliseconds(10000));
    }
}

std::string server::log_tail(std::size_t bytes) const {
    const std::string text = read_all(work_dir_ + "/server.log");
    return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

std::chrono::milliseconds server::start(std::chrono::milliseconds timeout) {
    if (pid_ > 0) {
        throw std::runtime_error("server already running");
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::string log_path = work_dir_ + "/server.log";
    const std::size_t offset = read_all(log_path).size();

    // Everything the child needs is built before fork (only async-signal-safe calls between
    // fork and exec); the caller's MONOCHAT_* settings do not reach the server.
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::string_view(*e).rfind("MONOCHAT_", 0) != 0) {
            env_strings.emplace_back(*e);
        }
    }
    std::vector<char*> envp;
    for (auto& s : env_strings) {
        envp.push_back(s.data());
    }
    envp.push_back(nullptr);
    std::string config_path = work_dir_ + "/monochat.json";
    std::string config_flag = "--config";
    std::vector<char*> argv{binary_.data(), config_flag.data(), config_path.data(), nullptr};

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
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            ::dup2(devnull, 0);
            ::close(devnull);
        }
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    pid_ = pid;
    port_ = 0;

    const auto deadline = t0 + timeout;
    static const std::regex listening(R"(msg=listening addr=([0-9.]+):([0-9]+))");
    while (port_ == 0) {
        std::smatch m;
        const std::string text = read_all(log_path).substr(offset);
        if (std::regex_search(text, m, listening)) {
            port_ = std::stoi(m[2].str());
            break;
        }
        if (!alive()) {
            throw std::runtime_error("monochat exited during start-up:\n" + log_tail());
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            throw std::runtime_error("monochat did not log its address in time:\n" + log_tail());
        }
        sleep_ms(2);
    }
    test::http_client http("127.0.0.1", port_);
    http.timeout = std::chrono::milliseconds(2000);
    for (;;) {
        try {
            if (http.get("/readyz").status == 200) {
                break;
            }
        } catch (const std::exception&) {
        }
        if (!alive()) {
            throw std::runtime_error("monochat exited before it was ready:\n" + log_tail());
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            throw std::runtime_error("monochat did not become ready in time:\n" + log_tail());
        }
        sleep_ms(2);
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t0);
}

bool server::alive() {
    if (pid_ <= 0) {
        return false;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

void server::kill9() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }
}

bool server::stop(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) {
        return true;
    }
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!alive()) {
            return true;
        }
        sleep_ms(5);
    }
    kill9();
    return false;
}

}  // namespace monochat::chaos
