#pragma once
// Uploaded files (shared/protocol.md 1.1, "Files and images"): their records and shares in a
// SQLite file of their own (`<data_dir>/files.db`, so that file housekeeping never waits for the
// social store's writer), and their bytes under `<data_dir>/files/`, content-addressed:
//
//   files/tmp/<random>            an upload being received (removed unless committed)
//   files/<ab>/<sha256>           the bytes, stored once however many records name them
//   files/<ab>/<sha256>.thumb     an image's thumbnail (JPEG, no metadata)
//
// A record names a blob by its SHA-256; a blob is removed when the last record naming it goes.
//
// Avatars (issue 20): the social store's users.avatar_file_id says which file is a user's
// profile picture; an avatar pin here keeps that file from the unshared-file sweep and from a
// recall's delete. A pin is taken before the user row names the file and dropped after it no
// longer does, so every current avatar is pinned; a pin left by a failure between the two
// stores is found by the sweep (stale_avatar_pins) and checked against the user row.
//
// Thread-safety: `file_store` is NOT thread-safe: its owner (logic's file service) calls it from
// one thread at a time, which also serialises "commit a blob and insert its record" against
// "delete a record and its now unused blob". `blob_writer` and `blob_reader` belong to one
// caller each. Every call blocks (disk, SQLite): never call from a network thread.

#include <cstdint>
#include <memory>
#include <monochat/infra/result.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::storage {

struct file_record {
    std::uint64_t file_id = 0;
    std::uint64_t owner_id = 0;
    std::string sha256;  // lower-case hex of the bytes
    std::string name;
    std::uint64_t size = 0;
    std::string content_type;  // detected from the bytes
    std::uint32_t width = 0;   // images that decoded; 0 otherwise
    std::uint32_t height = 0;
    bool thumbnail = false;  // a thumbnail blob exists
    std::int64_t created_ms = 0;
};

// A record that went; `blob_removed` when it was the last to name its bytes (they are gone).
struct removed_file {
    file_record record;
    bool blob_removed = false;
};

// A temporary file an upload streams into, hashed as it is written. Removed when destroyed
// uncommitted.
class blob_writer {
public:
    ~blob_writer();
    blob_writer(const blob_writer&) = delete;
    blob_writer& operator=(const blob_writer&) = delete;

    // Appends. Errors: unavailable (disk full, I/O error).
    [[nodiscard]] status write(std::span<const char> bytes);
    // Flushes to disk and returns the SHA-256 (hex) of everything written. Errors: unavailable.
    [[nodiscard]] result<std::string> finish();
    std::uint64_t size() const noexcept { return size_; }
    const std::string& path() const noexcept { return path_; }

private:
    friend class file_store;
    struct hash_state;
    blob_writer(int fd, std::string path);
    int fd_;
    std::string path_;
    std::uint64_t size_ = 0;
    std::unique_ptr<hash_state> hash_;
    bool committed_ = false;
};

// An open blob for downloads; stays readable even if the blob is deleted meanwhile.
class blob_reader {
public:
    explicit blob_reader(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
    ~blob_reader();
    blob_reader(const blob_reader&) = delete;
    blob_reader& operator=(const blob_reader&) = delete;
    // Up to `buf.size()` bytes at `offset`; 0 at the end. Errors: unavailable.
    [[nodiscard]] result<std::size_t> read(std::uint64_t offset, std::span<char> buf) const;
    std::uint64_t size() const noexcept { return size_; }

private:
    int fd_;
    std::uint64_t size_;
};

struct file_store_options {
    std::string data_dir;  // files.db and files/ go here
    bool synchronous_full = true;
};

class file_store {
public:
    // Opens (creating and migrating) `<data_dir>/files.db` and the blob directory, and removes
    // temporaries left by a crash. Errors: unavailable, internal (not a monochat file).
    [[nodiscard]] static result<std::unique_ptr<file_store>> open(const file_store_options& options);
    ~file_store();
    file_store(const file_store&) = delete;
    file_store& operator=(const file_store&) = delete;

    // A new temporary file for an upload. Errors: unavailable.
    [[nodiscard]] result<std::unique_ptr<blob_writer>> create_temp();
    // A path for a temporary thumbnail next to the uploads; removed by the caller or by commit.
    std::string temp_thumbnail_path(const blob_writer& w) const;

