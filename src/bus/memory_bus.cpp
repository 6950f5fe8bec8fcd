#include <monochat/bus/message_bus.hpp>

#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/infra/thread_name.hpp>
#include <mutex>
#include <shared_mutex>
#include <thread>

namespace monochat::bus {
namespace {

// One bounded FIFO per (subscription, partition), drained by its own thread. The consumer
// takes everything queued at once so that a busy partition pays one lock per batch.
class partition_queue {
public:
    explicit partition_queue(std::size_t capacity) : capacity_(capacity) {}

    // Returns false when the queue stays full past the deadline or is stopped.
    bool push(envelope&& e, std::chrono::steady_clock::time_point deadline, bool wait) {
        std::unique_lock lock(mutex_);
        if (items_.size() >= capacity_) {
            if (!wait) {
                return false;
            }
            if (!not_full_.wait_until(lock, deadline,
                                      [&] { return stopped_ || items_.size() < capacity_; })) {
                return false;
            }
        }
        if (stopped_) {
            return false;
        }
        items_.push_back(std::move(e));
        if (items_.size() == 1) {
            not_empty_.notify_one();
        }
        return true;
    }

    // Blocks until there is work or the queue stops; false when stopped and drained.
    bool pop_all(std::deque<envelope>& out) {
        std::unique_lock lock(mutex_);
        not_empty_.wait(lock, [&] { return stopped_ || !items_.empty(); });
        if (items_.empty()) {
            return false;
        }
        out.swap(items_);
        not_full_.notify_all();
        return true;
    }

    void stop() {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        items_.clear();
        not_empty_.notify_all();
        not_full_.notify_all();
    }

    std::size_t depth() const {
        std::lock_guard lock(mutex_);
        return items_.size();
    }

private:
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable not_empty_;
    std::condition_variable not_full_;
    std::deque<envelope> items_;
    bool stopped_ = false;
};

class memory_subscription;

struct topic_state {
    topic_options options;
    std::vector<std::shared_ptr<memory_subscription>> subs;
};

class memory_subscription : public std::enable_shared_from_this<memory_subscription> {
public:
    memory_subscription(std::string topic, std::string group, std::size_t partitions,
                        std::size_t capacity, handler h)
        : topic_(std::move(topic)), group_(std::move(group)), handler_(std::move(h)) {
        for (std::size_t i = 0; i < partitions; ++i) {
            queues_.push_back(std::make_unique<partition_queue>(capacity));
        }
    }

    void start() {
        for (auto& q : queues_) {
            threads_.emplace_back([this, queue = q.get()] {
                infra::name_this_thread("mc-bus-" + topic_);
                run(*queue);
            });
        }
    }

    partition_queue& queue(std::size_t p) { return *queues_[p]; }
    std::size_t depth() const {
        std::size_t n = 0;
        for (const auto& q : queues_) {
            n += q->depth();
        }
        return n;
    }
    const std::string& topic() const { return topic_; }

    void stop() {
        std::call_once(stopped_, [&] {
            for (auto& q : queues_) {
                q->stop();
            }
            for (auto& t : threads_) {
                if (t.get_id() == std::this_thread::get_id()) {
                    t.detach();  // stopped from its own handler
                } else if (t.joinable()) {
                    t.join();
                }
            }
        });
    }

private:
    void run(partition_queue& q) {
        std::deque<envelope> batch;
        while (q.pop_all(batch)) {
            for (const auto& e : batch) {
                try {
                    handler_(e);
                } catch (const std::exception& ex) {
                    // A handler bug must not kill the partition: log and go on.
                    infra::log::error("bus", "handler threw",
                                      {{"topic", topic_}, {"group", group_}, {"error", ex.what()}});
                }
            }
            batch.clear();
        }
    }

    std::string topic_;
    std::string group_;
    handler handler_;
    std::vector<std::unique_ptr<partition_queue>> queues_;
    std::vector<std::thread> threads_;
    std::once_flag stopped_;
};

class subscription_handle final : public subscription {
public:
    subscription_handle(std::shared_ptr<memory_subscription> s, std::function<void()> detach)
        : sub_(std::move(s)), detach_(std::move(detach)) {}
    ~subscription_handle() override { stop(); }
    void stop() override {
        if (detach_) {
            detach_();
            detach_ = nullptr;
        }
        sub_->stop();
    }

private:
    std::shared_ptr<memory_subscription> sub_;
    std::function<void()> detach_;
};

class memory_bus final : public message_bus {
public:
    explicit memory_bus(infra::metrics_registry& metrics) : metrics_(metrics) {}
    ~memory_bus() override {
        shutdown();
        metrics_.remove_callbacks(this);
    }

