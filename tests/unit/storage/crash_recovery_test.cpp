// Crash test of the RocksDB message log: a child process appends as fast as it can from several
// threads and reports every acknowledged append on a pipe; the parent SIGKILLs it at a random
// moment, reopens the log and checks the delivery guarantees (shared/protocol.md, "Delivery
// guarantees"): every acknowledged message is there with its seq, no conversation has a gap,
// and the next append continues at last_seq + 1. Twenty rounds on one directory, so recovery
// also runs over the leftovers of earlier crashes.
//
// The child is this test binary itself, started with posix_spawn (fork + exec): forking a
// process that has RocksDB's background threads and then using RocksDB in the child is unsafe.

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

#include "unit/storage/message_log_test_support.hpp"

namespace {

namespace net = boost::asio;
namespace fs = std::filesystem;
using namespace monochat;
using namespace monochat::storage;
using clock_type = std::chrono::steady_clock;

constexpr const char* child_dir_env = "MONOCHAT_CRASH_CHILD_DIR";
constexpr int child_fd = 3;
constexpr int rounds = 20;
const std::vector<std::string> conversations = {"world", "group:1", "dm:1:2"};

struct crash_dir {
    fs::path path;
    crash_dir() {
        path = fs::temp_directory_path() / fmt::format("monochat-crash-{}", ::getpid());
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~crash_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

using test::run;

message_log_options crash_options(const std::string& path) {
    message_log_options o;
    o.path = path;
    o.sync = sync_mode::always;
    return o;
}

struct ack {
    std::uint64_t seq = 0;
    std::uint64_t message_id = 0;
    std::uint64_t sender_id = 0;
    std::string client_msg_id;
};

// Starts this binary as the child; returns its pid and the read end of its ack pipe.
std::pair<pid_t, int> spawn_child(const std::string& dir) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    // Keep the write end off fd 3, where dup2 onto itself would leave close-on-exec set.
    const int write_end = ::fcntl(fds[1], F_DUPFD_CLOEXEC, 10);
    REQUIRE(write_end >= 10);
    ::close(fds[1]);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, write_end, child_fd);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);

    std::vector<std::string> env_storage;
    for (char** e = environ; *e != nullptr; ++e) {
        env_storage.emplace_back(*e);
    }
    env_storage.push_back(fmt::format("{}={}", child_dir_env, dir));
    std::vector<char*> envp;
    for (auto& e : env_storage) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    std::string exe = "/proc/self/exe";
    std::string tag = "[.crash_child]";
    char* argv[] = {exe.data(), tag.data(), nullptr};

    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(write_end);
    REQUIRE(rc == 0);
    return {pid, fds[0]};
}

// Reads from `fd` into `buffer` until `deadline`; false at end of file.
bool read_until(int fd, std::string& buffer, clock_type::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now())
                .count();
        if (left <= 0) {
            return true;
        }
        pollfd p{fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(left));
        if (ready <= 0) {
            continue;
        }
        char chunk[65536];
        const ssize_t n = ::read(fd, chunk, sizeof(chunk));
        if (n == 0) {
            return false;
        }
        if (n > 0) {
            buffer.append(chunk, static_cast<std::size_t>(n));
        }
    }
}

}  // namespace

// Not a test by itself: the child half of the crash test, hidden from normal runs.
TEST_CASE("crash child appends until it is killed", "[.crash_child]") {
    const char* dir = std::getenv(child_dir_env);
    if (dir == nullptr) {
        return;
    }
    auto opened = open_rocksdb_message_log(crash_options(dir));
    if (!opened) {
        std::_Exit(2);
    }
    auto log = std::move(*opened);
    const std::string ready = "ready\n";
    if (::write(child_fd, ready.data(), ready.size()) < 0) {
        std::_Exit(3);
    }
    std::atomic<std::uint64_t> counter{0};
    const std::uint64_t pid = static_cast<std::uint64_t>(::getpid());
    std::vector<std::thread> writers;
    for (int t = 0; t < 6; ++t) {
        writers.emplace_back([&, t] {
            // A safety net: the parent kills the child long before this.
            const auto give_up = clock_type::now() + std::chrono::seconds(20);
            for (std::uint64_t i = 0; clock_type::now() < give_up; ++i) {
                append_request req;
                req.conversation_id = conversations[(static_cast<std::size_t>(t) + i) % 3];
                req.sender_id = static_cast<std::uint64_t>(t) + 1;
                req.client_msg_id = fmt::format("{}-{}-{}", pid, t, i);
                req.message_id = (pid << 32) | counter.fetch_add(1);
                req.body = R"({"type":"text","text":"crash test"})";
                auto done = std::make_shared<std::promise<result<append_result>>>();
                auto future = done->get_future();
                log->append_async(
                    req, [done](result<append_result> r) { done->set_value(std::move(r)); });
                auto out = future.get();
                if (!out) {
                    std::_Exit(4);
                }
                // One write() of less than PIPE_BUF bytes: lines never interleave.
                const std::string line =
                    fmt::format("{} {} {} {} {}\n", out->message.conversation_id, out->message.seq,
                                out->message.message_id, req.sender_id, req.client_msg_id);
                if (::write(child_fd, line.data(), line.size()) < 0) {
                    std::_Exit(5);
                }
            }
        });
    }
    for (auto& w : writers) {
        w.join();
    }
    std::_Exit(0);
}

