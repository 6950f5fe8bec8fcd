#pragma once
// HTTP routes of files and images (shared/protocol.md 1.1, "Files and images"):
//   POST /api/v1/files?name=<file name>     the raw bytes, streamed (router::add_streaming)
//   GET  /api/v1/files/{file_id}            the bytes: Range (206), ETag (304), nosniff
//   GET  /api/v1/files/{file_id}/thumbnail  an image's thumbnail (JPEG)
// Downloads are streamed from disk in chunks (http_response::source). Only JPEG, PNG, GIF and
// WebP that decoded are served `inline`; everything else is an `attachment`, and every answer
// carries `X-Content-Type-Options: nosniff` and a sandboxing Content-Security-Policy, so that an
// uploaded page never runs in the server's origin.

#include <monochat/gateway/http.hpp>
#include <monochat/gateway/message_routes.hpp>

namespace monochat::logic {
class file_service;
}

namespace monochat::gateway {

void add_file_routes(router& routes, authenticator authenticate, logic::file_service& files);

// The value of a Content-Disposition header for `name`: an ASCII fallback `filename` and the
// exact UTF-8 name as `filename*` (RFC 6266, RFC 8187).
[[nodiscard]] std::string content_disposition(bool inline_, std::string_view name);

// A single byte range of a `Range` header against a body of `size` bytes: [first, last].
// nullopt: the header is not one satisfiable-or-not byte range (served whole). `satisfiable`
// false: 416.
struct byte_range {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    bool satisfiable = true;
};
[[nodiscard]] std::optional<byte_range> parse_range(std::string_view header, std::uint64_t size);

}  // namespace monochat::gateway
