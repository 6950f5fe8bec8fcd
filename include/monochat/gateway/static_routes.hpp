#pragma once
// The built-in web client, served from memory (shared/protocol.md: "Paths outside /api/v1,
// /healthz, /readyz and /metrics serve the built-in web client").
//
// The assets are compiled into the binary at build time (cmake/embed_assets.cmake turns every
// file under web/ into a byte array), so nothing is ever read from disk and no request path can
// name a file outside the client's folder: a path is either one of the embedded names or 404.
//
// Answers: GET and HEAD only (others 405 with `Allow: GET, HEAD`); `/` is `/index.html`; the
// content type comes from the file's extension; every asset carries a strong `ETag` (a prefix of
// its SHA-256) and `Cache-Control: no-cache`, so browsers revalidate and get 304 while the
// binary is unchanged, and a new build is picked up at once. API paths never reach this handler
// (the listener answers 404 JSON for unknown `/api/...` paths itself).

#include <monochat/gateway/http.hpp>
#include <span>
#include <string_view>

namespace monochat::gateway {

struct static_asset {
    std::string_view path;          // "/index.html", "/js/app.js"
    std::string_view content_type;  // "text/html; charset=utf-8"
    std::string_view body;
    std::string_view etag;  // quoted, as sent: "\"3f2a...\""
};

// The files of web/, embedded at build time. The spans stay valid for the life of the process.
std::span<const static_asset> web_client_assets();

// Installs the router's fallback: `assets` are served as described above; anything else is 404.
// `assets` must outlive `routes`.
void add_static_routes(router& routes, std::span<const static_asset> assets);

}  // namespace monochat::gateway