    void declare(std::string_view topic, topic_options options) override {
        std::unique_lock lock(mutex_);
        if (options.partitions == 0) {
            options.partitions = 1;
        }
        topics_.try_emplace(std::string(topic), topic_state{options, {}});
    }

    status publish(std::string_view topic, std::string_view key,
                   std::shared_ptr<const std::string> payload, headers hdrs,
                   std::chrono::milliseconds max_wait) override {
        return push(topic, key, std::move(payload), std::move(hdrs), true,
                    std::chrono::steady_clock::now() + max_wait);
    }

    status try_publish(std::string_view topic, std::string_view key,
                       std::shared_ptr<const std::string> payload, headers hdrs) override {
        return push(topic, key, std::move(payload), std::move(hdrs), false, {});
    }

    result<std::unique_ptr<subscription>> subscribe(std::string_view topic, std::string_view group,
                                                    handler h) override {
        std::shared_ptr<memory_subscription> sub;
        {
            std::unique_lock lock(mutex_);
            if (closed_) {
                return make_error(errc::unavailable, "bus is shut down");
            }
            auto it = topics_.find(std::string(topic));
            if (it == topics_.end()) {
                return make_error(errc::invalid_argument,
                                  fmt::format("bus: unknown topic {}", topic));
            }
            sub = std::make_shared<memory_subscription>(std::string(topic), std::string(group),
                                                        it->second.options.partitions,
                                                        it->second.options.capacity, std::move(h));
            sub->start();
            it->second.subs.push_back(sub);
        }
        metrics_.gauge_callback("monochat_queue_depth", "Messages waiting in an internal queue.",
                                {{"queue", fmt::format("bus:{}:{}", topic, group)}},
                                [weak = std::weak_ptr(sub)] {
                                    auto s = weak.lock();
                                    return s ? static_cast<double>(s->depth()) : 0.0;
                                },
                                this);
        auto detach = [this, raw = sub.get()] {
            std::unique_lock lock(mutex_);
            auto it = topics_.find(raw->topic());
            if (it != topics_.end()) {
                std::erase_if(it->second.subs, [&](const auto& s) { return s.get() == raw; });
            }
        };
        return std::unique_ptr<subscription>(new subscription_handle(sub, detach));
    }

    void shutdown() override {
        std::vector<std::shared_ptr<memory_subscription>> all;
        {
            std::unique_lock lock(mutex_);
            closed_ = true;
            for (auto& [name, t] : topics_) {
                all.insert(all.end(), t.subs.begin(), t.subs.end());
                t.subs.clear();
            }
        }
        for (auto& s : all) {
            s->stop();
        }
    }

private:
    status push(std::string_view topic, std::string_view key,
                std::shared_ptr<const std::string> payload, headers hdrs, bool wait,
                std::chrono::steady_clock::time_point deadline) {
        std::vector<std::shared_ptr<memory_subscription>> subs;
        std::size_t partition = 0;
        {
            std::shared_lock lock(mutex_);
            if (closed_) {
                return make_error(errc::unavailable, "bus is shut down");
            }
            auto it = topics_.find(std::string(topic));
            if (it == topics_.end()) {
                return make_error(errc::invalid_argument,
                                  fmt::format("bus: unknown topic {}", topic));
            }
            partition = std::hash<std::string_view>{}(key) % it->second.options.partitions;
            subs = it->second.subs;
        }
        for (std::size_t i = 0; i < subs.size(); ++i) {
            envelope e{std::string(topic), std::string(key), payload,
                       i + 1 == subs.size() ? std::move(hdrs) : hdrs};
            if (!subs[i]->queue(partition).push(std::move(e), deadline, wait)) {
                return make_error(errc::unavailable,
                                  fmt::format("bus: topic {} partition {} is full", topic, partition));
            }
        }
        return {};
    }

    infra::metrics_registry& metrics_;
    std::shared_mutex mutex_;
    std::map<std::string, topic_state, std::less<>> topics_;
    bool closed_ = false;
};

}  // namespace

std::unique_ptr<message_bus> make_memory_bus(infra::metrics_registry& metrics) {
    return std::make_unique<memory_bus>(metrics);
}

}  // namespace monochat::bus
