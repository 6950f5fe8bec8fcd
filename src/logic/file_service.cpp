#include <monochat/logic/files.hpp>

#include <boost/asio/thread_pool.hpp>
#include <monochat/infra/blocking.hpp>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/ids.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/file_store.hpp>
#include <monochat/storage/user_store.hpp>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <limits>
#include <unordered_map>

#include "logic/media.hpp"
#include "logic/utf8.hpp"

namespace monochat::logic {

namespace net = boost::asio;
using json = nlohmann::json;

namespace {

constexpr std::size_t max_file_name_bytes = 255;
// Files one sweep round deletes at most; the next round takes the rest.
constexpr std::size_t sweep_batch = 500;
// How long an avatar pin is trusted without its user row: longer than a profile write can take
// between the pin and the row (accounts' update_profile), so the sweep never drops the pin of
// an avatar being set.
constexpr std::int64_t avatar_pin_grace_ms = 10 * 60 * 1000;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

status validate_file_name(std::string_view name) {
    if (name.empty() || name.size() > max_file_name_bytes) {
        return make_error(errc::invalid_argument, "name must be 1 to 255 bytes");
    }
    std::size_t i = 0;
    while (i < name.size()) {
        const long cp = next_code_point(name, i);
        if (cp < 0) {
            return make_error(errc::invalid_argument, "name must be UTF-8 text");
        }
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == '/' || cp == '\\') {
            return make_error(errc::invalid_argument,
                              "name must not contain control characters, '/' or '\\'");
        }
    }
    if (name == "." || name == "..") {
        return make_error(errc::invalid_argument, "name must not be . or ..");
    }
    return {};
}

file_info info_of(const storage::file_record& r) {
    file_info f;
    f.file_id = r.file_id;
    f.owner_id = r.owner_id;
    f.name = r.name;
    f.size = r.size;
    f.content_type = r.content_type;
    f.sha256 = r.sha256;
    f.width = r.width;
    f.height = r.height;
    f.thumbnail = r.thumbnail;
    return f;
}

// Counters and gauges of `monochat_files*`.
struct file_metrics {
    explicit file_metrics(infra::metrics_registry& m)
        : files(m.get_gauge("monochat_files", "Uploaded files stored.")),
          bytes(m.get_gauge("monochat_file_bytes", "Bytes of all uploaded files (each upload counted).")),
          uploads(m.get_counter("monochat_file_uploads_total", "Uploads stored.")),
          too_large(refused(m, "too_large")),
          quota(refused(m, "quota")),
          interrupted(refused(m, "interrupted")),
          invalid(refused(m, "invalid")),
          deleted_expired(deleted(m, "expired")),
          deleted_recalled(deleted(m, "recalled")),
          deleted_group(deleted(m, "group_deleted")) {}

    static infra::counter& refused(infra::metrics_registry& m, const char* reason) {
        return m.get_counter("monochat_file_uploads_refused_total", "Uploads refused, by reason.",
                             {{"reason", reason}});
    }
    static infra::counter& deleted(infra::metrics_registry& m, const char* reason) {
        return m.get_counter("monochat_files_deleted_total", "Files deleted, by reason.",
                             {{"reason", reason}});
    }

    infra::gauge& files;
    infra::gauge& bytes;
    infra::counter& uploads;
    infra::counter& too_large;
    infra::counter& quota;
    infra::counter& interrupted;
    infra::counter& invalid;
    infra::counter& deleted_expired;
    infra::counter& deleted_recalled;
    infra::counter& deleted_group;
};

class file_service_impl;

class upload_impl final : public file_upload {
public:
    upload_impl(file_service_impl& svc, identity who, std::string name,
                std::unique_ptr<storage::blob_writer> blob, std::uint64_t max_bytes,
                std::uint64_t quota, std::uint64_t used)
        : svc_(svc),
          who_(std::move(who)),
          name_(std::move(name)),
          blob_(std::move(blob)),
          max_bytes_(max_bytes),
          quota_(quota),
          used_(used),
          metrics_(metrics_of(svc)) {}
    ~upload_impl() override;

