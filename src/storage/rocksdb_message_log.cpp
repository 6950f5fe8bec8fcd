// The durable message log on RocksDB (shared/architecture.md, "Storage layout").
//
// Column families: `messages` (conversation_id \0 seq -> message), `idempotency`
// (sender_id \0 client_msg_id -> where the message is), `conversations` (conversation_id ->
// last_seq, last ts), `reactions` (the reaction index, reaction_index.hpp). Each group commit is ONE WriteBatch holding the new messages, their
// idempotency entries, the changed targets and the new heads, written with
// WriteOptions::sync = (storage.sync == always): the batch is atomic in the WAL, so after a
// crash a conversation's head, its messages and their idempotency entries agree, and replay
// (kPointInTimeRecovery) never leaves a hole in a conversation.
//
// Start-up reads only the conversations column family. Reads are planned from the committed
// last_seq (seqs are contiguous), answered from the recent-message cache on the caller's thread
// when it holds the whole page (no I/O, a short lock), and otherwise read by one range scan on
// the log's read pool. Expired idempotency entries are dropped by a compaction filter.
//
// Purging (a recall removes text for good): RocksDB keeps an overwritten value in older SST
// files (and in the memtable) until a compaction or flush drops it, and a checkpoint hard-links
// those files. So every commit that rewrites messages for good (commit_batch::purged) queues
// their key ranges, and a purge thread runs a manual CompactRange over each (which flushes an
// overlapping memtable first), after a short delay that lets a burst of recalls share one
// compaction. checkpoint() runs whatever is still queued first, on its own thread, so a
// checkpoint taken after a recall's ack never holds the recalled text: the checkpoint's own
// flush of every column family leaves no live WAL holding it either. The queue survives a crash:
// each rewritten message's key is also put into the (otherwise unused) default column family in
// the commit's own WriteBatch, read back at open, and deleted once its range is compacted.
//
// Dropping a conversation (a deleted group): ONE synced WriteBatch range-deletes its keys in the
// messages, reactions and purge-queue families ([id \0, id \x01): codec::conversation_begin),
// deletes its head and its queued sent records; the writer then forgets its head. The purge
// thread then compacts the two ranges (so the range tombstone and what it covers leave the SST
// files) and flushes every family, so that no live WAL keeps the dropped text either; the drop
// completes after that. Idempotency entries stay until they expire: they hold ids and times,
// no content.

#include <fmt/format.h>
#include <monochat/infra/thread_name.hpp>
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <monochat/infra/blocking.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include <system_error>

#include "storage/group_commit_log.hpp"
#include "storage/message_cache.hpp"
#include "storage/message_codec.hpp"
#include "storage/message_log_faults.hpp"

namespace monochat::storage {

namespace {

namespace net = boost::asio;
using detail::read_range;

constexpr std::string_view log_module = "storage";
constexpr const char* cf_messages = "messages";
constexpr const char* cf_idempotency = "idempotency";
constexpr const char* cf_conversations = "conversations";
// How long the purge thread waits after the first queued range for others to join it: recalls
// come in bursts (a moderator cleaning up), and one compaction serves them all.
constexpr auto purge_delay = std::chrono::milliseconds(200);
constexpr const char* cf_reactions = "reactions";
// The sent-record queue (message_log.hpp, sent_record): key codec::sent_key, value
// codec::encode_sent. Short-lived: records leave it once the read state has them.
constexpr const char* cf_sent = "sent";
// In the default column family once the messages of a data dir written before the reaction
// index have been migrated (migrate_reactions), so later starts skip the scan.
constexpr std::string_view reactions_migrated_key = "reactions_index_v1";
// Messages rewritten per write batch while migrating.
constexpr std::size_t migration_batch = 1000;

error to_error(const rocksdb::Status& s, std::string_view what) {
    errc code = errc::unavailable;  // I/O errors, a full disk, a locked directory, busy
    if (s.IsCorruption()) {
        code = errc::internal;
    } else if (s.IsInvalidArgument()) {
        code = errc::invalid_argument;
    } else if (s.IsNotSupported()) {
        code = errc::internal;
    }
    return make_error(code, fmt::format("message log: {}: {}", what, s.ToString()));
}

bool is_wal(const std::string& fname) {
    return fname.size() > 4 && fname.compare(fname.size() - 4, 4, ".log") == 0;
}

// A WAL file that fails every write while the fault switch says the disk is full.
class faulty_wal_file final : public rocksdb::FSWritableFileOwnerWrapper {
public:
    faulty_wal_file(std::unique_ptr<rocksdb::FSWritableFile> file,
                    std::shared_ptr<write_faults> faults)
        : FSWritableFileOwnerWrapper(std::move(file)), faults_(std::move(faults)) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
        if (faults_->fail_write()) {
            return no_space();
        }
        return FSWritableFileOwnerWrapper::Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
        if (faults_->fail_write()) {
            return no_space();
        }
        return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
        if (faults_->fail_write()) {
            return no_space();
        }
        return FSWritableFileOwnerWrapper::Sync(options, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
        if (faults_->fail_write()) {
            return no_space();
        }
        return FSWritableFileOwnerWrapper::Fsync(options, dbg);
    }

private:
    static rocksdb::IOStatus no_space() {
        return rocksdb::IOStatus::NoSpace("injected fault: no space left on device");
    }

