#pragma once
// Fault injection for the message log, after rocksdb's SpecialEnv (`db/db_test_util.h`), which
// fakes a full disk under a real database: the log under test is the production code, only its
// writes are made to fail on demand. Tests use it to prove that a failed write acknowledges
// nothing, consumes no seq, and that the log works again once space returns.
//
// RocksDB: the log is opened on a FileSystem wrapper whose WAL files fail Append, Sync and
// Fsync with IOStatus::NoSpace while the disk is "full"; RocksDB's own error handling (and its
// recovery once space returns) runs unchanged. Memory: the commit step fails.
// Thread-safety: every member may be called from any thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <monochat/infra/result.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/message_log_factory.hpp>

namespace monochat::storage {

class write_faults {
public:
    // While on, every write fails as on a full disk.
    void set_disk_full(bool on) noexcept { disk_full_.store(on, std::memory_order_release); }
    bool disk_full() const noexcept { return disk_full_.load(std::memory_order_acquire); }

    // Called by the engines at each write; true when the write must fail.
    bool fail_write() noexcept {
        if (!disk_full()) {
            return false;
        }
        injected_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }

    // Writes failed so far.
    std::uint64_t injected() const noexcept { return injected_.load(std::memory_order_relaxed); }

private:
    std::atomic<bool> disk_full_{false};
    std::atomic<std::uint64_t> injected_{0};
};

// The factories of message_log_factory.hpp with a fault switch (nullptr: none).
std::unique_ptr<message_log> make_memory_message_log(const message_log_options& options,
                                                     std::shared_ptr<write_faults> faults);
[[nodiscard]] result<std::unique_ptr<message_log>> open_rocksdb_message_log(
    const message_log_options& options, std::shared_ptr<write_faults> faults);

}  // namespace monochat::storage