    net::awaitable<status> write(std::span<const char> bytes) override;
    net::awaitable<result<file_info>> finish() override;
    void refused(std::string_view reason) override;

private:
    file_service_impl& svc_;
    identity who_;
    std::string name_;
    std::unique_ptr<storage::blob_writer> blob_;
    std::uint64_t max_bytes_;
    std::uint64_t quota_;
    std::uint64_t used_;
    // The registry's counters, which outlive the service (an upload's coroutine frame may be
    // destroyed after the service at shutdown).
    file_metrics metrics_;
    bool counted_ = false;  // a refusal or success was counted

    static file_metrics metrics_of(file_service_impl& svc);
};

class file_service_impl final : public file_service {
public:
    explicit file_service_impl(file_service_dependencies d)
        : d_(d), workers_(2), store_thread_(1), metrics_(d.metrics) {
        if (auto t = d_.store.stats()) {
            metrics_.files.set(static_cast<double>(t->files));
            metrics_.bytes.set(static_cast<double>(t->bytes));
        }
    }
    ~file_service_impl() override { stop(); }

    void stop() override {
        workers_.join();
        store_thread_.join();
    }

    // Callers name the job before the co_await (`auto job = [...] {...}; co_await
    // on_store(std::move(job))`): GCC 12 destroys the captures of a lambda built inside a
    // co_await expression twice (docs/testing.md), which crashed the Release binary here.
    template <class F>
    auto on_store(F fn) {
        return infra::run_blocking(store_thread_.get_executor(), std::move(fn));
    }
    template <class F>
    auto on_worker(F fn) {
        return infra::run_blocking(workers_.get_executor(), std::move(fn));
    }

    net::awaitable<result<std::unique_ptr<file_upload>>> begin_upload(
        identity who, std::string name, std::optional<std::uint64_t> declared) override {
        if (auto st = validate_file_name(name); !st) {
            metrics_.invalid.inc();
            co_return st.error();
        }
        const auto cfg = d_.live.get();
        const auto max_bytes = static_cast<std::uint64_t>(cfg->limits.max_file_bytes);
        const auto quota = static_cast<std::uint64_t>(cfg->limits.user_storage_bytes);
        if (declared && *declared > max_bytes) {
            metrics_.too_large.inc();
            co_return too_large_error(max_bytes);
        }
        auto count_used = [this, user = who.user_id] { return d_.store.used_bytes(user); };
        auto used = co_await on_store(std::move(count_used));
        if (!used) {
            co_return used.error();
        }
        if (*used + declared.value_or(0) > quota) {
            metrics_.quota.inc();
            co_return quota_error();
        }
        auto create = [this] { return d_.store.create_temp(); };
        auto blob = co_await on_store(std::move(create));
        if (!blob) {
            co_return blob.error();
        }
        co_return std::unique_ptr<file_upload>(std::make_unique<upload_impl>(
            *this, std::move(who), std::move(name), std::move(*blob), max_bytes, quota, *used));
    }

    static error too_large_error(std::uint64_t max_bytes) {
        return make_error(errc::too_large,
                          "the file is larger than " + std::to_string(max_bytes) + " bytes");
    }
    static error quota_error() {
        return make_error(errc::too_large, "this upload would pass your storage quota");
    }

    net::awaitable<result<file_download>> open(identity who, std::uint64_t file_id,
                                               bool thumbnail) override {
        auto get = [this, file_id] { return d_.store.get(file_id); };
        auto rec = co_await on_store(std::move(get));
        if (!rec) {
            co_return rec.error();
        }
        if (!*rec) {
            co_return make_error(errc::not_found, "no such file");
        }
        const auto& r = **rec;
        if (r.owner_id != who.user_id) {
            auto list = [this, file_id] { return d_.store.shared_in(file_id); };
            auto convs = co_await on_store(std::move(list));
            if (!convs) {
                co_return convs.error();
            }
            bool allowed = false;
            for (const auto& cid : *convs) {
                auto ref = parse_conversation_id(cid);
                if (!ref) {
                    continue;
                }
                if (auto ok = co_await d_.access.can_read(who, *ref); ok) {
                    allowed = true;
                    break;
                }
            }
            // Asked last: most fetches by others are of files shared with them.
            if (!allowed && d_.users != nullptr) {
                auto avatar = co_await d_.users->is_avatar(file_id);
                if (!avatar) {
                    co_return avatar.error();
                }
                allowed = *avatar;
            }
            if (!allowed) {
                co_return make_error(errc::forbidden, "this file was not shared with you");
            }
        }
        if (thumbnail && !r.thumbnail) {
            co_return make_error(errc::not_found, "this file has no thumbnail");
        }
        auto open_blob = [this, r, thumbnail] { return d_.store.open_blob(r, thumbnail); };
        auto reader = co_await on_store(std::move(open_blob));
        if (!reader) {
            co_return reader.error();
        }
        file_download out;
        out.info = info_of(r);
        out.size = (*reader)->size();
        out.reader = std::move(*reader);
        out.thumbnail = thumbnail;
        co_return out;
    }