    std::shared_ptr<write_faults> faults_;
};

class faulty_file_system final : public rocksdb::FileSystemWrapper {
public:
    faulty_file_system(const std::shared_ptr<rocksdb::FileSystem>& target,
                       std::shared_ptr<write_faults> faults)
        : FileSystemWrapper(target), faults_(std::move(faults)) {}

    const char* Name() const override { return "monochat_faulty_file_system"; }

    rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
        return wrap(fname, target()->NewWritableFile(fname, options, result, dbg), result);
    }
    rocksdb::IOStatus ReopenWritableFile(const std::string& fname,
                                         const rocksdb::FileOptions& options,
                                         std::unique_ptr<rocksdb::FSWritableFile>* result,
                                         rocksdb::IODebugContext* dbg) override {
        return wrap(fname, target()->ReopenWritableFile(fname, options, result, dbg), result);
    }
    rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                        const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSWritableFile>* result,
                                        rocksdb::IODebugContext* dbg) override {
        return wrap(fname, target()->ReuseWritableFile(fname, old_fname, options, result, dbg),
                    result);
    }

private:
    rocksdb::IOStatus wrap(const std::string& fname, rocksdb::IOStatus s,
                           std::unique_ptr<rocksdb::FSWritableFile>* result) {
        if (s.ok() && is_wal(fname)) {
            *result = std::make_unique<faulty_wal_file>(std::move(*result), faults_);
        }
        return s;
    }

    std::shared_ptr<write_faults> faults_;
};

// Drops idempotency entries older than the window. Runs on RocksDB's compaction threads;
// it only reads the clock, which is thread-safe. Entries it has not dropped yet are ignored by
// the writer once expired, so both paths agree.
// RocksDB's own log goes to monochat's log instead of a LOG file in the data dir. A LOG file
// shares the data dir's disk: once a write to it failed on a full disk, RocksDB 7.8's file
// writer aborts the process on the next log line (the assertion `sync_without_flush_called_`
// in WritableFileWriter, compiled into Debian's build), which the chaos test's full-disk round
// found. Warnings and errors are kept; RocksDB's chatter below that is not.
class forwarding_logger final : public rocksdb::Logger {
public:
    forwarding_logger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}

    using rocksdb::Logger::Logv;
    void Logv(const char* format, va_list ap) override {
        Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
    }
    void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
        if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) {
            return;
        }
        char line[1024];
        const int n = std::vsnprintf(line, sizeof line, format, ap);
        if (n < 0) {
            return;
        }
        const std::string_view text(
            line, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line - 1));
        if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
            infra::log::error(log_module, "rocksdb", {{"line", text}});
        } else {
            infra::log::warn(log_module, "rocksdb", {{"line", text}});
        }
    }
};

class idempotency_expiry final : public rocksdb::CompactionFilter {
public:
    idempotency_expiry(const infra::clock& clock, std::int64_t window_s)
        : clock_(clock), window_ms_(window_s * 1000) {}

    bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
                std::string* /*new_value*/, bool* /*value_changed*/) const override {
        const auto record = codec::decode_idempotency(std::string_view(value.data(), value.size()));
        // A value that does not decode is kept: dropping data is never the answer to a bug.
        return record && clock_.now_ms() - record->written_at_ms > window_ms_;
    }

    const char* Name() const override { return "monochat.idempotency_expiry"; }

private:
    const infra::clock& clock_;
    const std::int64_t window_ms_;
};

class rocksdb_message_log final : public detail::group_commit_log {
    // Before their first use: their return types are deduced.
    // The work of the read pool is built by these plain functions, never by a lambda or an
    // aggregate written inside a coroutine: g++ 12 miscompiles such an object when it holds a
    // std::string and is passed by value from a coroutine (ASan: the string's buffer is freed
    // inside the coroutine frame, or twice).
    auto get_work(std::string conversation_id, std::uint64_t seq) {
        return [this, c = std::move(conversation_id), seq]() -> result<stored_message> {
            auto found = load(c, seq);
            if (!found) {
                return found.error();
            }
            if (!*found) {
                return make_error(errc::not_found, "no such message");
            }
            return std::move(**found);
        };
    }

    auto reaction_users_work(std::string conversation_id, std::uint64_t seq, std::string emoji,
                             std::uint64_t after_user_id, std::size_t limit) {
        return [this, c = std::move(conversation_id), seq, e = std::move(emoji), after_user_id,
                limit]() { return read_reaction_users(c, seq, e, after_user_id, limit); };
    }

    auto has_reacted_work(std::string conversation_id, std::uint64_t user_id,
                          std::vector<std::pair<std::uint64_t, std::string>> keys) {
        return [this, c = std::move(conversation_id), user_id, k = std::move(keys)]() {
            return read_has_reacted(c, user_id, k);
        };
    }

