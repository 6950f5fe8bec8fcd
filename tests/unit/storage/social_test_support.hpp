#pragma once
// Helpers for the social store's tests: a temporary directory per test, a fixture that opens
// (and reopens) the SQLite store in it, and `run()` to drive an awaitable to completion from
// plain test code.

#include <stdlib.h>  // mkdtemp

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <exception>
#include <filesystem>
#include <future>
#include <memory>
#include <monochat/infra/metrics.hpp>
#include <monochat/infra/result.hpp>
#include "support/social_store.hpp"
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace monochat::storage::test {

// A fresh directory under the system temp dir, removed with its contents afterwards.
class scratch_dir {
public:
    scratch_dir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "monochat-social-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            FAIL("mkdtemp failed for " << pattern);
        }
        path_ = pattern;
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// One io_context for the whole test process, run by one thread that lives until exit. Tests
// co_spawn their awaitables onto it and wait for the result. (An io_context per call would be
// destroyed while a store thread may still be returning from posting the completion to it:
// ThreadSanitizer rightly reports that.)
class io_runner {
public:
    static io_runner& instance() {
        static io_runner runner;
        return runner;
    }
    ~io_runner() {
        guard_.reset();
        thread_.join();
    }
    io_runner(const io_runner&) = delete;
    io_runner& operator=(const io_runner&) = delete;

    boost::asio::io_context::executor_type executor() { return ioc_.get_executor(); }

private:
    io_runner() : guard_(boost::asio::make_work_guard(ioc_)), thread_([this] { ioc_.run(); }) {}

    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::thread thread_;
};

// Starts `aw` on the shared io_context; the future holds its value. The store resumes the
// coroutine there, as it would resume a network thread's coroutine.
template <class T>
std::future<T> spawn(boost::asio::awaitable<T> aw) {
    std::promise<T> promise;
    std::future<T> future = promise.get_future();
    // The handler owns the promise, so it is never destroyed while being fulfilled.
    boost::asio::co_spawn(io_runner::instance().executor(), std::move(aw),
                          [p = std::move(promise)](std::exception_ptr e, T value) mutable {
                              if (e) {
                                  p.set_exception(e);
                              } else {
                                  p.set_value(std::move(value));
                              }
                          });
    return future;
}

// Runs `aw` to completion and returns its value.
template <class T>
T run(boost::asio::awaitable<T> aw) {
    return spawn(std::move(aw)).get();
}

// The value of a result that must have succeeded; fails the test with the error otherwise.
template <class T>
T value_of(result<T> r) {
    if (!r) {
        FAIL("unexpected error " << to_string(r.error().code) << ": " << r.error().message);
    }
    if constexpr (!std::is_void_v<T>) {
        return std::move(*r);
    }
}

// The code of a result that must have failed.
template <class T>
errc error_of(const result<T>& r) {
    if (r) {
        FAIL("expected an error, got a value");
    }
    INFO(r.error().message);
    return r.error().code;
}

struct social_fixture {
    scratch_dir dir;
    infra::metrics_registry metrics;
    // The roles; `store` sees them as one store (as they were when opened).
    social_stores stores;
    std::unique_ptr<social_store> store;

    explicit social_fixture(std::size_t readers = 2) : readers_(readers) { reopen(); }

    std::string db_path() const { return dir.file("social.db"); }

    sqlite_social_store_options options() const {
        sqlite_social_store_options o;
        o.path = db_path();
        o.readers = readers_;
        // NORMAL keeps the suite fast on slow disks; FULL is covered by its own test.
        o.synchronous_full = false;
        return o;
    }

    // Closes the store (completing pending writes) and opens the same file again.
    void reopen() {
        store.reset();
        stores = social_stores{};
        stores = value_of(open_sqlite_social_stores(options(), metrics));
        store = make_social_store(stores);
    }

    template <class T>
    T run(boost::asio::awaitable<T> aw) {
        return test::run(std::move(aw));
    }

    user_record add_user(std::uint64_t id, const std::string& username, bool guest = false) {
        user_record u;
        u.id = id;
        u.username = username;
        u.display_name = "name of " + username;
        u.password_hash = guest ? "" : "$argon2id$fake";
        u.guest = guest;
        u.created_ms = 1000 + static_cast<std::int64_t>(id);
        return value_of(run(store->create_user(u)));
    }

private:
    std::size_t readers_;
};

}  // namespace monochat::storage::test