    net::awaitable<result<std::size_t>> read(std::shared_ptr<const storage::blob_reader> reader,
                                             std::uint64_t offset, std::span<char> buf) override {
        auto job = [reader = std::move(reader), offset, buf] { return reader->read(offset, buf); };
        auto n = co_await on_worker(std::move(job));
        co_return n;
    }

    net::awaitable<result<std::string>> share(std::uint64_t user_id, std::uint64_t file_id,
                                              std::string conversation_id,
                                              std::uint64_t message_id) override {
        auto job = [this, user_id, file_id, cid = std::move(conversation_id),
                    message_id]() -> result<std::string> {
            auto rec = d_.store.get(file_id);
            if (!rec) {
                return rec.error();
            }
            if (!*rec) {
                return make_error(errc::not_found, "no such file");
            }
            if ((*rec)->owner_id != user_id) {
                return make_error(errc::forbidden, "only the uploader may share a file");
            }
            if (auto st = d_.store.add_share(file_id, cid, message_id); !st) {
                return st.error();
            }
            const auto& r = **rec;
            json meta = {{"name", r.name}, {"size", r.size}, {"content_type", r.content_type}};
            if (r.width > 0) {
                meta["width"] = r.width;
                meta["height"] = r.height;
            }
            return dump(meta);
        };
        auto meta = co_await on_store(std::move(job));
        co_return meta;
    }

    net::awaitable<void> unshare(std::uint64_t file_id, std::uint64_t message_id,
                                 bool delete_if_last) override {
        auto job = [this, file_id, message_id, delete_if_last] {
            return d_.store.remove_share(file_id, message_id, delete_if_last);
        };
        auto removed = co_await on_store(std::move(job));
        if (!removed) {
            infra::log::warn("logic", "cannot forget a file's share",
                             {{"file_id", file_id}, {"error", removed.error().message}});
            co_return;
        }
        if (*removed) {
            counted_removal(**removed);
            metrics_.deleted_recalled.inc();
        }
    }

    net::awaitable<status> forget_conversation(std::string conversation_id) override {
        auto job = [this, cid = std::move(conversation_id)] {
            return d_.store.remove_conversation(cid);
        };
        auto removed = co_await on_store(std::move(job));
        if (!removed) {
            co_return removed.error();
        }
        for (const auto& r : *removed) {
            counted_removal(r);
            metrics_.deleted_group.inc();
        }
        co_return status{};
    }

    net::awaitable<result<bool>> pin_avatar(std::uint64_t user_id,
                                            std::uint64_t file_id) override {
        auto job = [this, user_id, file_id, now = d_.clock.now_ms()]() -> result<bool> {
            auto rec = d_.store.get(file_id);
            if (!rec) {
                return rec.error();
            }
            if (!*rec) {
                return make_error(errc::not_found, "no such file");
            }
            if ((*rec)->owner_id != user_id) {
                return make_error(errc::forbidden, "an avatar must be a file you uploaded");
            }
            // The client shows the thumbnail: only images that decoded have one.
            if (!is_inline_image_type((*rec)->content_type) || !(*rec)->thumbnail) {
                return make_error(errc::invalid_argument,
                                  "an avatar must be a JPEG, PNG, GIF or WebP image");
            }
            return d_.store.pin_avatar(user_id, file_id, now);
        };
        auto pinned = co_await on_store(std::move(job));
        co_return pinned;
    }

