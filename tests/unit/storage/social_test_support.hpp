#pragma once
// Helpers for the social store's tests: a temporary directory per test, a fixture that opens
// (and reopens) the SQLite store in it, and `run()` to drive an awaitable to completion on a
// private io_context from plain test code.

#include <stdlib.h>  // mkdtemp

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <exception>
#include <filesystem>
#include <memory>
#include <monochat/infra/metrics.hpp>
#include <monochat/infra/result.hpp>
#include <monochat/storage/social_store.hpp>
#include <optional>
#include <string>
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

// Runs `aw` on a private io_context until it completes and returns its value. The store
// resumes the coroutine on that io_context, which is what a network thread would see.
template <class T>
T run(boost::asio::awaitable<T> aw) {
    boost::asio::io_context ioc;
    std::optional<T> out;
    std::exception_ptr failure;
    boost::asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T value) {
        if (e) {
            failure = e;
        } else {
            out.emplace(std::move(value));
        }
    });
    ioc.run();
    if (failure) {
        std::rethrow_exception(failure);
    }
    return std::move(*out);
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
        store = value_of(open_sqlite_social_store(options(), metrics));
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