    // In one transaction: refuses with too_large when the owner's stored bytes plus this size
    // pass `quota`, else inserts the record; then moves the blob (and the thumbnail, when
    // `thumbnail_path` names one) into place under its hash, or drops them when that hash is
    // stored already. Nothing is left behind on failure. Errors: too_large, conflict (id
    // taken), unavailable.
    [[nodiscard]] status commit(blob_writer& blob, const std::string& thumbnail_path,
                                const file_record& record, std::uint64_t quota);

    [[nodiscard]] result<std::optional<file_record>> get(std::uint64_t file_id);
    // Bytes of all of a user's records.
    [[nodiscard]] result<std::uint64_t> used_bytes(std::uint64_t owner_id);
    // Opens the bytes (or the thumbnail) of a record. Errors: not_found, unavailable.
    [[nodiscard]] result<std::shared_ptr<blob_reader>> open_blob(const file_record& record,
                                                                 bool thumbnail);

    // Conversations where a message shares the file, ascending.
    [[nodiscard]] result<std::vector<std::string>> shared_in(std::uint64_t file_id);
    [[nodiscard]] status add_share(std::uint64_t file_id, const std::string& conversation_id,
                                   std::uint64_t message_id);
    // Removes one share. With `delete_if_last`, when no share remains and no avatar pin holds
    // it, the record goes as well (and its blob when unused): returned. Errors: unavailable.
    [[nodiscard]] result<std::optional<removed_file>> remove_share(std::uint64_t file_id,
                                                                   std::uint64_t message_id,
                                                                   bool delete_if_last);
    // A conversation gone for good (a deleted group): every share in it goes (one
    // transaction), then each of those files that no other conversation shares and no avatar
    // pin holds goes as well (and its blob when unused): returned. What a failure leaves
    // unshared, the sweep deletes. Errors: unavailable.
    [[nodiscard]] result<std::vector<removed_file>> remove_conversation(
        const std::string& conversation_id);
    // Records that no message shares and no avatar pin holds, created before `before_ms`: up
    // to `limit` of them go.
    [[nodiscard]] result<std::vector<removed_file>> remove_unshared(std::int64_t before_ms,
                                                                    std::size_t limit);

    // ---- avatar pins ----

    // Pins `file_id` as one of `user_id`'s avatars at `now_ms` (again: the time is renewed).
    // Answers whether it was pinned already. Errors: not_found (no such file), unavailable.
    [[nodiscard]] result<bool> pin_avatar(std::uint64_t user_id, std::uint64_t file_id,
                                          std::int64_t now_ms);
    // Drops the user's pins but the one of `keep`. Errors: unavailable.
    [[nodiscard]] status unpin_avatars(std::uint64_t user_id, std::optional<std::uint64_t> keep);
    // Drops one pin if it was taken (or renewed) before `pinned_before_ms`. Errors: unavailable.
    [[nodiscard]] status unpin_avatar(std::uint64_t user_id, std::uint64_t file_id,
                                      std::int64_t pinned_before_ms);
    struct avatar_pin {
        std::uint64_t user_id = 0;
        std::uint64_t file_id = 0;
    };
    // Pins taken before `pinned_before_ms` of files that the sweep would delete but for the pin
    // (no share, created before `created_before_ms`), ordered by (user_id, file_id) and after
    // `after` in that order, at most `limit`.
    [[nodiscard]] result<std::vector<avatar_pin>> stale_avatar_pins(std::int64_t pinned_before_ms,
                                                                     std::int64_t created_before_ms,
                                                                     avatar_pin after,
                                                                     std::size_t limit);

    struct totals {
        std::uint64_t files = 0;
        std::uint64_t bytes = 0;
    };
    [[nodiscard]] result<totals> stats();

    // A consistent copy into `dir` (which must not exist yet): files.db and the blobs (hard
    // links where the file system allows, else copies). Errors: conflict, unavailable.
    [[nodiscard]] status backup_to(const std::string& dir);

private:
    struct impl;
    explicit file_store(std::unique_ptr<impl> impl);
    std::unique_ptr<impl> impl_;
};

// Puts a backup made by file_store::backup_to back into `data_dir` (which has no files yet).
[[nodiscard]] status restore_files(const std::string& backup_dir, const std::string& data_dir);

}  // namespace monochat::storage