    auto scan_work(std::string conversation_id, read_range r,
                   detail::message_cache::ticket ticket) {
        return [this, c = std::move(conversation_id), r,
                ticket]() -> result<std::vector<stored_message>> {
            auto messages = scan(c, r);
            if (messages) {
                cache_.fill(c, *messages, ticket);
            }
            return messages;
        };
    }

public:
    rocksdb_message_log(const message_log_options& options, std::shared_ptr<write_faults> faults)
        : group_commit_log(options),
          faults_(std::move(faults)),
          expiry_(clock(), options.idempotency_window_s),
          cache_(detail::message_cache::limits{options.cache_conversations,
                                               options.cache_messages_per_conversation,
                                               options.cache_max_bytes},
                 metrics()),
          purges_(metrics().get_counter(
              "monochat_storage_purges_total",
              "Key ranges compacted to drop the old versions of messages rewritten for good.")),
          pool_(std::max<std::size_t>(options.read_threads, 1)) {
        write_options_.sync = options.sync == sync_mode::always;
    }

    ~rocksdb_message_log() override {
        close();
        pool_.join();
        if (db_ != nullptr) {
            for (auto* handle : handles_) {
                // Status of releasing a handle is irrelevant at shutdown.
                (void)db_->DestroyColumnFamilyHandle(handle);
            }
            if (const auto s = db_->Close(); !s.ok()) {
                infra::log::warn(log_module, "closing the message log failed",
                                 {{"error", s.ToString()}});
            }
            delete db_;
        }
    }

    // Opens the database and starts the writer.
    status open() {
        const std::string& path = options().path;
        if (path.empty()) {
            return make_error(errc::invalid_argument, "message log: path is empty");
        }
        std::error_code ec;
        std::filesystem::create_directories(path, ec);
        if (ec) {
            return make_error(errc::unavailable,
                              fmt::format("message log: cannot create {}: {}", path, ec.message()));
        }

        rocksdb::DBOptions db_options;
        db_options.create_if_missing = true;
        db_options.create_missing_column_families = true;
        db_options.keep_log_file_num = 10;
        db_options.info_log = std::make_shared<forwarding_logger>();
        // A torn tail of the WAL after a crash is cut off; every acknowledged batch before it
        // was synced completely (sync = always) and replays whole.
        db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
        if (faults_) {
            env_ = rocksdb::NewCompositeEnv(
                std::make_shared<faulty_file_system>(rocksdb::FileSystem::Default(), faults_));
            db_options.env = env_.get();
        }

        rocksdb::BlockBasedTableOptions table;
        table.block_cache = rocksdb::NewLRUCache(options().block_cache_mb << 20);
        table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
        table.cache_index_and_filter_blocks = true;
        table.pin_l0_filter_and_index_blocks_in_cache = true;
        rocksdb::ColumnFamilyOptions cf;
        cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

        rocksdb::ColumnFamilyOptions idempotency_cf = cf;
        idempotency_cf.compaction_filter = &expiry_;
        // Every append looks its (sender, client_msg_id) up here and almost never finds it: a
        // bloom filter over the memtable's whole keys answers those misses without walking
        // the skip list (the lookups were 2.6 % of the server's w2-max profile).
        idempotency_cf.memtable_prefix_bloom_size_ratio = 0.05;
        idempotency_cf.memtable_whole_key_filtering = true;
        // Rewrites old files now and then so that expired entries leave even without traffic.
        idempotency_cf.periodic_compaction_seconds = static_cast<std::uint64_t>(
            std::max<std::int64_t>(options().idempotency_window_s, 86400));

        // Not memtable_insert_with_hint_prefix_extractor for `messages`: RocksDB 7.8 shares its
        // hints between the point and the range-deletion memtables, and a conversation's drop
        // (a range delete) then trips its key-format assertion (unit test "a dropped
        // conversation is gone ...").

        const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
            {rocksdb::kDefaultColumnFamilyName, cf},
            {cf_messages, cf},
            {cf_idempotency, idempotency_cf},
            {cf_conversations, cf},
            {cf_reactions, cf},
            {cf_sent, cf},
        };
        if (const auto s = rocksdb::DB::Open(db_options, path, families, &handles_, &db_);
            !s.ok()) {
            db_ = nullptr;
            return to_error(s, fmt::format("open {}", path));
        }
        messages_ = handles_[1];
        idempotency_ = handles_[2];
        conversations_ = handles_[3];
        reactions_ = handles_[4];
        sent_ = handles_[5];

