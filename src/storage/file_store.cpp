#include <monochat/storage/file_store.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "storage/sqlite_db.hpp"
#include "storage/sqlite_migrations.hpp"

namespace monochat::storage {

namespace fs = std::filesystem;

namespace {

// files.db's own schema (see sqlite_migrations.hpp for the rules: a released migration is
// never edited). Kept apart from the social store's migrations and file.
constexpr const char* v1_files = R"sql(
CREATE TABLE files (
    id           INTEGER PRIMARY KEY,
    owner_id     INTEGER NOT NULL,
    sha256       TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    width        INTEGER NOT NULL DEFAULT 0,
    height       INTEGER NOT NULL DEFAULT 0,
    thumbnail    INTEGER NOT NULL CHECK (thumbnail IN (0, 1)),
    created_ms   INTEGER NOT NULL
);
CREATE INDEX files_owner ON files (owner_id);
CREATE INDEX files_sha256 ON files (sha256);
CREATE INDEX files_created ON files (created_ms);

-- One row per message that shares a file.
CREATE TABLE file_shares (
    file_id         INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    message_id      INTEGER NOT NULL,
    conversation_id TEXT    NOT NULL,
    PRIMARY KEY (file_id, message_id)
) WITHOUT ROWID;
)sql";

// Issue 20: the files that are (or were just made) a user's avatar; see file_store.hpp.
constexpr const char* v2_avatar_pins = R"sql(
CREATE TABLE avatar_pins (
    user_id   INTEGER NOT NULL,
    file_id   INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    pinned_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, file_id)
) WITHOUT ROWID;
CREATE INDEX avatar_pins_file ON avatar_pins (file_id);
)sql";

// Issue 18: a deleted group's shares are found by conversation.
constexpr const char* v3_shares_by_conversation = R"sql(
CREATE INDEX file_shares_conversation ON file_shares (conversation_id);
)sql";

constexpr std::array<sqlite::migration, 3> file_migrations{{
    {1, "files and their shares", v1_files},
    {2, "avatar pins", v2_avatar_pins},
    {3, "shares by conversation", v3_shares_by_conversation},
}};

