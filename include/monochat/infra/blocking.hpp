#pragma once
// Running blocking work (disk, SQLite, RocksDB reads, password hashing) off the network
// threads: `co_await run_blocking(pool, fn)` runs `fn()` on `pool` and resumes the calling
// coroutine on its own executor (its strand) with the value `fn` returned.
//
// `fn` must not throw: an exception escaping it terminates the process (blocking work reports
// failure as a result<T> value).

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace monochat::infra {

template <class Executor, class F, class R = std::invoke_result_t<F&>>
boost::asio::awaitable<R> run_blocking(Executor pool, F fn) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(R)>(
        [pool](auto handler, F f) {
            boost::asio::post(pool, [h = std::move(handler), f = std::move(f)]() mutable noexcept {
                R value = f();
                auto ex = boost::asio::get_associated_executor(h);
                boost::asio::dispatch(ex, [h = std::move(h), v = std::move(value)]() mutable {
                    std::move(h)(std::move(v));
                });
            });
        },
        boost::asio::use_awaitable, std::move(fn));
}

}  // namespace monochat::infra
