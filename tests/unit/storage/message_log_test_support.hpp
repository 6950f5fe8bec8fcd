#pragma once
// Shared by the message log's unit tests: a scratch directory per test and a way to run one
// awaitable to completion from the test thread.

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

namespace monochat::storage::test {

// A fresh directory per test, removed afterwards (rocksdb DBTestBase, duckdb TestCreatePath).
// `name` tells the suites' directories apart in /tmp.
struct scratch_dir {
    std::filesystem::path path;
    explicit scratch_dir(const std::string& name = "message-log") {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() /
               fmt::format("monochat-{}-{}-{}", name, ::getpid(), counter.fetch_add(1));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
};

// Runs one awaitable to completion. The io_context lives as long as the thread: a pool thread
// that has just posted a completion may still be inside the io_context's wake-up call when
// run() returns, so a per-call io_context would be destroyed under it.
template <class T>
T run(boost::asio::awaitable<T> op) {
    thread_local boost::asio::io_context ioc;
    ioc.restart();
    std::optional<T> out;
    boost::asio::co_spawn(
        ioc, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await std::move(op)); },
        boost::asio::detached);
    ioc.run();
    return std::move(*out);
}

}  // namespace monochat::storage::test
