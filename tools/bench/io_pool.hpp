#pragma once
// The generator's io threads: one io_context per thread, so that everything a connection does
// runs on one thread without strands or locks. Objects that async work refers to must outlive
// stop().

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace monochat::bench {

class io_pool {
public:
    explicit io_pool(std::size_t threads) {
        for (std::size_t i = 0; i < threads; ++i) {
            contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
            guards_.emplace_back(contexts_.back()->get_executor());
        }
        for (std::size_t i = 0; i < threads; ++i) {
            threads_.emplace_back([c = contexts_[i].get()] { c->run(); });
        }
    }
    ~io_pool() { stop(); }
    io_pool(const io_pool&) = delete;
    io_pool& operator=(const io_pool&) = delete;

    std::size_t size() const { return contexts_.size(); }
    boost::asio::io_context& at(std::size_t i) { return *contexts_[i % contexts_.size()]; }

    // Runs f() on thread i and waits for its result.
    template <class F>
    auto call(std::size_t i, F f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto done = task.get_future();
        boost::asio::post(at(i), [&task] { task(); });
        return done.get();
    }

    // Stops every io_context and joins the threads; pending handlers are not run.
    void stop() {
        guards_.clear();
        for (auto& c : contexts_) {
            c->stop();
        }
        for (auto& t : threads_) {
            if (t.joinable()) {
                t.join();
            }
        }
    }

private:
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
    std::vector<std::thread> threads_;
};

}  // namespace monochat::bench
