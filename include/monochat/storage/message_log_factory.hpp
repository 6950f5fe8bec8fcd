#pragma once
// Factories of the message log (message_log.hpp): the durable RocksDB log and the in-memory log
// (`storage.engine = "memory"`, and every test). Both share one group-commit writer, so they
// have the same semantics and the same thread shape; the memory log only skips the disk.
//
// Threads owned by a log: one writer thread (group commit, commit listener, append_async
// callbacks) and, for RocksDB, `read_threads` threads that run reads the recent-message cache
// cannot answer. The factory starts them; destruction (or close()) drains and joins them.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/config.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/infra/result.hpp>
#include <monochat/storage/message_log.hpp>
#include <string>

namespace monochat::storage {

enum class sync_mode {
    // Each group commit fsyncs the WAL before any of its appends is acknowledged.
    always,
    // Acknowledged once the OS has the write: survives a crash of the process, not of the host.
    none,
};

struct message_log_options {
    // Directory of the RocksDB database; created when missing. Unused by the memory log.
    // Default: ./data/messages.
    std::string path = "./data/messages";
    // Default: always.
    sync_mode sync = sync_mode::always;
    // Most appends written by one group commit (one write batch, one WAL sync). Default: 1024.
    std::size_t max_batch = 1024;
    // Appends queued for the writer at most; beyond it append fails at once with unavailable
    // rather than queueing without bound. Default: 65536.
    std::size_t max_pending = 65536;
    // Recent-message cache (RocksDB log only): conversations kept (LRU), messages kept per
    // conversation, and a bound on the bytes of all cached messages. 0 conversations or 0
    // messages disables the cache. Defaults: 10000, 256, 256 MiB.
    std::size_t cache_conversations = 10000;
    std::size_t cache_messages_per_conversation = 256;
    std::size_t cache_max_bytes = std::size_t{256} << 20;
    // RocksDB block cache shared by the column families, in MiB. Default: 64.
    std::size_t block_cache_mb = 64;
    // Threads of the read pool (RocksDB log only). Default: 2.
    std::size_t read_threads = 2;
    // Largest page a read returns; larger limits are clamped (has_more then says so).
    // Default: 1000.
    std::size_t max_read_limit = 1000;
    // An idempotency entry is honoured for at least this long; older entries are ignored and
    // eventually dropped (RocksDB: by a compaction filter; memory: as appends go by).
    // Default: 604800 (7 days), as policy.idempotency_window_s.
    std::int64_t idempotency_window_s = 604800;
    // Wall time for idempotency expiry and steady time for latency metrics. Must outlive the
    // log. Default: nullptr, a system clock owned by the log.
    const infra::clock* clock = nullptr;
    // Where the log registers its metrics. Must outlive the log. Default: nullptr, a private
    // registry owned by the log (tests, tools).
    infra::metrics_registry* metrics = nullptr;
};

// Options from the configuration: `<data_dir>/messages`, storage.sync, storage.max_batch, the
// cache sizes, storage.block_cache_mb and policy.idempotency_window_s. Errors:
// invalid_argument naming the key (an unknown storage.sync, a negative size).
[[nodiscard]] result<message_log_options> message_log_options_from_config(
    const infra::storage_options& storage, const infra::policy_options& policy,
    const infra::clock& clock, infra::metrics_registry& metrics);

// Opens (creating when missing) the durable log in `options.path`. Start-up reads the
// `last_seq` of every conversation from the conversations column family only, so its cost
// grows with the number of conversations, never with the number of messages.
// Errors: invalid_argument (bad options), unavailable (I/O error, the directory is locked by
// another process), internal (corrupt data).
[[nodiscard]] result<std::unique_ptr<message_log>> open_rocksdb_message_log(
    const message_log_options& options);

// An in-memory log with the same contract; nothing survives its destruction and checkpoint()
// answers unavailable.
std::unique_ptr<message_log> make_memory_message_log(const message_log_options& options = {});

}  // namespace monochat::storage
