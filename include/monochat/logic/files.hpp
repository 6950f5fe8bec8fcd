#pragma once
// Files and images in chats (shared/protocol.md 1.1, "Files and images"): uploads streamed to
// disk under the size limit and the uploader's quota, the type detected from the bytes
// (libmagic), image sizes and thumbnails (libvips), who may fetch a file, sharing it by a
// `file` message, and housekeeping (unshared files expire; recalling a file's last sharing
// message deletes it).
//
// Threads: every awaitable resumes on the caller's executor. Disk writes, type detection and
// thumbnails run on the service's worker pool (bounded: two threads, so at most two images are
// decoded at once); every use of the file store runs on one thread of its own, in order.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <monochat/infra/result.hpp>
#include <monochat/logic/access.hpp>
#include <optional>
#include <span>
#include <string>

namespace monochat::infra {
class clock;
class id_generator;
class live_config;
class metrics_registry;
}  // namespace monochat::infra
namespace monochat::storage {
class file_store;
class blob_reader;
class user_store;
}  // namespace monochat::storage

namespace monochat::logic {

class access_control;

// {"file_id", "name", "size", "content_type", "sha256", "width"?, "height"?}
struct file_info {
    std::uint64_t file_id = 0;
    std::uint64_t owner_id = 0;
    std::string name;
    std::uint64_t size = 0;
    std::string content_type;
    std::string sha256;
    std::uint32_t width = 0;  // 0: not an image (or one that did not decode)
    std::uint32_t height = 0;
    bool thumbnail = false;
};

[[nodiscard]] std::string to_json(const file_info& f);

// The types ever served inline; everything else is an attachment.
[[nodiscard]] bool is_inline_image_type(std::string_view content_type) noexcept;

// An upload in progress. Destroyed without finish(), it leaves nothing behind.
class file_upload {
public:
    virtual ~file_upload() = default;
    // Appends bytes. Errors: too_large (past limits.max_file_bytes or the quota: the upload is
    // over, nothing kept), unavailable (disk).
    virtual boost::asio::awaitable<status> write(std::span<const char> bytes) = 0;
    // Detects the type, makes an image's thumbnail, and stores the file. Errors: too_large
    // (quota, rechecked now), invalid_argument (empty file), unavailable.
    virtual boost::asio::awaitable<result<file_info>> finish() = 0;
    // Counts the upload as refused for `reason` ("interrupted", "invalid") in the metrics.
    virtual void refused(std::string_view reason) = 0;
};

// What a download reads: the file (or its thumbnail) opened, and its metadata.
struct file_download {
    file_info info;
    std::shared_ptr<const storage::blob_reader> reader;
    std::uint64_t size = 0;  // of what `reader` reads (the thumbnail's size for thumbnails)
    bool thumbnail = false;
};

// The part messaging uses: a `file` message shares a file.
class file_sharing {
public:
    virtual ~file_sharing() = default;
    // Records that `message_id` in `conversation_id` shares the file and returns its metadata
    // for the message, as a JSON object text {"name", "size", "content_type", "width",
    // "height"} (width and height only for images). Errors: not_found (no such file),
    // forbidden (only its uploader may share a file), unavailable.
    virtual boost::asio::awaitable<result<std::string>> share(std::uint64_t user_id,
                                                              std::uint64_t file_id,
                                                              std::string conversation_id,
                                                              std::uint64_t message_id) = 0;
    // Forgets one share (a send that failed or was a retry: `delete_if_last` false), or a
    // recalled message's (true: the file goes when no message shares it any more). Failures
    // are logged; the sweep finds what they left.
    virtual boost::asio::awaitable<void> unshare(std::uint64_t file_id, std::uint64_t message_id,
                                                 bool delete_if_last) = 0;
    // A conversation gone for good (a deleted group): its shares go, and each file that no
    // other conversation shares (and that is no one's avatar) is deleted, as a recall of its
    // last sharing would delete it. Errors: unavailable (what is left unshared, the sweep
    // deletes).
    virtual boost::asio::awaitable<status> forget_conversation(std::string conversation_id) = 0;
};

// The part accounts uses: a user's avatar is an image file of their own (issue 20). The user
// row (social store) says which file it is; a pin in the file store keeps that file from the
// unshared-file sweep and from a recall's delete (storage/file_store.hpp, "Avatars").
class avatar_files {
public:
    virtual ~avatar_files() = default;
    // Checks that `file_id` may be the user's avatar and pins it; call before the user row
    // names it. Answers whether it was pinned already. Errors: not_found (no such file),
    // forbidden (someone else's upload), invalid_argument (not a JPEG, PNG, GIF or WebP image
    // that decoded), unavailable.
    virtual boost::asio::awaitable<result<bool>> pin_avatar(std::uint64_t user_id,
                                                            std::uint64_t file_id) = 0;
    // Drops one pin again (the user row could not be written). Failures are logged.
    virtual boost::asio::awaitable<void> unpin_avatar(std::uint64_t user_id,
                                                      std::uint64_t file_id) = 0;
    // After the user row changed: drops the user's other pins (all of them when `current` is
    // empty). Failures are logged; the sweep finds what they left.
    virtual boost::asio::awaitable<void> keep_only_avatar(std::uint64_t user_id,
                                                          std::optional<std::uint64_t> current) = 0;
};

class file_service : public file_sharing, public avatar_files {
public:
    // `name`: the file name (1 to 255 bytes of UTF-8, no control characters, no '/' or '\\');
    // `declared`: the Content-Length, when known, refused at once when it is already too
    // large. Errors: invalid_argument, too_large, unavailable.
    virtual boost::asio::awaitable<result<std::unique_ptr<file_upload>>> begin_upload(
        identity who, std::string name, std::optional<std::uint64_t> declared) = 0;

    // The uploader, whoever may read a conversation where the file is shared, and any
    // authenticated user when the file is some user's current avatar. Errors: not_found (no
    // such file; no thumbnail), forbidden, unavailable.
    virtual boost::asio::awaitable<result<file_download>> open(identity who, std::uint64_t file_id,
                                                               bool thumbnail) = 0;

    // Reads a chunk of an open download off the network threads; 0 at the end.
    virtual boost::asio::awaitable<result<std::size_t>> read(
        std::shared_ptr<const storage::blob_reader> reader, std::uint64_t offset,
        std::span<char> buf) = 0;

    // Deletes files never shared whose `files.unshared_ttl_s` has passed, but current avatars.
    // Returns how many.
    virtual boost::asio::awaitable<result<std::size_t>> sweep() = 0;

    // files.db and the blobs into `dir` (see storage::file_store::backup_to).
    virtual boost::asio::awaitable<status> backup_to(std::string dir) = 0;

    // Waits for the work in progress and stops the threads.
    virtual void stop() = 0;
};

struct file_service_dependencies {
    storage::file_store& store;
    access_control& access;
    const infra::live_config& live;
    const infra::clock& clock;
    infra::id_generator& ids;
    infra::metrics_registry& metrics;
    // The user rows, which say whose avatar a file is. Null: no file is anyone's avatar to
    // others, and the sweep keeps every pinned file.
    storage::user_store* users = nullptr;
};

std::unique_ptr<file_service> make_file_service(file_service_dependencies deps);

}  // namespace monochat::logic
