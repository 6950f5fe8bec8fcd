#include <monochat/gateway/file_routes.hpp>

#include <cctype>
#include <charconv>
#include <memory>
#include <monochat/logic/files.hpp>
#include <vector>

#include "gateway/rest_common.hpp"

namespace monochat::gateway {

namespace {

using net_response = boost::asio::awaitable<http_response>;

// The buffer one upload reads the body into: the memory an upload holds, whatever its size.
constexpr std::size_t upload_chunk_bytes = 256 * 1024;

// Reads an open download in chunks, off the network threads.
class download_source final : public body_source {
public:
    download_source(logic::file_service& files, std::shared_ptr<const storage::blob_reader> reader,
                    std::uint64_t offset)
        : files_(files), reader_(std::move(reader)), offset_(offset) {}

    boost::asio::awaitable<result<std::size_t>> read(std::span<char> buf) override {
        auto n = co_await files_.read(reader_, offset_, buf);
        if (n) {
            offset_ += *n;
        }
        co_return n;
    }

private:
    logic::file_service& files_;
    std::shared_ptr<const storage::blob_reader> reader_;
    std::uint64_t offset_;
};

bool etag_listed(std::string_view header, std::string_view etag) {
    std::size_t pos = 0;
    while (pos < header.size()) {
        const auto end = header.find(',', pos);
        auto tag = header.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) {
            tag.remove_prefix(1);
        }
        while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) {
            tag.remove_suffix(1);
        }
        if (tag.substr(0, 2) == "W/") {
            tag.remove_prefix(2);
        }
        if (tag == "*" || tag == etag) {
            return true;
        }
        if (end == std::string_view::npos) {
            break;
        }
        pos = end + 1;
    }
    return false;
}

std::optional<std::uint64_t> decimal(std::string_view s) {
    std::uint64_t v = 0;
    const auto* end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, v);
    if (s.empty() || ec != std::errc{} || ptr != end) {
        return std::nullopt;
    }
    return v;
}

// The streaming routes cannot take a typed body, but they name the caller as every other
// route does: through the pipeline's one bearer gate (rest_pipeline.hpp), built once when the
// routes are added and held by them. (Not `co_await rest::bearer(a)(req)`: that gate would be a
// temporary living across the co_await, which GCC 12 destroys twice.)
using bearer_gate = rest::gate<logic::identity>;

net_response upload(const bearer_gate& caller, logic::file_service& files, http_request& req) {
    auto who = co_await caller(req);
    if (!who) {
        co_return error_response(who.error());
    }
    const auto name = req.query_param("name");
    if (!name) {
        co_return error_response(make_error(errc::invalid_argument, "name is required"));
    }
    if (req.stream == nullptr) {
        // No body at all: the listener took the usual path.
        co_return error_response(make_error(errc::invalid_argument, "the file is empty"));
    }
    std::string file_name(*name);  // named: no temporary across the co_await (GCC 12)
    auto up = co_await files.begin_upload(*who, std::move(file_name), req.stream->content_length());
    if (!up) {
        co_return error_response(up.error());
    }
    std::vector<char> buf(upload_chunk_bytes);
    for (;;) {
        auto n = co_await req.stream->read_some(std::span<char>(buf));
        if (!n) {
            (*up)->refused(n.error().code == errc::invalid_argument ? "invalid" : "interrupted");
            co_return error_response(n.error());
        }
        if (*n == 0) {
            break;
        }
        if (auto st = co_await (*up)->write(std::span<const char>(buf.data(), *n)); !st) {
            co_return error_response(st.error());
        }
    }
    auto info = co_await (*up)->finish();
    if (!info) {
        co_return error_response(info.error());
    }
    co_return http_response::json(201, R"({"file":)" + logic::to_json(*info) + "}");
}