    net::awaitable<void> unpin_avatar(std::uint64_t user_id, std::uint64_t file_id) override {
        auto job = [this, user_id, file_id] {
            return d_.store.unpin_avatar(user_id, file_id, std::numeric_limits<std::int64_t>::max());
        };
        auto st = co_await on_store(std::move(job));
        if (!st) {
            infra::log::warn("logic", "cannot drop an avatar pin",
                             {{"user_id", user_id}, {"file_id", file_id},
                              {"error", st.error().message}});
        }
    }

    net::awaitable<void> keep_only_avatar(std::uint64_t user_id,
                                          std::optional<std::uint64_t> current) override {
        auto job = [this, user_id, current] { return d_.store.unpin_avatars(user_id, current); };
        auto st = co_await on_store(std::move(job));
        if (!st) {
            infra::log::warn("logic", "cannot drop a user's old avatar pins",
                             {{"user_id", user_id}, {"error", st.error().message}});
        }
    }

    // Drops the pins of expired files that no user row names as its avatar (a deleted user's,
    // or one a failed profile write left), so that the sweep can take those files. Pins are
    // read in pages by (user_id, file_id); a pin renewed within the grace is left alone.
    net::awaitable<status> drop_stale_pins(std::int64_t created_before) {
        if (d_.users == nullptr) {
            co_return status{};
        }
        const std::int64_t pinned_before = d_.clock.now_ms() - avatar_pin_grace_ms;
        storage::file_store::avatar_pin after{};
        for (;;) {
            auto list = [this, pinned_before, created_before, after] {
                return d_.store.stale_avatar_pins(pinned_before, created_before, after,
                                                  sweep_batch);
            };
            auto pins = co_await on_store(std::move(list));
            if (!pins) {
                co_return pins.error();
            }
            if (pins->empty()) {
                co_return status{};
            }
            std::vector<std::uint64_t> ids;
            for (const auto& p : *pins) {
                if (ids.empty() || ids.back() != p.user_id) {
                    ids.push_back(p.user_id);  // pins come ordered by user
                }
            }
            auto users = co_await d_.users->get_users(std::move(ids));
            if (!users) {
                co_return users.error();
            }
            std::unordered_map<std::uint64_t, std::optional<std::uint64_t>> avatars;
            for (const auto& u : *users) {
                avatars.emplace(u.id, u.avatar_file_id);
            }
            std::vector<storage::file_store::avatar_pin> stale;
            for (const auto& p : *pins) {
                const auto it = avatars.find(p.user_id);
                if (it == avatars.end() || it->second != p.file_id) {
                    stale.push_back(p);
                }
            }
            if (!stale.empty()) {
                auto drop = [this, stale = std::move(stale), pinned_before]() -> status {
                    for (const auto& p : stale) {
                        if (auto st = d_.store.unpin_avatar(p.user_id, p.file_id, pinned_before);
                            !st) {
                            return st;
                        }
                    }
                    return {};
                };
                if (auto st = co_await on_store(std::move(drop)); !st) {
                    co_return st;
                }
            }
            if (pins->size() < sweep_batch) {
                co_return status{};
            }
            after = pins->back();
        }
    }

    net::awaitable<result<std::size_t>> sweep() override {
        const auto cfg = d_.live.get();
        const auto before = d_.clock.now_ms() - cfg->files.unshared_ttl_s * 1000;
        if (auto st = co_await drop_stale_pins(before); !st) {
            co_return st.error();
        }
        std::size_t total = 0;
        for (;;) {
            auto job = [this, before] { return d_.store.remove_unshared(before, sweep_batch); };
            auto removed = co_await on_store(std::move(job));
            if (!removed) {
                co_return removed.error();
            }
            for (const auto& r : *removed) {
                counted_removal(r);
                metrics_.deleted_expired.inc();
            }
            total += removed->size();
            if (removed->size() < sweep_batch) {
                co_return total;
            }
        }
    }

    net::awaitable<status> backup_to(std::string dir) override {
        auto job = [this, dir = std::move(dir)] { return d_.store.backup_to(dir); };
        auto st = co_await on_store(std::move(job));
        co_return st;
    }

