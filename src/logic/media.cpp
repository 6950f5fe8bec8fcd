#include "logic/media.hpp"

#include <magic.h>
#include <vips/vips.h>

#include <cstddef>
#include <cstdio>
#include <mutex>
#include <string_view>

namespace monochat::logic::media {

namespace {

constexpr std::string_view octet_stream = "application/octet-stream";
constexpr std::size_t detection_window_bytes = 64 * 1024;

// libmagic's handle is not thread-safe: one, behind a mutex (detection reads a few KiB).
struct magic_handle {
    std::mutex mutex;
    magic_t cookie = nullptr;

    magic_handle() {
        cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
        if (cookie != nullptr && magic_load(cookie, nullptr) != 0) {
            magic_close(cookie);
            cookie = nullptr;
        }
        if (cookie != nullptr) {
            // libmagic reads up to 7 MiB of the file into memory by default (FILE_BYTES_MAX in
            // 5.44), which made a large upload's RSS grow by 14 MB at its end. The signatures
            // of the types served inline sit in the first bytes, and 64 KiB types the rest.
            const std::size_t window = detection_window_bytes;
            magic_setparam(cookie, MAGIC_PARAM_BYTES_MAX, &window);
        }
    }
    ~magic_handle() {
        if (cookie != nullptr) {
            magic_close(cookie);
        }
    }
};

magic_handle& magic() {
    static magic_handle h;
    return h;
}

std::string detect(const std::string& path) {
    auto& h = magic();
    std::lock_guard lock(h.mutex);
    if (h.cookie == nullptr) {
        return std::string(octet_stream);
    }
    const char* type = magic_file(h.cookie, path.c_str());
    if (type == nullptr || *type == '\0') {
        return std::string(octet_stream);
    }
    return type;
}

// libvips, once per process. Memory stays bounded: no operation cache (each thumbnail is
// made once), one worker thread per operation (the service bounds how many run at once), and
// thumbnails shrink on load, so a large JPEG is never decoded at full size.
bool vips_ready() {
    static const bool ready = [] {
        if (VIPS_INIT("monochat") != 0) {
            return false;
        }
        vips_cache_set_max(0);
        vips_cache_set_max_mem(0);
        vips_concurrency_set(1);
        return true;
    }();
    return ready;
}

bool is_inline(std::string_view t) {
    return t == "image/jpeg" || t == "image/png" || t == "image/gif" || t == "image/webp";
}

}  // namespace

inspection inspect(const std::string& path, const std::string& thumbnail_path) {
    inspection out;
    out.content_type = detect(path);
    if (!is_inline(out.content_type) || !vips_ready()) {
        return out;
    }
    VipsImage* header = vips_image_new_from_file(path.c_str(), "access", VIPS_ACCESS_SEQUENTIAL,
                                                 nullptr);
    if (header == nullptr) {
        vips_error_clear();
        return out;
    }
    const int width = vips_image_get_width(header);
    const int height = vips_image_get_height(header);
    g_object_unref(header);
    VipsImage* thumb = nullptr;
    // Both bounds: the long side ends at most thumbnail_max_px; never enlarged. The EXIF
    // orientation is applied, then every piece of metadata is stripped on save.
    if (width <= 0 || height <= 0 ||
        vips_thumbnail(path.c_str(), &thumb, thumbnail_max_px, "height", thumbnail_max_px, "size",
                       VIPS_SIZE_DOWN, "fail_on", VIPS_FAIL_ON_ERROR, nullptr) != 0) {
        vips_error_clear();
        return out;
    }
    const int saved = vips_jpegsave(thumb, thumbnail_path.c_str(), "strip", TRUE, "Q", 80, nullptr);
    g_object_unref(thumb);
    if (saved != 0) {
        vips_error_clear();
        std::remove(thumbnail_path.c_str());
        return out;
    }
    out.width = static_cast<std::uint32_t>(width);
    out.height = static_cast<std::uint32_t>(height);
    out.thumbnail = true;
    return out;
}

}  // namespace monochat::logic::media