error io_error(std::string_view what, const std::string& path, int err) {
    return make_error(errc::unavailable, fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

std::string random_name() {
    std::array<unsigned char, 12> bytes{};
    randombytes_buf(bytes.data(), bytes.size());
    std::string out;
    for (const auto b : bytes) {
        out += fmt::format("{:02x}", b);
    }
    return out;
}

bool valid_sha(std::string_view sha) {
    return sha.size() == 64 && sha.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

struct blob_writer::hash_state {
    crypto_hash_sha256_state state;
};

blob_writer::blob_writer(int fd, std::string path)
    : fd_(fd), path_(std::move(path)), hash_(std::make_unique<hash_state>()) {
    crypto_hash_sha256_init(&hash_->state);
}

blob_writer::~blob_writer() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
    if (!committed_) {
        ::unlink(path_.c_str());
    }
}

status blob_writer::write(std::span<const char> bytes) {
    crypto_hash_sha256_update(&hash_->state, reinterpret_cast<const unsigned char*>(bytes.data()),
                              bytes.size());
    std::size_t done = 0;
    while (done < bytes.size()) {
        const auto n = ::write(fd_, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return io_error("write", path_, errno);
        }
        done += static_cast<std::size_t>(n);
    }
    size_ += bytes.size();
    return {};
}

result<std::string> blob_writer::finish() {
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256_final(&hash_->state, digest.data());
    if (::fsync(fd_) != 0) {
        return io_error("fsync", path_, errno);
    }
    std::string hex;
    for (const auto b : digest) {
        hex += fmt::format("{:02x}", b);
    }
    return hex;
}

blob_reader::~blob_reader() { ::close(fd_); }

result<std::size_t> blob_reader::read(std::uint64_t offset, std::span<char> buf) const {
    for (;;) {
        const auto n = ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_error(errc::unavailable, fmt::format("read: {}", std::strerror(errno)));
        }
        return static_cast<std::size_t>(n);
    }
}

struct file_store::impl {
    fs::path root;  // <data_dir>/files
    std::unique_ptr<sqlite::connection> db;

    fs::path tmp_dir() const { return root / "tmp"; }
    fs::path blob_path(const std::string& sha) const { return root / sha.substr(0, 2) / sha; }
    fs::path thumb_path(const std::string& sha) const {
        return root / sha.substr(0, 2) / (sha + ".thumb");
    }

    static file_record row(const sqlite::statement& st) {
        file_record r;
        r.file_id = st.column_uint64(0);
        r.owner_id = st.column_uint64(1);
        r.sha256 = st.column_text(2);
        r.name = st.column_text(3);
        r.size = st.column_uint64(4);
        r.content_type = st.column_text(5);
        r.width = static_cast<std::uint32_t>(st.column_int64(6));
        r.height = static_cast<std::uint32_t>(st.column_int64(7));
        r.thumbnail = st.column_bool(8);
        r.created_ms = st.column_int64(9);
        return r;
    }

    result<std::optional<file_record>> get(std::uint64_t id) {
        auto st = db->prepare(
            "SELECT id, owner_id, sha256, name, size, content_type, width, height, thumbnail, "
            "created_ms FROM files WHERE id = ?");
        if (!st) {
            return st.error();
        }
        if (auto b = st->bind(id); !b) {
            return b.error();
        }
        auto has = st->step();
        if (!has) {
            return has.error();
        }
        if (!*has) {
            return std::optional<file_record>{};
        }
        return std::optional<file_record>{row(*st)};
    }

    result<bool> pinned(std::uint64_t file_id) {
        auto st = db->prepare("SELECT 1 FROM avatar_pins WHERE file_id = ? LIMIT 1");
        if (!st) {
            return st.error();
        }
        if (auto b = st->bind(file_id); !b) {
            return b.error();
        }
        return st->step();
    }

    result<bool> sha_used(const std::string& sha) {
        auto st = db->prepare("SELECT 1 FROM files WHERE sha256 = ? LIMIT 1");
        if (!st) {
            return st.error();
        }
        if (auto b = st->bind(sha); !b) {
            return b.error();
        }
        return st->step();
    }

    // Deletes a record (its shares cascade), then its blob when no record names it any more.
    result<removed_file> remove_record(const file_record& r) {
        {
            auto tx = sqlite::transaction::begin(*db, true);
            if (!tx) {
                return tx.error();
            }
            auto st = db->prepare("DELETE FROM files WHERE id = ?");
            if (!st) {
                return st.error();
            }
            if (auto b = st->bind(r.file_id); !b) {
                return b.error();
            }
            if (auto run = st->run(); !run) {
                return run.error();
            }
            if (auto c = tx->commit(); !c) {
                return c.error();
            }
        }
        removed_file out{r, false};
        auto used = sha_used(r.sha256);
        if (used && !*used) {
            std::error_code ec;
            fs::remove(blob_path(r.sha256), ec);
            fs::remove(thumb_path(r.sha256), ec);
            out.blob_removed = true;
        }
        return out;
    }
};

file_store::file_store(std::unique_ptr<impl> impl) : impl_(std::move(impl)) {}
file_store::~file_store() = default;

result<std::unique_ptr<file_store>> file_store::open(const file_store_options& options) {
    auto i = std::make_unique<impl>();
    i->root = fs::path(options.data_dir) / "files";
    std::error_code ec;
    // Temporaries of uploads a crash interrupted are never committed: they go.
    fs::remove_all(i->tmp_dir(), ec);
    fs::create_directories(i->tmp_dir(), ec);
    if (ec) {
        return make_error(errc::unavailable,
                          fmt::format("cannot create {}: {}", i->tmp_dir().string(), ec.message()));
    }
    sqlite::open_options oo;
    oo.synchronous_full = options.synchronous_full;
    auto db = sqlite::connection::open((fs::path(options.data_dir) / "files.db").string(), oo);
    if (!db) {
        return db.error();
    }
    i->db = std::move(*db);
    if (auto m = sqlite::migrate(*i->db, file_migrations); !m) {
        return m.error();
    }
    return std::unique_ptr<file_store>(new file_store(std::move(i)));
}

result<std::unique_ptr<blob_writer>> file_store::create_temp() {
    const auto path = (impl_->tmp_dir() / random_name()).string();
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return io_error("create", path, errno);
    }
    return std::unique_ptr<blob_writer>(new blob_writer(fd, path));
}

std::string file_store::temp_thumbnail_path(const blob_writer& w) const {
    return w.path() + ".thumb.jpg";
}