        if (auto migrated = migrate_reactions(); !migrated) {
            return migrated.error();
        }
        auto heads = load_heads();
        if (!heads) {
            return heads.error();
        }
        infra::log::info(log_module, "message log open",
                         {{"path", path}, {"conversations", heads->size()}});
        if (auto st = load_purge_markers(); !st) {
            return st;
        }
        purge_thread_ = std::thread([this] {
            infra::name_this_thread("mc-log-purge");
            purge_loop();
        });
        start(std::move(*heads));
        return {};
    }

    net::awaitable<result<read_page>> read_after(std::string conversation_id,
                                                 std::uint64_t after_seq,
                                                 std::size_t limit) override {
        auto range = plan_after(conversation_id, after_seq, limit);
        co_return co_await read(std::move(conversation_id), std::move(range));
    }

    net::awaitable<result<read_page>> read_before(std::string conversation_id,
                                                  std::uint64_t before_seq,
                                                  std::size_t limit) override {
        auto range = plan_before(conversation_id, before_seq, limit);
        co_return co_await read(std::move(conversation_id), std::move(range));
    }

    net::awaitable<result<read_page>> read_latest(std::string conversation_id,
                                                  std::size_t limit) override {
        auto range = plan_latest(conversation_id, limit);
        co_return co_await read(std::move(conversation_id), std::move(range));
    }

    net::awaitable<result<stored_message>> get(std::string conversation_id,
                                               std::uint64_t seq) override {
        if (conversation_id.empty()) {
            co_return make_error(errc::invalid_argument, "conversation_id is empty");
        }
        if (seq == 0 || seq > last_seq(conversation_id)) {
            co_return make_error(errc::not_found, "no such message");
        }
        detail::message_cache::ticket ticket;
        if (auto hit = cache_.lookup(conversation_id, seq, seq, ticket)) {
            co_return std::move(hit->front());
        }
        auto loaded = co_await infra::run_blocking(pool_.get_executor(),
                                                   get_work(std::move(conversation_id), seq));
        co_return loaded;
    }

    net::awaitable<result<reaction_users_page>> reaction_users(std::string conversation_id,
                                                               std::uint64_t seq,
                                                               std::string emoji,
                                                               std::uint64_t after_user_id,
                                                               std::size_t limit) override {
        co_return co_await infra::run_blocking(
            pool_.get_executor(), reaction_users_work(std::move(conversation_id), seq,
                                                      std::move(emoji), after_user_id, limit));
    }

    net::awaitable<result<std::vector<bool>>> has_reacted(
        std::string conversation_id, std::uint64_t user_id,
        std::vector<std::pair<std::uint64_t, std::string>> keys) override {
        if (keys.empty()) {
            co_return std::vector<bool>{};
        }
        co_return co_await infra::run_blocking(
            pool_.get_executor(),
            has_reacted_work(std::move(conversation_id), user_id, std::move(keys)));
    }

    result<std::optional<std::string>> index_get(const std::string& key) override {
        std::string value;
        const auto s = db_->Get(rocksdb::ReadOptions(), reactions_, key, &value);
        if (s.IsNotFound()) {
            return std::optional<std::string>();
        }
        if (!s.ok()) {
            return to_error(s, "reaction read");
        }
        return std::optional<std::string>(std::move(value));
    }

    result<std::vector<std::pair<std::string, std::string>>> index_scan(
        const std::string& from, const std::string& end, std::size_t limit) override {
        const rocksdb::Slice upper_bound(end);
        rocksdb::ReadOptions ro;
        ro.iterate_upper_bound = &upper_bound;
        const std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, reactions_));
        std::vector<std::pair<std::string, std::string>> out;
        for (it->Seek(from); it->Valid() && out.size() < limit; it->Next()) {
            out.emplace_back(it->key().ToString(), it->value().ToString());
        }
        if (!it->status().ok()) {
            return to_error(it->status(), "reaction scan");
        }
        return out;
    }

    status checkpoint(const std::string& dir) override {
        if (dir.empty()) {
            return make_error(errc::invalid_argument, "checkpoint: directory is empty");
        }
        std::error_code ec;
        if (std::filesystem::exists(dir, ec)) {
            return make_error(errc::invalid_argument,
                              fmt::format("checkpoint: {} already exists", dir));
        }
        // Rewritten messages leave the files first, or the checkpoint would link the old ones.
        if (auto st = purge_now(); !st) {
            return st;
        }
        rocksdb::Checkpoint* raw = nullptr;
        if (const auto s = rocksdb::Checkpoint::Create(db_, &raw); !s.ok()) {
            return to_error(s, "checkpoint");
        }
        const std::unique_ptr<rocksdb::Checkpoint> cp(raw);
        if (const auto s = cp->CreateCheckpoint(dir); !s.ok()) {
            return to_error(s, fmt::format("checkpoint into {}", dir));
        }
        return {};
    }