    void counted_removal(const storage::removed_file& r) {
        metrics_.files.dec();
        metrics_.bytes.add(-static_cast<double>(r.record.size));
    }

    file_service_dependencies d_;
    net::thread_pool workers_;
    net::thread_pool store_thread_;
    file_metrics metrics_;
};

file_metrics upload_impl::metrics_of(file_service_impl& svc) { return svc.metrics_; }

// The temporary file goes with blob_ (one unlink). No commit of this upload can be running:
// finish() holds the upload until its commit is done.
upload_impl::~upload_impl() {
    if (!counted_) {
        metrics_.interrupted.inc();
    }
}

void upload_impl::refused(std::string_view reason) {
    if (counted_) {
        return;
    }
    counted_ = true;
    if (reason == "invalid") {
        metrics_.invalid.inc();
    } else {
        metrics_.interrupted.inc();
    }
}

net::awaitable<status> upload_impl::write(std::span<const char> bytes) {
    if (!blob_) {
        co_return make_error(errc::invalid_argument, "the upload is over");
    }
    const auto next = blob_->size() + bytes.size();
    if (next > max_bytes_) {
        counted_ = true;
        metrics_.too_large.inc();
        co_return file_service_impl::too_large_error(max_bytes_);
    }
    if (used_ + next > quota_) {
        counted_ = true;
        metrics_.quota.inc();
        co_return file_service_impl::quota_error();
    }
    auto* blob = blob_.get();
    auto job = [blob, bytes] { return blob->write(bytes); };
    auto st = co_await svc_.on_worker(std::move(job));
    co_return st;
}

net::awaitable<result<file_info>> upload_impl::finish() {
    if (!blob_) {
        co_return make_error(errc::invalid_argument, "the upload is over");
    }
    if (blob_->size() == 0) {
        counted_ = true;
        metrics_.invalid.inc();
        co_return make_error(errc::invalid_argument, "the file is empty");
    }
    auto* blob = blob_.get();
    const auto thumb_path = svc_.d_.store.temp_thumbnail_path(*blob);
    struct finished {
        std::string sha;
        media::inspection media;
    };
    auto inspect = [blob, thumb_path]() -> result<finished> {
        auto sha = blob->finish();
        if (!sha) {
            return sha.error();
        }
        return finished{std::move(*sha), media::inspect(blob->path(), thumb_path)};
    };
    auto done = co_await svc_.on_worker(std::move(inspect));
    if (!done) {
        co_return done.error();
    }
    storage::file_record rec;
    rec.file_id = svc_.d_.ids.next();
    rec.owner_id = who_.user_id;
    rec.sha256 = done->sha;
    rec.name = name_;
    rec.size = blob->size();
    rec.content_type = done->media.content_type;
    rec.width = done->media.width;
    rec.height = done->media.height;
    rec.thumbnail = done->media.thumbnail;
    rec.created_ms = svc_.d_.clock.now_ms();
    auto commit = [this, blob, thumb_path, rec, quota = quota_]() -> status {
        auto st = svc_.d_.store.commit(*blob, thumb_path, rec, quota);
        std::remove(thumb_path.c_str());  // still there when not moved into place
        return st;
    };
    auto committed = co_await svc_.on_store(std::move(commit));
    counted_ = true;
    if (!committed) {
        if (committed.error().code == errc::too_large) {
            metrics_.quota.inc();
        }
        co_return committed.error();
    }
    metrics_.uploads.inc();
    metrics_.files.inc();
    metrics_.bytes.add(static_cast<double>(rec.size));
    co_return info_of(rec);
}

}  // namespace

std::string to_json(const file_info& f) {
    json j = {{"file_id", std::to_string(f.file_id)}, {"name", f.name},
              {"size", f.size},                       {"content_type", f.content_type},
              {"sha256", f.sha256}};
    if (f.width > 0) {
        j["width"] = f.width;
        j["height"] = f.height;
    }
    return dump(j);
}

bool is_inline_image_type(std::string_view t) noexcept {
    return t == "image/jpeg" || t == "image/png" || t == "image/gif" || t == "image/webp";
}

std::unique_ptr<file_service> make_file_service(file_service_dependencies deps) {
    return std::make_unique<file_service_impl>(deps);
}

}  // namespace monochat::logic
