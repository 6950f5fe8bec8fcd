#include "storage/sqlite_threads.hpp"

#include <chrono>
#include <monochat/infra/thread_name.hpp>

namespace monochat::storage::sqlite {

// ---- writer ----

writer::writer(std::unique_ptr<connection> conn, std::size_t max_batch, thread_metrics metrics)
    : conn_(std::move(conn)), max_batch_(max_batch == 0 ? 1 : max_batch), metrics_(metrics) {
    thread_ = std::thread([this] {
        infra::name_this_thread("mc-sqlite-write");
        loop();
    });
}

writer::~writer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void writer::submit(std::unique_ptr<write_job> job) {
    {
        std::lock_guard lock(mutex_);
        if (!stopping_) {
            queue_.push_back(std::move(job));
            job = nullptr;
        }
    }
    if (job) {
        const error closed = make_error(errc::unavailable, "social store is closing");
        job->complete(&closed);
        return;
    }
    wake_.notify_one();
}

std::size_t writer::queue_depth() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void writer::loop() {
    std::vector<std::unique_ptr<write_job>> batch;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) {
                return;  // stopping, and everything queued before has been completed
            }
            while (!queue_.empty() && batch.size() < max_batch_) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        run_batch(batch);
        batch.clear();
    }
}

void writer::run_batch(std::vector<std::unique_ptr<write_job>>& jobs) {
    const auto started = std::chrono::steady_clock::now();
    if (metrics_.batches != nullptr) {
        metrics_.batches->inc();
        metrics_.writes->inc(jobs.size());
    }
    // Per job: nullopt while its outcome follows the batch's commit; an error once decided.
    // Jobs that failed by themselves are marked `own_failure` and keep their own error.
    std::vector<std::optional<error>> outcome(jobs.size());
    std::vector<bool> own_failure(jobs.size(), false);
    std::size_t segment_start = 0;  // first job of the open transaction
    bool open = false;

    const auto fail_segment = [&](std::size_t end, const error& e) {
        for (std::size_t j = segment_start; j < end; ++j) {
            if (!own_failure[j]) {
                outcome[j] = e;
            }
        }
    };

    for (std::size_t i = 0; i < jobs.size(); ++i) {
        if (!open) {
            if (auto st = conn_->exec("BEGIN IMMEDIATE;"); !st) {
                outcome[i] = st.error();
                own_failure[i] = true;
                segment_start = i + 1;
                continue;
            }
            open = true;
            segment_start = i;
        }
        if (auto st = conn_->exec("SAVEPOINT job;"); !st) {
            outcome[i] = st.error();
            own_failure[i] = true;
            continue;
        }
        if (jobs[i]->run(*conn_)) {
            if (auto st = conn_->exec("RELEASE job;"); !st) {
                // Cannot happen for a nested savepoint short of memory; treat as a failure of
                // the transaction so far.
                fail_segment(i + 1, st.error());
                (void)conn_->exec("ROLLBACK;");  // deliberately dropped: already failing
                open = false;
                segment_start = i + 1;
            }
            continue;
        }
        own_failure[i] = true;
        if (metrics_.write_errors != nullptr) {
            metrics_.write_errors->inc();
        }
        if (conn_->in_transaction()) {
            // The job's partial writes go; the batch's other jobs stay.
            if (auto st = conn_->exec("ROLLBACK TO job; RELEASE job;"); st) {
                continue;
            }
            (void)conn_->exec("ROLLBACK;");  // deliberately dropped: the batch already fails
        }
        // SQLite rolled the whole transaction back: the earlier jobs of it are lost too.
        fail_segment(i, make_error(errc::unavailable,
                                   "write rolled back with its batch after a storage error"));
        open = false;
        segment_start = i + 1;
    }
    if (open) {
        if (auto st = conn_->exec("COMMIT;"); !st) {
            if (conn_->in_transaction()) {
                (void)conn_->exec("ROLLBACK;");  // deliberately dropped: COMMIT's error wins
            }
            fail_segment(jobs.size(), st.error());
        }
    }
    if (metrics_.commit_seconds != nullptr) {
        metrics_.commit_seconds->observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        if (own_failure[i] && !outcome[i]) {
            jobs[i]->complete(nullptr);  // its own error
        } else if (own_failure[i]) {
            jobs[i]->complete(&*outcome[i]);
        } else {
            jobs[i]->complete(outcome[i] ? &*outcome[i] : nullptr);
        }
    }
}

// ---- reader_pool ----

reader_pool::reader_pool(std::vector<std::unique_ptr<connection>> conns, thread_metrics metrics)
    : free_(std::move(conns)), metrics_(metrics), pool_(free_.size()) {}

reader_pool::~reader_pool() { pool_.join(); }

reader_pool::lease::lease(reader_pool& pool) : pool_(pool) {
    std::unique_lock lock(pool_.mutex_);
    // As many threads as connections: a running task always finds one free.
    pool_.released_.wait(lock, [this] { return !pool_.free_.empty(); });
    conn_ = std::move(pool_.free_.back());
    pool_.free_.pop_back();
}

reader_pool::lease::~lease() {
    {
        std::lock_guard lock(pool_.mutex_);
        pool_.free_.push_back(std::move(conn_));
    }
    pool_.released_.notify_one();
}

}  // namespace monochat::storage::sqlite