TEST_CASE("acknowledged appends survive a SIGKILL at a random moment", "[message_log][crash]") {
    crash_dir dir;
    const std::string path = (dir.path / "messages").string();
    const auto seed = std::random_device{}();
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> delay_ms(1, 300);

    std::map<std::string, std::map<std::uint64_t, ack>> acked;
    std::size_t total_acked = 0;
    for (int round = 0; round < rounds; ++round) {
        INFO("round " << round);
        auto [pid, fd] = spawn_child(path);
        std::string buffer;
        // Wait for the child's log to be open, then let it append for 1-300 ms.
        const auto start_deadline = clock_type::now() + std::chrono::seconds(20);
        while (buffer.find("ready\n") == std::string::npos && clock_type::now() < start_deadline) {
            REQUIRE(read_until(fd, buffer, clock_type::now() + std::chrono::milliseconds(10)));
        }
        REQUIRE(buffer.find("ready\n") != std::string::npos);
        const int delay = delay_ms(rng);
        read_until(fd, buffer, clock_type::now() + std::chrono::milliseconds(delay));
        REQUIRE(::kill(pid, SIGKILL) == 0);
        int wstatus = 0;
        REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
        REQUIRE(WIFSIGNALED(wstatus));  // still appending when killed, never failed by itself
        while (read_until(fd, buffer, clock_type::now() + std::chrono::seconds(5))) {
        }
        ::close(fd);

        std::istringstream lines(buffer.substr(buffer.find("ready\n") + 6));
        std::vector<std::pair<std::string, ack>> this_round;
        std::string conversation;
        ack a;
        while (lines >> conversation >> a.seq >> a.message_id >> a.sender_id >> a.client_msg_id) {
            REQUIRE(acked[conversation].emplace(a.seq, a).second);  // no seq acked twice
            this_round.emplace_back(conversation, a);
        }
        total_acked += this_round.size();

        auto opened = open_rocksdb_message_log(crash_options(path));
        REQUIRE(opened.has_value());
        auto& log = **opened;
        for (const auto& c : conversations) {
            const std::uint64_t last = log.last_seq(c);
            const auto& expected = acked[c];
            if (!expected.empty()) {
                REQUIRE(last >= expected.rbegin()->first);
            }
            // The whole conversation, page by page: seqs 1..last with no gap.
            std::uint64_t next = 1;
            for (bool more = true; more;) {
                auto page = run(log.read_after(c, next - 1, 1000));
                REQUIRE(page.has_value());
                for (const auto& m : page->messages) {
                    REQUIRE(m.seq == next);
                    if (const auto it = expected.find(m.seq); it != expected.end()) {
                        REQUIRE(m.message_id == it->second.message_id);
                        REQUIRE(m.client_msg_id == it->second.client_msg_id);
                    }
                    ++next;
                }
                more = page->has_more;
            }
            REQUIRE(next == last + 1);

            // The next append continues at last_seq + 1.
            append_request req;
            req.conversation_id = c;
            req.sender_id = 1000;
            req.client_msg_id = fmt::format("parent-{}-{}", round, c);
            req.message_id = static_cast<std::uint64_t>(round) + 1;
            req.body = "{}";
            auto appended = run(log.append(req));
            REQUIRE(appended.has_value());
            REQUIRE(appended->message.seq == last + 1);
            acked[c].emplace(appended->message.seq, ack{appended->message.seq, req.message_id,
                                                        req.sender_id, req.client_msg_id});
        }
        // Retries of the last acknowledged appends are answered with the original.
        for (std::size_t i = this_round.size() >= 3 ? this_round.size() - 3 : 0;
             i < this_round.size(); ++i) {
            const auto& [c, original] = this_round[i];
            append_request retry;
            retry.conversation_id = c;
            retry.sender_id = original.sender_id;
            retry.client_msg_id = original.client_msg_id;
            retry.message_id = 1;
            retry.body = "{}";
            auto out = run(log.append(retry));
            REQUIRE(out.has_value());
            REQUIRE(out->duplicate);
            REQUIRE(out->message.seq == original.seq);
            REQUIRE(out->message.message_id == original.message_id);
        }
    }
    // Not a REQUIRE on the rate: only that the child did get to append in most rounds.
    CHECK(total_acked > static_cast<std::size_t>(rounds));
}
