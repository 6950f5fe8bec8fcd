#pragma once
// Where SQLite work runs: one writer thread with the only write connection, which
// group-commits, and a pool of reader threads with one read connection each. Both complete
// awaitables on the awaiting coroutine's executor.
//
// Group commit (after rocksdb db/write_thread.h). Locking contract: `mutex_` guards `queue_` and
// `stopping_` only; the connection is touched by the writer thread alone, with no lock held.
// The writer takes every pending job (at most max_batch), runs them in ONE transaction, each
// inside its own SAVEPOINT so that a job that fails leaves no trace, commits once (one fsync
// with synchronous=FULL) and only then completes every job of the batch. A job's result is
// therefore never visible to its caller before it is durable, and a failed commit fails every
// job of the batch. When SQLite rolls the whole transaction back by itself (SQLITE_FULL, IOERR,
// NOMEM: see connection::in_transaction), the jobs run so far in it fail with that error and
// the rest of the batch continues in a new transaction.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <monochat/infra/blocking.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/infra/result.hpp>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "storage/sqlite_db.hpp"

namespace monochat::storage::sqlite {

class write_job {
public:
    virtual ~write_job() = default;
    // Runs on the writer thread inside the batch transaction (within its own savepoint).
    // Returns false when the job failed; its savepoint is then rolled back.
    virtual bool run(connection& conn) noexcept = 0;
    // Completes the waiter: with the job's own result, or with `batch_error` when the batch it
    // succeeded in was not committed.
    virtual void complete(const error* batch_error) noexcept = 0;
};

struct thread_metrics {
    infra::counter* batches = nullptr;
    infra::counter* writes = nullptr;
    infra::counter* write_errors = nullptr;
    infra::counter* reads = nullptr;
    infra::histogram* commit_seconds = nullptr;
};

class writer {
public:
    // Takes the write connection (already migrated) and starts the writer thread.
    writer(std::unique_ptr<connection> conn, std::size_t max_batch, thread_metrics metrics);
    // Completes every queued job, then joins the thread.
    ~writer();
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    // Jobs submitted after stop() began complete at once with unavailable.
    void submit(std::unique_ptr<write_job> job);
    std::size_t queue_depth() const;

    // Runs `fn(connection&) -> result<T>` as one write job; see the header comment.
    template <class T, class F>
    boost::asio::awaitable<result<T>> write(F fn) {
        return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(result<T>)>(
            [this](auto handler, F f) {
                using handler_type = decltype(handler);
                submit(std::make_unique<job<T, F, handler_type>>(std::move(f), std::move(handler)));
            },
            boost::asio::use_awaitable, std::move(fn));
    }

private:
    template <class T, class F, class Handler>
    class job final : public write_job {
    public:
        job(F fn, Handler handler) : fn_(std::move(fn)), handler_(std::move(handler)) {}

        bool run(connection& conn) noexcept override {
            try {
                out_.emplace(fn_(conn));
            } catch (const std::exception& e) {
                out_.emplace(make_error(errc::internal, e.what()));
            }
            return out_->has_value();
        }

        void complete(const error* batch_error) noexcept override {
            result<T> r = (!out_ || (batch_error != nullptr && out_->has_value()))
                              ? result<T>(boost::system::in_place_error,
                                          batch_error != nullptr
                                              ? *batch_error
                                              : make_error(errc::unavailable, "store closed"))
                              : std::move(*out_);
            auto ex = boost::asio::get_associated_executor(handler_);
            boost::asio::dispatch(ex, [h = std::move(handler_), r = std::move(r)]() mutable {
                std::move(h)(std::move(r));
            });
        }

    private:
        F fn_;
        Handler handler_;
        std::optional<result<T>> out_;
    };

    void loop();
    void run_batch(std::vector<std::unique_ptr<write_job>>& jobs);

    std::unique_ptr<connection> conn_;
    const std::size_t max_batch_;
    thread_metrics metrics_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::unique_ptr<write_job>> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

class reader_pool {
public:
    // One thread per connection, so a task never waits for a free connection.
    reader_pool(std::vector<std::unique_ptr<connection>> conns, thread_metrics metrics);
    // Finishes the queued reads, then joins the threads.
    ~reader_pool();
    reader_pool(const reader_pool&) = delete;
    reader_pool& operator=(const reader_pool&) = delete;

    // Runs `fn(connection&) -> result<T>` on a reader thread inside one read transaction, so
    // all its statements see the same snapshot.
    template <class T, class F>
    boost::asio::awaitable<result<T>> read(F fn) {
        return infra::run_blocking(pool_.get_executor(),
                                   [this, f = std::move(fn)]() mutable noexcept -> result<T> {
                                       lease l(*this);
                                       return run_read<T>(l.conn(), f);
                                   });
    }

    // Runs `fn(connection&) -> result<T>` on a reader thread with no transaction around it
    // (the online backup manages its own).
    template <class T, class F>
    boost::asio::awaitable<result<T>> run(F fn) {
        return infra::run_blocking(pool_.get_executor(),
                                   [this, f = std::move(fn)]() mutable noexcept -> result<T> {
                                       lease l(*this);
                                       try {
                                           return f(l.conn());
                                       } catch (const std::exception& e) {
                                           return make_error(errc::internal, e.what());
                                       }
                                   });
    }

private:
    class lease {
    public:
        explicit lease(reader_pool& pool);
        ~lease();
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        connection& conn() { return *conn_; }

    private:
        reader_pool& pool_;
        std::unique_ptr<connection> conn_;
    };

    template <class T, class F>
    result<T> run_read(connection& conn, F& fn) noexcept {
        if (metrics_.reads != nullptr) {
            metrics_.reads->inc();
        }
        try {
            auto tx = transaction::begin(conn, false);
            if (!tx) {
                return tx.error();
            }
            result<T> r = fn(conn);
            if (auto st = tx->commit(); !st && r.has_value()) {
                return st.error();
            }
            return r;
        } catch (const std::exception& e) {
            return make_error(errc::internal, e.what());
        }
    }

    std::mutex mutex_;
    std::condition_variable released_;
    std::vector<std::unique_ptr<connection>> free_;
    thread_metrics metrics_;
    boost::asio::thread_pool pool_;  // last: its threads use the members above
};

}  // namespace monochat::storage::sqlite