status file_store::commit(blob_writer& blob, const std::string& thumbnail_path,
                          const file_record& record, std::uint64_t quota) {
    if (!valid_sha(record.sha256)) {
        return make_error(errc::invalid_argument, "commit: not a SHA-256");
    }
    auto& db = *impl_->db;
    auto tx = sqlite::transaction::begin(db, true);
    if (!tx) {
        return tx.error();
    }
    {
        auto used = db.prepare("SELECT COALESCE(SUM(size), 0) FROM files WHERE owner_id = ?");
        if (!used) {
            return used.error();
        }
        if (auto b = used->bind(record.owner_id); !b) {
            return b.error();
        }
        if (auto s = used->step(); !s) {
            return s.error();
        }
        if (used->column_uint64(0) + record.size > quota) {
            return make_error(errc::too_large, "this upload would pass your storage quota");
        }
    }
    auto ins = db.prepare(
        "INSERT INTO files (id, owner_id, sha256, name, size, content_type, width, height, "
        "thumbnail, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!ins) {
        return ins.error();
    }
    if (auto b = ins->bind(record.file_id, record.owner_id, record.sha256, record.name,
                           record.size, record.content_type, record.width, record.height,
                           record.thumbnail, record.created_ms);
        !b) {
        return b.error();
    }
    if (auto r = ins->run(); !r) {
        return r.error();
    }
    // The blob goes into place before the record is committed: a crash between the two leaves
    // an unreferenced blob (harmless: the same bytes uploaded again reuse it), never a record
    // without bytes.
    const auto target = impl_->blob_path(record.sha256);
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) {
        return make_error(errc::unavailable, fmt::format("cannot create {}: {}",
                                                         target.parent_path().string(), ec.message()));
    }
    if (!fs::exists(target, ec)) {
        if (::rename(blob.path().c_str(), target.c_str()) != 0) {
            return io_error("rename", blob.path(), errno);
        }
        blob.committed_ = true;
    }
    if (record.thumbnail && !thumbnail_path.empty()) {
        const auto thumb = impl_->thumb_path(record.sha256);
        if (!fs::exists(thumb, ec)) {
            if (::rename(thumbnail_path.c_str(), thumb.c_str()) != 0) {
                return io_error("rename", thumbnail_path, errno);
            }
        }
    }
    if (auto c = tx->commit(); !c) {
        return c.error();
    }
    return {};
}

result<std::optional<file_record>> file_store::get(std::uint64_t file_id) {
    return impl_->get(file_id);
}

result<std::uint64_t> file_store::used_bytes(std::uint64_t owner_id) {
    auto st = impl_->db->prepare("SELECT COALESCE(SUM(size), 0) FROM files WHERE owner_id = ?");
    if (!st) {
        return st.error();
    }
    if (auto b = st->bind(owner_id); !b) {
        return b.error();
    }
    if (auto s = st->step(); !s) {
        return s.error();
    }
    return st->column_uint64(0);
}

result<std::shared_ptr<blob_reader>> file_store::open_blob(const file_record& record,
                                                           bool thumbnail) {
    if (!valid_sha(record.sha256) || (thumbnail && !record.thumbnail)) {
        return make_error(errc::not_found, "no such file");
    }
    const auto path =
        thumbnail ? impl_->thumb_path(record.sha256) : impl_->blob_path(record.sha256);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return make_error(errc::not_found, "the file's bytes are missing");
        }
        return io_error("open", path.string(), errno);
    }
    struct stat sb {};
    if (::fstat(fd, &sb) != 0) {
        const int err = errno;
        ::close(fd);
        return io_error("stat", path.string(), err);
    }
    return std::make_shared<blob_reader>(fd, static_cast<std::uint64_t>(sb.st_size));
}

result<std::vector<std::string>> file_store::shared_in(std::uint64_t file_id) {
    return sqlite::query_all(
        *impl_->db, "SELECT DISTINCT conversation_id FROM file_shares WHERE file_id = ? ORDER BY 1",
        [](const sqlite::statement& row) { return row.column_text(0); }, file_id);
}

status file_store::add_share(std::uint64_t file_id, const std::string& conversation_id,
                             std::uint64_t message_id) {
    auto st = impl_->db->prepare(
        "INSERT OR IGNORE INTO file_shares (file_id, message_id, conversation_id) "
        "VALUES (?, ?, ?)");
    if (!st) {
        return st.error();
    }
    if (auto b = st->bind(file_id, message_id, conversation_id); !b) {
        return b.error();
    }
    return st->run();
}