protected:
    result<std::vector<std::optional<codec::idempotency_record>>> engine_find_idempotency(
        const std::vector<std::string>& keys) override {
        const std::size_t n = keys.size();
        std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
        std::vector<rocksdb::PinnableSlice> values(n);
        std::vector<rocksdb::Status> statuses(n);
        db_->MultiGet(rocksdb::ReadOptions(), idempotency_, n, slices.data(), values.data(),
                      statuses.data());
        std::vector<std::optional<codec::idempotency_record>> out(n);
        for (std::size_t i = 0; i < n; ++i) {
            if (statuses[i].IsNotFound()) {
                continue;
            }
            if (!statuses[i].ok()) {
                return to_error(statuses[i], "idempotency lookup");
            }
            auto record =
                codec::decode_idempotency(std::string_view(values[i].data(), values[i].size()));
            if (!record) {
                return record.error();
            }
            out[i] = std::move(*record);
        }
        return out;
    }

    result<std::optional<stored_message>> engine_load(const std::string& conversation_id,
                                                      std::uint64_t seq) override {
        if (auto cached = cache_.peek(conversation_id, seq)) {
            return cached;
        }
        return load(conversation_id, seq);
    }

    status engine_write(const detail::commit_batch& batch) override {
        rocksdb::WriteBatch wb;
        for (const auto& m : batch.new_messages) {
            put(wb, messages_, codec::message_key(m.conversation_id, m.seq),
                codec::encode_message(m));
        }
        for (const auto& m : batch.updated_targets) {
            put(wb, messages_, codec::message_key(m.conversation_id, m.seq),
                codec::encode_message(m));
        }
        for (const auto& [key, record] : batch.idempotency) {
            put(wb, idempotency_, key, codec::encode_idempotency(record));
        }
        for (const auto& [conversation_id, head] : batch.conversations) {
            put(wb, conversations_, conversation_id, codec::encode_conversation(head));
        }
        for (const auto& [conversation_id, seq] : batch.purged) {
            put(wb, handles_[0], codec::message_key(conversation_id, seq), {});
        }
        add_index_ops(wb, batch.reaction_ops);
        for (const auto& r : batch.sent) {
            put(wb, sent_, codec::sent_key(r.message_id), codec::encode_sent(r));
        }
        if (needs_resume_) {
            // After a failed write RocksDB refuses writes until it has recovered (it does so by
            // itself once space returns; Resume() speeds that up). Busy means recovery is
            // already running; the write below then fails again and the batch with it.
            const auto s = db_->Resume();
            if (!s.ok() && !s.IsBusy()) {
                infra::log::debug(log_module, "resume after a write error",
                                  {{"status", s.ToString()}});
            }
        }
        const auto s = db_->Write(write_options_, &wb);
        if (!s.ok()) {
            needs_resume_ = true;
            return to_error(s, "write");
        }
        needs_resume_ = false;
        return {};
    }

    void engine_committed(const detail::commit_batch& batch) override {
        cache_.apply(batch.new_messages, batch.updated_targets);
        if (!batch.purged.empty()) {
            {
                std::lock_guard lock(purge_mutex_);
                for (const auto& [conversation_id, seq] : batch.purged) {
                    purge_pending_[conversation_id].insert(seq);
                }
            }
            purge_cv_.notify_one();
        }
    }

    status engine_drop(const std::string& conversation_id) override {
        const std::string begin = codec::conversation_begin(conversation_id);
        const std::string end = codec::conversation_end(conversation_id);
        rocksdb::WriteBatch wb;
        // Like Put, these fail only for oversized keys.
        (void)wb.DeleteRange(messages_, begin, end);
        (void)wb.DeleteRange(reactions_, begin, end);
        (void)wb.DeleteRange(handles_[0], begin, end);
        (void)wb.Delete(conversations_, conversation_id);
        {
            // The sent queue is short (records leave once the read state has them).
            const std::unique_ptr<rocksdb::Iterator> it(
                db_->NewIterator(rocksdb::ReadOptions(), sent_));
            for (it->SeekToFirst(); it->Valid(); it->Next()) {
                auto r = codec::decode_sent(
                    std::string_view(it->key().data(), it->key().size()),
                    std::string_view(it->value().data(), it->value().size()));
                if (r && r->conversation_id == conversation_id) {
                    (void)wb.Delete(sent_, it->key());
                }
            }
            if (!it->status().ok()) {
                return to_error(it->status(), "sent records read");
            }
        }
        if (needs_resume_) {
            (void)db_->Resume();
        }
        if (const auto s = db_->Write(write_options_, &wb); !s.ok()) {
            needs_resume_ = true;
            return to_error(s, "drop");
        }
        needs_resume_ = false;
        cache_.drop(conversation_id);
        {
            std::lock_guard lock(purge_mutex_);
            purge_pending_.erase(conversation_id);  // its markers went with the range
        }
        return {};
    }

    void engine_reclaim(const std::string& conversation_id,
                        std::function<void(status)> done) override {
        {
            std::lock_guard lock(purge_mutex_);
            drops_.push_back({conversation_id, std::move(done)});
        }
        purge_cv_.notify_one();
    }

    void engine_closed() override {
        {
            std::lock_guard lock(purge_mutex_);
            purge_stop_ = true;
        }
        purge_cv_.notify_one();
        if (purge_thread_.joinable()) {
            purge_thread_.join();
        }
        // Drops the purge thread had not reclaimed yet: now, or failed (their data is
        // unreadable already; a later drop of the same id compacts again).
        std::vector<pending_drop> drops;
        {
            std::lock_guard lock(purge_mutex_);
            drops.swap(drops_);
        }
        for (auto& d : drops) {
            d.done(db_ != nullptr && !needs_resume_
                       ? reclaim(d.conversation_id)
                       : status(make_error(errc::unavailable, "message log closed")));
        }
        if (db_ == nullptr) {
            return;
        }
        if (!needs_resume_) {
            // What the purge thread had not reached yet: the files left behind hold no
            // recalled text.
            if (auto st = purge_now(); !st) {
                infra::log::warn(log_module, "purge at close failed", {{"error", st.error().message}});
            }
        }
        if (needs_resume_ && !db_->Resume().ok()) {
            // The last write failed (a full disk) and RocksDB has not recovered: its WAL writer
            // holds the error, and syncing it again aborts the process in RocksDB 7.8 (the
            // assertion of forwarding_logger's comment; the chaos test's full-disk round hit it
            // on SIGTERM). Every acknowledged write is in the WAL file already (and synced
            // before its ack with sync = always), so skipping the sync and flush loses nothing.
            infra::log::warn(log_module, "message log closes after a failed write, not flushed");
            return;
        }
        // With sync = none the WAL may still sit in the OS; flushing the memtables also keeps
        // the next start-up's WAL replay short.
        if (const auto s = db_->FlushWAL(true); !s.ok()) {
            infra::log::warn(log_module, "WAL sync at close failed", {{"error", s.ToString()}});
        }
        rocksdb::FlushOptions flush;
        // The default family holds the purge queue's markers; flushed with the others, so that no
        // WAL (which may hold recalled text) stays alive for its sake.
        if (const auto s = db_->Flush(
                flush, {handles_[0], messages_, idempotency_, conversations_, reactions_, sent_});
            !s.ok()) {
            infra::log::warn(log_module, "flush at close failed", {{"error", s.ToString()}});
        }
    }

    result<std::vector<sent_record>> unsettled_sent() const override {
        std::vector<sent_record> out;
        const std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), sent_));
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
            auto r = codec::decode_sent(
                std::string_view(it->key().data(), it->key().size()),
                std::string_view(it->value().data(), it->value().size()));
            if (!r) {
                return r.error();
            }
            out.push_back(std::move(*r));
        }
        if (!it->status().ok()) {
            return to_error(it->status(), "sent records read");
        }
        return out;
    }

    status settle_sent(const std::vector<std::uint64_t>& message_ids) override {
        if (message_ids.empty()) {
            return {};
        }
        rocksdb::WriteBatch wb;
        for (const auto id : message_ids) {
            (void)wb.Delete(sent_, codec::sent_key(id));
        }
        rocksdb::WriteOptions unsynced;  // see message_log.hpp: a lost delete costs nothing
        if (const auto s = db_->Write(unsynced, &wb); !s.ok()) {
            return to_error(s, "sent records settle");
        }
        return {};
    }

