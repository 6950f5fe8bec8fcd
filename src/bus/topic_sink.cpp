#include <monochat/bus/delivery_sink.hpp>
#include <monochat/bus/message_bus.hpp>
#include <monochat/bus/topics.hpp>

#include <algorithm>

namespace monochat::bus {

void delivery_sink::push_to_group(const push_frame& f,
                                  std::shared_ptr<const std::vector<std::uint64_t>> members,
                                  std::size_t shard_size,
                                  std::function<void(std::span<const std::uint64_t>)> lost,
                                  std::function<void()> done) {
    const std::span<const std::uint64_t> all(*members);
    shard_size = std::max<std::size_t>(1, shard_size);
    for (std::size_t from = 0; from < all.size(); from += shard_size) {
        const auto part = all.subspan(from, std::min(shard_size, all.size() - from));
        if (!push_to_users(f, part)) {
            lost(part);
        }
    }
    done();
}

namespace {

class topic_sink final : public delivery_sink {
public:
    topic_sink(message_bus& bus, std::string topic, std::function<std::chrono::milliseconds()> wait)
        : bus_(bus), topic_(std::move(topic)), wait_(std::move(wait)) {}

    bool push_to_users(const push_frame& f, std::span<const std::uint64_t> user_ids) override {
        delivery d = base(f);
        d.kind = delivery_kind::frame;
        d.user_ids.assign(user_ids.begin(), user_ids.end());
        return publish(f, d);
    }

    bool push_to_world(const push_frame& f) override {
        delivery d = base(f);
        d.kind = delivery_kind::world;
        return publish(f, d);
    }

private:
    static delivery base(const push_frame& f) {
        delivery d;
        d.exclude_session = f.exclude_session;
        d.exclude_user = f.exclude_user;
        d.is_message = f.message_id != 0;
        d.message_id = f.message_id;
        d.frame = *f.text;
        return d;
    }

    bool publish(const push_frame& f, const delivery& d) {
        return static_cast<bool>(bus_.publish(topic_, f.conversation_id,
                                              std::make_shared<const std::string>(encode_delivery(d)),
                                              {}, wait_()));
    }

    message_bus& bus_;
    std::string topic_;
    std::function<std::chrono::milliseconds()> wait_;
};

}  // namespace

std::unique_ptr<delivery_sink> make_topic_sink(message_bus& bus, std::string topic,
                                               std::function<std::chrono::milliseconds()> wait) {
    return std::make_unique<topic_sink>(bus, std::move(topic), std::move(wait));
}

}  // namespace monochat::bus