result<std::optional<removed_file>> file_store::remove_share(std::uint64_t file_id,
                                                             std::uint64_t message_id,
                                                             bool delete_if_last) {
    auto& db = *impl_->db;
    {
        auto st = db.prepare("DELETE FROM file_shares WHERE file_id = ? AND message_id = ?");
        if (!st) {
            return st.error();
        }
        if (auto b = st->bind(file_id, message_id); !b) {
            return b.error();
        }
        if (auto r = st->run(); !r) {
            return r.error();
        }
    }
    if (!delete_if_last) {
        return std::optional<removed_file>{};
    }
    auto rest = shared_in(file_id);
    if (!rest) {
        return rest.error();
    }
    if (!rest->empty()) {
        return std::optional<removed_file>{};
    }
    auto pinned = impl_->pinned(file_id);
    if (!pinned) {
        return pinned.error();
    }
    if (*pinned) {
        return std::optional<removed_file>{};
    }
    auto rec = impl_->get(file_id);
    if (!rec) {
        return rec.error();
    }
    if (!*rec) {
        return std::optional<removed_file>{};
    }
    auto removed = impl_->remove_record(**rec);
    if (!removed) {
        return removed.error();
    }
    return std::optional<removed_file>{std::move(*removed)};
}

result<std::vector<removed_file>> file_store::remove_conversation(
    const std::string& conversation_id) {
    auto& db = *impl_->db;
    std::vector<std::uint64_t> ids;
    {
        auto tx = sqlite::transaction::begin(db, true);
        if (!tx) {
            return tx.error();
        }
        auto shared = sqlite::query_all(
            db, "SELECT DISTINCT file_id FROM file_shares WHERE conversation_id = ? ORDER BY 1",
            [](const sqlite::statement& row) { return row.column_uint64(0); }, conversation_id);
        if (!shared) {
            return shared.error();
        }
        ids = std::move(*shared);
        if (auto r = sqlite::execute(db, "DELETE FROM file_shares WHERE conversation_id = ?",
                                     conversation_id);
            !r) {
            return r.error();
        }
        if (auto c = tx->commit(); !c) {
            return c.error();
        }
    }
    // A failure from here on leaves unshared records, which the sweep deletes.
    std::vector<removed_file> out;
    for (const auto id : ids) {
        auto rest = shared_in(id);
        if (!rest) {
            return rest.error();
        }
        if (!rest->empty()) {
            continue;
        }
        auto pinned = impl_->pinned(id);
        if (!pinned) {
            return pinned.error();
        }
        if (*pinned) {
            continue;
        }
        auto rec = impl_->get(id);
        if (!rec) {
            return rec.error();
        }
        if (!*rec) {
            continue;
        }
        auto removed = impl_->remove_record(**rec);
        if (!removed) {
            return removed.error();
        }
        out.push_back(std::move(*removed));
    }
    return out;
}

result<std::vector<removed_file>> file_store::remove_unshared(std::int64_t before_ms,
                                                              std::size_t limit) {
    std::vector<file_record> victims;
    {
        auto found = sqlite::query_all(
            *impl_->db,
            "SELECT id, owner_id, sha256, name, size, content_type, width, height, thumbnail, "
            "created_ms FROM files f WHERE created_ms < ? AND NOT EXISTS "
            "(SELECT 1 FROM file_shares s WHERE s.file_id = f.id) AND NOT EXISTS "
            "(SELECT 1 FROM avatar_pins p WHERE p.file_id = f.id) ORDER BY created_ms LIMIT ?",
            impl::row, before_ms, static_cast<std::int64_t>(limit));
        if (!found) {
            return found.error();
        }
        victims = std::move(*found);
    }
    std::vector<removed_file> out;
    for (const auto& v : victims) {
        auto removed = impl_->remove_record(v);
        if (!removed) {
            return removed.error();
        }
        out.push_back(std::move(*removed));
    }
    return out;
}

result<bool> file_store::pin_avatar(std::uint64_t user_id, std::uint64_t file_id,
                                    std::int64_t now_ms) {
    auto& db = *impl_->db;
    auto tx = sqlite::transaction::begin(db, true);
    if (!tx) {
        return tx.error();
    }
    auto rec = impl_->get(file_id);
    if (!rec) {
        return rec.error();
    }
    if (!*rec) {
        return make_error(errc::not_found, "no such file");
    }
    bool existed = false;
    {
        auto st = db.prepare("SELECT 1 FROM avatar_pins WHERE user_id = ? AND file_id = ?");
        if (!st) {
            return st.error();
        }
        if (auto b = st->bind(user_id, file_id); !b) {
            return b.error();
        }
        auto has = st->step();
        if (!has) {
            return has.error();
        }
        existed = *has;
    }
    auto st = db.prepare(
        "INSERT INTO avatar_pins (user_id, file_id, pinned_ms) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id, file_id) DO UPDATE SET pinned_ms = excluded.pinned_ms");
    if (!st) {
        return st.error();
    }
    if (auto b = st->bind(user_id, file_id, now_ms); !b) {
        return b.error();
    }
    if (auto r = st->run(); !r) {
        return r.error();
    }
    if (auto c = tx->commit(); !c) {
        return c.error();
    }
    return existed;
}

