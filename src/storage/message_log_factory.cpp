#include <monochat/storage/message_log_factory.hpp>

#include <fmt/format.h>

#include <filesystem>

namespace monochat::storage {

namespace {

result<std::size_t> size_from(std::int64_t value, std::string_view key) {
    if (value < 0) {
        return make_error(errc::invalid_argument, fmt::format("{}: {} is negative", key, value));
    }
    return static_cast<std::size_t>(value);
}

}  // namespace

result<message_log_options> message_log_options_from_config(const infra::storage_options& storage,
                                                            const infra::policy_options& policy,
                                                            const infra::clock& clock,
                                                            infra::metrics_registry& metrics) {
    message_log_options o;
    o.path = (std::filesystem::path(storage.data_dir) / "messages").string();
    if (storage.sync == "always") {
        o.sync = sync_mode::always;
    } else if (storage.sync == "none") {
        o.sync = sync_mode::none;
    } else {
        return make_error(errc::invalid_argument,
                          fmt::format("storage.sync: \"{}\" is not always or none", storage.sync));
    }
    const std::pair<std::int64_t, std::string_view> sizes[] = {
        {storage.max_batch, "storage.max_batch"},
        {storage.cache_conversations, "storage.cache_conversations"},
        {storage.cache_messages_per_conversation, "storage.cache_messages_per_conversation"},
        {storage.block_cache_mb, "storage.block_cache_mb"},
    };
    for (const auto& [value, key] : sizes) {
        if (auto checked = size_from(value, key); !checked) {
            return checked.error();
        }
    }
    if (storage.max_batch < 1) {
        return make_error(errc::invalid_argument, "storage.max_batch: must be at least 1");
    }
    if (policy.idempotency_window_s < 0) {
        return make_error(errc::invalid_argument,
                          "policy.idempotency_window_s: must not be negative");
    }
    o.max_batch = static_cast<std::size_t>(storage.max_batch);
    o.cache_conversations = static_cast<std::size_t>(storage.cache_conversations);
    o.cache_messages_per_conversation =
        static_cast<std::size_t>(storage.cache_messages_per_conversation);
    o.block_cache_mb = static_cast<std::size_t>(storage.block_cache_mb);
    o.idempotency_window_s = policy.idempotency_window_s;
    o.clock = &clock;
    o.metrics = &metrics;
    return o;
}

}  // namespace monochat::storage
