#pragma once
// What a file's bytes are: the type from libmagic, never from the client; for the image types
// served inline (JPEG, PNG, GIF, WebP), the dimensions and a thumbnail from libvips. Private to
// logic. Every call blocks (reads the file, decodes): run it on a worker thread.

#include <cstdint>
#include <string>

namespace monochat::logic::media {

// The longest side of a thumbnail, in pixels.
inline constexpr int thumbnail_max_px = 320;

struct inspection {
    std::string content_type;  // MIME type; "application/octet-stream" when unknown
    std::uint32_t width = 0;   // an inline image type that decoded; 0 otherwise
    std::uint32_t height = 0;
    bool thumbnail = false;  // written to the thumbnail path
};

// Detects the type of the file at `path`; an inline image type is decoded, measured and shrunk
// to a JPEG of at most thumbnail_max_px on its long side, without metadata (no EXIF, no GPS),
// written to `thumbnail_path`. An image that fails to decode is reported as a plain file (no
// size, no thumbnail). Never throws.
inspection inspect(const std::string& path, const std::string& thumbnail_path);

}  // namespace monochat::logic::media