status file_store::unpin_avatars(std::uint64_t user_id, std::optional<std::uint64_t> keep) {
    auto st = impl_->db->prepare(
        "DELETE FROM avatar_pins WHERE user_id = ? AND (? IS NULL OR file_id != ?)");
    if (!st) {
        return st.error();
    }
    if (auto b = st->bind(user_id, keep, keep); !b) {
        return b.error();
    }
    return st->run();
}

status file_store::unpin_avatar(std::uint64_t user_id, std::uint64_t file_id,
                                std::int64_t pinned_before_ms) {
    auto st = impl_->db->prepare(
        "DELETE FROM avatar_pins WHERE user_id = ? AND file_id = ? AND pinned_ms < ?");
    if (!st) {
        return st.error();
    }
    if (auto b = st->bind(user_id, file_id, pinned_before_ms); !b) {
        return b.error();
    }
    return st->run();
}

result<std::vector<file_store::avatar_pin>> file_store::stale_avatar_pins(
    std::int64_t pinned_before_ms, std::int64_t created_before_ms, avatar_pin after,
    std::size_t limit) {
    return sqlite::query_all(
        *impl_->db,
        "SELECT p.user_id, p.file_id FROM avatar_pins p JOIN files f ON f.id = p.file_id "
        "WHERE (p.user_id, p.file_id) > (?, ?) AND p.pinned_ms < ? AND f.created_ms < ? "
        "AND NOT EXISTS (SELECT 1 FROM file_shares s WHERE s.file_id = f.id) "
        "ORDER BY p.user_id, p.file_id LIMIT ?",
        [](const sqlite::statement& row) {
            return avatar_pin{row.column_uint64(0), row.column_uint64(1)};
        },
        after.user_id, after.file_id, pinned_before_ms, created_before_ms,
        static_cast<std::int64_t>(limit));
}

result<file_store::totals> file_store::stats() {
    auto st = impl_->db->prepare("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM files");
    if (!st) {
        return st.error();
    }
    if (auto s = st->step(); !s) {
        return s.error();
    }
    return totals{st->column_uint64(0), st->column_uint64(1)};
}

status file_store::backup_to(const std::string& dir) {
    const fs::path to(dir);
    std::error_code ec;
    if (fs::exists(to / "files.db", ec) || fs::exists(to / "files", ec)) {
        return make_error(errc::conflict, fmt::format("backup: {} holds files already", dir));
    }
    fs::create_directories(to / "files", ec);
    if (ec) {
        return make_error(errc::unavailable, fmt::format("backup: {}: {}", dir, ec.message()));
    }
    // The records first, then every blob present: blobs are never changed once written, and
    // a blob whose record came after the snapshot is only an unused extra in the copy.
    if (auto st = sqlite::backup_database(*impl_->db, (to / "files.db").string()); !st) {
        return st;
    }
    for (const auto& entry : fs::directory_iterator(impl_->root, ec)) {
        if (!entry.is_directory() || entry.path().filename() == "tmp") {
            continue;
        }
        const auto sub = to / "files" / entry.path().filename();
        fs::create_directories(sub, ec);
        for (const auto& blob : fs::directory_iterator(entry.path(), ec)) {
            const auto dest = sub / blob.path().filename();
            fs::create_hard_link(blob.path(), dest, ec);
            if (ec) {
                ec.clear();
                fs::copy_file(blob.path(), dest, ec);
            }
            if (ec) {
                return make_error(errc::unavailable, fmt::format("backup: {}: {}",
                                                                 dest.string(), ec.message()));
            }
        }
    }
    if (ec) {
        return make_error(errc::unavailable, fmt::format("backup: {}", ec.message()));
    }
    return {};
}

status restore_files(const std::string& backup_dir, const std::string& data_dir) {
    const fs::path from(backup_dir);
    const fs::path to(data_dir);
    std::error_code ec;
    if (!fs::exists(from / "files.db", ec)) {
        return {};  // a backup made before files existed
    }
    fs::copy_file(from / "files.db", to / "files.db", ec);
    if (!ec && fs::is_directory(from / "files", ec)) {
        fs::copy(from / "files", to / "files", fs::copy_options::recursive, ec);
    }
    if (ec) {
        return make_error(errc::unavailable, fmt::format("restore files: {}", ec.message()));
    }
    return {};
}

}  // namespace monochat::storage