net_response download(const bearer_gate& caller, logic::file_service& files, http_request& req,
                      bool thumbnail) {
    auto who = co_await caller(req);
    if (!who) {
        co_return error_response(who.error());
    }
    auto numbers = rest::path_numbers(req);
    if (!numbers) {
        co_return error_response(numbers.error());
    }
    const std::uint64_t id = rest::request(req, std::move(*numbers)).number("file_id");
    auto file = co_await files.open(*who, id, thumbnail);
    if (!file) {
        co_return error_response(file.error());
    }
    const auto& info = file->info;
    // The bytes behind an id never change, so the hash is a strong validator.
    const std::string etag = "\"" + info.sha256 + (thumbnail ? "-t" : "") + "\"";
    http_response res;
    res.headers.emplace_back("ETag", etag);
    res.headers.emplace_back("X-Content-Type-Options", "nosniff");
    res.headers.emplace_back("Content-Security-Policy", "default-src 'none'; sandbox");
    res.headers.emplace_back("Cache-Control", "private, no-cache");
    res.headers.emplace_back("Accept-Ranges", "bytes");
    const bool inline_ =
        thumbnail || (logic::is_inline_image_type(info.content_type) && info.width > 0);
    res.headers.emplace_back("Content-Disposition", content_disposition(inline_, info.name));
    if (!req.if_none_match.empty() && etag_listed(req.if_none_match, etag)) {
        res.status = 304;
        res.content_type.clear();
        co_return res;
    }
    res.content_type = thumbnail ? "image/jpeg" : info.content_type;
    std::uint64_t first = 0;
    std::uint64_t length = file->size;
    const bool range_applies = !req.range.empty() && (req.if_range.empty() || req.if_range == etag);
    if (range_applies) {
        if (const auto r = parse_range(req.range, file->size)) {
            if (!r->satisfiable) {
                res.status = 416;
                res.content_type.clear();
                res.headers.emplace_back("Content-Range", "bytes */" + std::to_string(file->size));
                co_return res;
            }
            res.status = 206;
            first = r->first;
            length = r->last - r->first + 1;
            res.headers.emplace_back("Content-Range", "bytes " + std::to_string(r->first) + "-" +
                                                          std::to_string(r->last) + "/" +
                                                          std::to_string(file->size));
        }
    }
    res.source = std::make_shared<download_source>(files, std::move(file->reader), first);
    res.source_length = length;
    co_return res;
}

}  // namespace

std::string content_disposition(bool inline_, std::string_view name) {
    std::string ascii;
    std::string encoded;
    for (const char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        const bool printable = c >= 0x20 && c < 0x7F;
        ascii += printable && c != '"' && c != '\\' ? ch : '_';
        const bool attr_char = std::isalnum(c) != 0 || std::string_view("!#$&+-.^_`|~").find(ch) !=
                                                           std::string_view::npos;
        if (attr_char && c < 0x80) {
            encoded += ch;
        } else {
            constexpr char hex[] = "0123456789ABCDEF";
            encoded += '%';
            encoded += hex[c >> 4];
            encoded += hex[c & 0xF];
        }
    }
    return std::string(inline_ ? "inline" : "attachment") + "; filename=\"" + ascii +
           "\"; filename*=UTF-8''" + encoded;
}

std::optional<byte_range> parse_range(std::string_view header, std::uint64_t size) {
    constexpr std::string_view unit = "bytes=";
    if (header.substr(0, unit.size()) != unit) {
        return std::nullopt;
    }
    auto spec = header.substr(unit.size());
    while (!spec.empty() && spec.front() == ' ') {
        spec.remove_prefix(1);
    }
    while (!spec.empty() && spec.back() == ' ') {
        spec.remove_suffix(1);
    }
    if (spec.find(',') != std::string_view::npos) {
        return std::nullopt;  // several ranges: served whole, as RFC 9110 allows
    }
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) {
        return std::nullopt;
    }
    const auto a = spec.substr(0, dash);
    const auto b = spec.substr(dash + 1);
    if (a.empty()) {
        const auto suffix = decimal(b);
        if (!suffix) {
            return std::nullopt;
        }
        if (*suffix == 0 || size == 0) {
            return byte_range{0, 0, false};
        }
        const auto n = std::min(*suffix, size);
        return byte_range{size - n, size - 1, true};
    }
    const auto first = decimal(a);
    if (!first) {
        return std::nullopt;
    }
    std::uint64_t last = size == 0 ? 0 : size - 1;
    if (!b.empty()) {
        const auto l = decimal(b);
        if (!l || *l < *first) {
            return std::nullopt;
        }
        last = std::min(*l, last);
    }
    if (*first >= size) {
        return byte_range{0, 0, false};
    }
    return byte_range{*first, last, true};
}

void add_file_routes(router& routes, authenticator authenticate, logic::file_service& files) {
    // One gate shared by the three routes; the router holds it as long as the routes.
    auto caller = std::make_shared<const bearer_gate>(rest::bearer(std::move(authenticate)));
    routes.add_streaming(http_method::post, "/api/v1/files",
                         [caller, &files](http_request& req) -> net_response {
                             return upload(*caller, files, req);
                         });
    routes.add(http_method::get, "/api/v1/files/{file_id}",
               [caller, &files](http_request& req) -> net_response {
                   return download(*caller, files, req, false);
               });
    routes.add(http_method::get, "/api/v1/files/{file_id}/thumbnail",
               [caller, &files](http_request& req) -> net_response {
                   return download(*caller, files, req, true);
               });
}

}  // namespace monochat::gateway