private:
    // The purge thread: waits for queued ranges, lets a burst gather, compacts them.
    void purge_loop() {
        std::unique_lock lock(purge_mutex_);
        for (;;) {
            purge_cv_.wait(lock, [this] {
                return purge_stop_ || !purge_pending_.empty() || !drops_.empty();
            });
            if (purge_stop_) {
                return;
            }
            if (!drops_.empty()) {
                // Dropped conversations first and without delay: their callers wait.
                std::vector<pending_drop> drops;
                drops.swap(drops_);
                lock.unlock();
                for (auto& d : drops) {
                    d.done(reclaim(d.conversation_id));
                }
                lock.lock();
                continue;
            }
            purge_cv_.wait_for(lock, purge_delay, [this] { return purge_stop_; });
            if (purge_stop_) {
                return;  // engine_closed purges what is left
            }
            lock.unlock();
            if (auto st = purge_now(); !st) {
                infra::log::warn(log_module, "purge of rewritten messages failed",
                                 {{"error", st.error().message}});
            }
            lock.lock();
        }
    }

    // Compacts every queued range now, on the calling thread, then deletes its markers. One
    // purge at a time: a caller that finds one running waits for it, so that its ranges are done
    // when this returns. A conversation whose compaction fails goes back to the queue.
    status purge_now() {
        std::lock_guard running(compact_mutex_);
        std::map<std::string, std::set<std::uint64_t>> queued;
        {
            std::lock_guard lock(purge_mutex_);
            queued.swap(purge_pending_);
        }
        status outcome;
        rocksdb::WriteBatch done;
        for (auto it = queued.begin(); it != queued.end(); ++it) {
            const auto& [conversation_id, seqs] = *it;
            const std::string begin = codec::message_key(conversation_id, *seqs.begin());
            const std::string end = codec::message_key(conversation_id, *seqs.rbegin());
            const rocksdb::Slice b(begin);
            const rocksdb::Slice e(end);
            rocksdb::CompactRangeOptions options;
            // Old versions may sit in the last level too: rewrite its files in the range, but
            // not the ones this compaction has just written there.
            options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
            options.exclusive_manual_compaction = false;
            if (const auto s = db_->CompactRange(options, messages_, &b, &e); !s.ok()) {
                outcome = to_error(s, "purge");
                std::lock_guard lock(purge_mutex_);
                for (auto rest = it; rest != queued.end(); ++rest) {
                    purge_pending_[rest->first].insert(rest->second.begin(), rest->second.end());
                }
                break;
            }
            purges_.inc();
            for (const auto seq : seqs) {
                // Only the keys compacted here: a marker a newer commit wrote meanwhile stays.
                (void)done.Delete(handles_[0], codec::message_key(conversation_id, seq));
            }
        }
        if (done.Count() > 0) {
            // Not synced: a marker that comes back after a crash costs one more compaction.
            if (const auto s = db_->Write(rocksdb::WriteOptions(), &done); !s.ok()) {
                infra::log::warn(log_module, "purge markers not deleted", {{"error", s.ToString()}});
            }
        }
        return outcome;
    }

    // A dropped conversation's data out of the files: compacts its ranges (the range delete
    // and the keys it covers go at the bottommost level), then flushes every family so that
    // the WAL files that still hold its messages are no longer needed and are deleted.
    status reclaim(const std::string& conversation_id) {
        std::lock_guard running(compact_mutex_);
        const std::string begin = codec::conversation_begin(conversation_id);
        const std::string end = codec::conversation_end(conversation_id);
        const rocksdb::Slice b(begin);
        const rocksdb::Slice e(end);
        rocksdb::CompactRangeOptions options;
        options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
        options.exclusive_manual_compaction = false;
        for (auto* cf : {messages_, reactions_}) {
            if (const auto s = db_->CompactRange(options, cf, &b, &e); !s.ok()) {
                return to_error(s, "compacting a dropped conversation");
            }
        }
        if (const auto s = db_->Flush(rocksdb::FlushOptions(), handles_); !s.ok()) {
            return to_error(s, "flush after a drop");
        }
        purges_.inc();
        return {};
    }

    // The purge queue a previous run left (crashed, or stopped before its purge finished).
    status load_purge_markers() {
        const std::unique_ptr<rocksdb::Iterator> it(
            db_->NewIterator(rocksdb::ReadOptions(), handles_[0]));
        std::lock_guard lock(purge_mutex_);
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
            std::string_view conversation_id;
            std::uint64_t seq = 0;
            const auto key = it->key();
            // The default family also holds the reaction migration's marker.
            if (std::string_view(key.data(), key.size()) == reactions_migrated_key) {
                continue;
            }
            if (auto ok = codec::decode_message_key(std::string_view(key.data(), key.size()),
                                                    conversation_id, seq);
                !ok) {
                return ok.error();
            }
            purge_pending_[std::string(conversation_id)].insert(seq);
        }
        if (!it->status().ok()) {
            return to_error(it->status(), "loading the purge queue");
        }
        return {};
    }

    static void put(rocksdb::WriteBatch& wb, rocksdb::ColumnFamilyHandle* cf,
                    const std::string& key, const std::string& value) {
        // WriteBatch::Put fails only for keys or values over 4 GiB, which the codec never makes.
        (void)wb.Put(cf, key, value);
    }

    void add_index_ops(rocksdb::WriteBatch& wb, const std::vector<detail::index_op>& ops) {
        // Like Put, Delete and DeleteRange fail only for oversized keys; ops apply in order, so
        // a put after a range delete of its range survives it.
        for (const auto& op : ops) {
            switch (op.what) {
                case detail::index_op::kind::put: put(wb, reactions_, op.key, op.value); break;
                case detail::index_op::kind::erase: (void)wb.Delete(reactions_, op.key); break;
                case detail::index_op::kind::erase_range:
                    (void)wb.DeleteRange(reactions_, op.key, op.value);
                    break;
            }
        }
    }

    // A data dir written before the reaction index kept every reaction of a message inside its
    // state. Once, at the first open by this version, each such message is rewritten with a
    // summary and its reactions move into the index (reaction_index.hpp); a marker then skips
    // the scan on every later start. Each chunk is atomic (the message and its index entries
    // share a batch), so a crash midway only repeats the rest at the next start.
    status migrate_reactions() {
        std::string marker;
        const auto found = db_->Get(rocksdb::ReadOptions(), handles_[0],
                                    rocksdb::Slice(reactions_migrated_key.data(),
                                                   reactions_migrated_key.size()),
                                    &marker);
        if (found.ok()) {
            return {};
        }
        if (!found.IsNotFound()) {
            return to_error(found, "reading the migration marker");
        }
        const std::unique_ptr<rocksdb::Iterator> it(
            db_->NewIterator(rocksdb::ReadOptions(), messages_));
        rocksdb::WriteBatch wb;
        std::size_t in_batch = 0;
        std::size_t migrated = 0;
        const auto flush = [&]() -> status {
            if (in_batch == 0) {
                return {};
            }
            if (const auto s = db_->Write(write_options_, &wb); !s.ok()) {
                return to_error(s, "migrating reactions");
            }
            wb.Clear();
            in_batch = 0;
            return {};
        };
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
            const auto value = it->value();
            // Most messages have no state at all; only a state naming reactions is decoded.
            if (std::string_view(value.data(), value.size()).find("\"reactions\"") ==
                std::string_view::npos) {
                continue;
            }
            std::string_view conversation_id;
            std::uint64_t seq = 0;
            const auto key = it->key();
            if (auto ok = codec::decode_message_key(std::string_view(key.data(), key.size()),
                                                    conversation_id, seq);
                !ok) {
                return ok.error();
            }
            auto m = codec::decode_message(std::string_view(value.data(), value.size()),
                                           conversation_id, seq);
            if (!m) {
                return m.error();
            }
            auto ops = detail::migrate_legacy_reactions(*m);
            if (!ops) {
                continue;
            }
            put(wb, messages_, key.ToString(), codec::encode_message(*m));
            add_index_ops(wb, *ops);
            ++migrated;
            if (++in_batch == migration_batch) {
                if (auto ok = flush(); !ok) {
                    return ok;
                }
            }
        }
        if (!it->status().ok()) {
            return to_error(it->status(), "migrating reactions");
        }
        put(wb, handles_[0], std::string(reactions_migrated_key), "1");
        ++in_batch;
        if (auto ok = flush(); !ok) {
            return ok;
        }
        if (migrated > 0) {
            infra::log::info(log_module, "reactions moved into the reaction index",
                             {{"messages", migrated}});
        }
        return {};
    }

    result<std::unordered_map<std::string, codec::conversation_head>> load_heads() {
        std::unordered_map<std::string, codec::conversation_head> heads;
        const std::unique_ptr<rocksdb::Iterator> it(
            db_->NewIterator(rocksdb::ReadOptions(), conversations_));
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
            auto head = codec::decode_conversation(
                std::string_view(it->value().data(), it->value().size()));
            if (!head) {
                return head.error();
            }
            heads.emplace(it->key().ToString(), *head);
        }
        if (!it->status().ok()) {
            return to_error(it->status(), "loading conversations");
        }
        return heads;
    }

    result<std::optional<stored_message>> load(const std::string& conversation_id,
                                               std::uint64_t seq) {
        rocksdb::PinnableSlice value;
        const auto s = db_->Get(rocksdb::ReadOptions(), messages_,
                                codec::message_key(conversation_id, seq), &value);
        if (s.IsNotFound()) {
            return std::optional<stored_message>();
        }
        if (!s.ok()) {
            return to_error(s, "read");
        }
        auto m = codec::decode_message(std::string_view(value.data(), value.size()),
                                       conversation_id, seq);
        if (!m) {
            return m.error();
        }
        return std::optional<stored_message>(std::move(*m));
    }

    // One range scan over [r.first, r.last]. Seqs are contiguous, so anything but exactly
    // those messages means the database is damaged.
    result<std::vector<stored_message>> scan(const std::string& conversation_id,
                                             const read_range& r) {
        const std::string upper = codec::message_key_successor(conversation_id, r.last);
        const rocksdb::Slice upper_bound(upper);
        rocksdb::ReadOptions ro;
        ro.iterate_upper_bound = &upper_bound;
        const std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, messages_));
        std::vector<stored_message> out;
        out.reserve(r.size());
        std::uint64_t expected = r.first;
        for (it->Seek(codec::message_key(conversation_id, r.first)); it->Valid(); it->Next()) {
            std::string_view key_conversation;
            std::uint64_t seq = 0;
            const auto key = it->key();
            if (auto ok = codec::decode_message_key(std::string_view(key.data(), key.size()),
                                                    key_conversation, seq);
                !ok) {
                return ok.error();
            }
            if (key_conversation != conversation_id || seq != expected) {
                break;
            }
            auto m = codec::decode_message(std::string_view(it->value().data(), it->value().size()),
                                           conversation_id, seq);
            if (!m) {
                return m.error();
            }
            out.push_back(std::move(*m));
            ++expected;
        }
        if (!it->status().ok()) {
            return to_error(it->status(), "read");
        }
        if (expected != r.last + 1 && last_seq(conversation_id) < r.last) {
            // Dropped after the read was planned.
            return make_error(errc::not_found, "the conversation was deleted");
        }
        if (expected != r.last + 1) {
            infra::log::error(log_module, "message log has a hole",
                              {{"conversation", conversation_id}, {"missing_seq", expected}});
            return make_error(errc::internal, fmt::format("message log: {}/{} is missing",
                                                          conversation_id, expected));
        }
        return out;
    }

    net::awaitable<result<read_page>> read(std::string conversation_id, result<read_range> range) {
        if (!range) {
            co_return range.error();
        }
        read_page page;
        page.has_more = range->has_more;
        if (range->empty()) {
            co_return page;
        }
        detail::message_cache::ticket ticket;
        if (auto hit = cache_.lookup(conversation_id, range->first, range->last, ticket)) {
            page.messages = std::move(*hit);
            co_return page;
        }
        auto loaded = co_await infra::run_blocking(
            pool_.get_executor(), scan_work(std::move(conversation_id), *range, ticket));
        if (!loaded) {
            co_return loaded.error();
        }
        page.messages = std::move(*loaded);
        co_return page;
    }

    std::shared_ptr<write_faults> faults_;
    // The Env (fault injection only) must outlive the database.
    std::unique_ptr<rocksdb::Env> env_;
    idempotency_expiry expiry_;
    detail::message_cache cache_;
    rocksdb::WriteOptions write_options_;
    rocksdb::DB* db_ = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles_;
    rocksdb::ColumnFamilyHandle* messages_ = nullptr;
    rocksdb::ColumnFamilyHandle* idempotency_ = nullptr;
    rocksdb::ColumnFamilyHandle* conversations_ = nullptr;
    rocksdb::ColumnFamilyHandle* reactions_ = nullptr;
    rocksdb::ColumnFamilyHandle* sent_ = nullptr;
    // Writer thread only.
    bool needs_resume_ = false;
    infra::counter& purges_;
    // Rewritten messages (conversation -> seqs) waiting for the purge thread; guarded by
    // purge_mutex_, which is never held during a compaction.
    std::mutex purge_mutex_;
    std::condition_variable purge_cv_;
    std::map<std::string, std::set<std::uint64_t>> purge_pending_;
    bool purge_stop_ = false;
    // Dropped conversations whose data the purge thread is to compact away; purge_mutex_.
    struct pending_drop {
        std::string conversation_id;
        std::function<void(status)> done;
    };
    std::vector<pending_drop> drops_;
    std::mutex compact_mutex_;  // one purge (or reclaim) at a time
    std::thread purge_thread_;
    net::thread_pool pool_;
};

}  // namespace

result<std::unique_ptr<message_log>> open_rocksdb_message_log(
    const message_log_options& options, std::shared_ptr<write_faults> faults) {
    auto log = std::make_unique<rocksdb_message_log>(options, std::move(faults));
    if (auto opened = log->open(); !opened) {
        return opened.error();
    }
    return std::unique_ptr<message_log>(std::move(log));
}

result<std::unique_ptr<message_log>> open_rocksdb_message_log(const message_log_options& options) {
    return open_rocksdb_message_log(options, nullptr);
}

}  // namespace monochat::storage
