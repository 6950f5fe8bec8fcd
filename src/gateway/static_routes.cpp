#include <monochat/gateway/static_routes.hpp>

#include <map>
#include <memory>
#include <string>

namespace monochat::gateway {

namespace {

// True when `header` (an If-None-Match value: `*` or a list of entity tags) names `etag`.
// Weak tags (W/"...") compare equal too: RFC 9110 uses the weak comparison for If-None-Match.
bool etag_matches(std::string_view header, std::string_view etag) {
    std::size_t pos = 0;
    while (pos < header.size()) {
        while (pos < header.size() && (header[pos] == ' ' || header[pos] == ',' || header[pos] == '\t')) {
            ++pos;
        }
        if (pos >= header.size()) {
            break;
        }
        if (header[pos] == '*') {
            return true;
        }
        if (header.compare(pos, 2, "W/") == 0) {
            pos += 2;
        }
        const auto end = header.find(',', pos);
        auto tag = header.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) {
            tag.remove_suffix(1);
        }
        if (tag == etag) {
            return true;
        }
        if (end == std::string_view::npos) {
            break;
        }
        pos = end + 1;
    }
    return false;
}

}  // namespace

void add_static_routes(router& routes, std::span<const static_asset> assets) {
    // Looked up by exact, already percent-decoded path: "/../x", "//x" or "/index.html/" are
    // simply not names in this map.
    auto by_path = std::make_shared<std::map<std::string, const static_asset*, std::less<>>>();
    for (const auto& a : assets) {
        by_path->emplace(std::string(a.path), &a);
    }
    routes.set_fallback([by_path](http_request& req) -> boost::asio::awaitable<http_response> {
        if (req.method != http_method::get && req.method != http_method::head) {
            auto r = error_response(make_error(
                errc::method_not_allowed, std::string(to_string(req.method)) + " is not allowed on " + req.path));
            r.headers.emplace_back("Allow", "GET, HEAD");
            co_return r;
        }
        const std::string_view path = req.path == "/" ? std::string_view("/index.html") : std::string_view(req.path);
        const auto it = by_path->find(path);
        if (it == by_path->end()) {
            co_return error_response(make_error(errc::not_found, "no such page: " + req.path));
        }
        const static_asset& a = *it->second;
        http_response r;
        r.headers.emplace_back("ETag", std::string(a.etag));
        // Names are not fingerprinted, so every load revalidates; an unchanged binary answers 304.
        r.headers.emplace_back("Cache-Control", "no-cache");
        r.headers.emplace_back("X-Content-Type-Options", "nosniff");
        if (a.content_type.starts_with("text/html")) {
            r.headers.emplace_back("Content-Security-Policy",
                                   "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
                                   "object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
            r.headers.emplace_back("Referrer-Policy", "no-referrer");
        }
        if (!req.if_none_match.empty() && etag_matches(req.if_none_match, a.etag)) {
            r.status = 304;
            r.content_type.clear();
            co_return r;
        }
        r.status = 200;
        r.content_type = std::string(a.content_type);
        r.body = std::string(a.body);
        co_return r;
    });
}

}  // namespace monochat::gateway
