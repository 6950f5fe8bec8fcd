#include <monochat/gateway/http.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace monochat::gateway {

std::string_view to_string(http_method m) noexcept {
    switch (m) {
        case http_method::get: return "GET";
        case http_method::head: return "HEAD";
        case http_method::post: return "POST";
        case http_method::put: return "PUT";
        case http_method::patch: return "PATCH";
        case http_method::del: return "DELETE";
        case http_method::options: return "OPTIONS";
        case http_method::other: return "OTHER";
    }
    return "OTHER";
}

std::optional<std::string_view> http_request::query_param(std::string_view name) const {
    for (const auto& [k, v] : query) {
        if (k == name) {
            return std::string_view(v);
        }
    }
    return std::nullopt;
}

std::string_view http_request::param(std::string_view name) const {
    for (const auto& [k, v] : path_params) {
        if (k == name) {
            return v;
        }
    }
    return {};
}

std::string_view http_request::bearer_token() const {
    std::string_view a = authorization;
    constexpr std::string_view prefix = "Bearer ";
    if (a.size() <= prefix.size()) {
        return {};
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(prefix[i]))) {
            return {};
        }
    }
    a.remove_prefix(prefix.size());
    while (!a.empty() && a.front() == ' ') {
        a.remove_prefix(1);
    }
    while (!a.empty() && a.back() == ' ') {
        a.remove_suffix(1);
    }
    return a;
}

http_response http_response::json(int status, std::string body) {
    http_response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

http_response http_response::no_content() {
    http_response r;
    r.status = 204;
    r.content_type.clear();
    return r;
}

int http_status(errc code) noexcept {
    switch (code) {
        case errc::invalid_argument: return 400;
        case errc::unauthenticated: return 401;
        case errc::forbidden: return 403;
        case errc::not_found: return 404;
        case errc::method_not_allowed: return 405;
        case errc::conflict: return 409;
        case errc::too_large: return 413;
        case errc::rate_limited: return 429;
        case errc::internal: return 500;
        case errc::unavailable: return 503;
    }
    return 500;
}

http_response error_response(const error& e) {
    nlohmann::json body = {{"error", {{"code", to_string(e.code)}, {"message", e.message}}}};
    http_response r = http_response::json(http_status(e.code),
                                          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    // Always with rate_limited; with unavailable when the refusal knows when to come back.
    if (e.code == errc::rate_limited || (e.code == errc::unavailable && e.retry_after_s > 0)) {
        r.headers.emplace_back("Retry-After", std::to_string(std::max(1, e.retry_after_s)));
    }
    return r;
}

namespace {
std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < path.size()) {
        if (path[i] == '/') {
            ++i;
            continue;
        }
        const auto j = path.find('/', i);
        const auto end = j == std::string_view::npos ? path.size() : j;
        out.emplace_back(path.substr(i, end - i));
        i = end;
    }
    return out;
}

bool is_param(const std::string& seg) {
    return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}
}  // namespace

void router::add(http_method method, std::string pattern, route_handler handler) {
    auto segments = split_path(pattern);
    const int literals = static_cast<int>(
        std::count_if(segments.begin(), segments.end(), [](const auto& s) { return !is_param(s); }));
    routes_.push_back({method, std::move(pattern), std::move(segments), literals, std::move(handler)});
}

void router::add_streaming(http_method method, std::string pattern, route_handler handler) {
    add(method, std::move(pattern), std::move(handler));
    routes_.back().streaming = true;
}

void router::set_fallback(route_handler handler) { fallback_ = std::move(handler); }

router::match router::find(http_method method, std::string_view path) const {
    const auto segments = split_path(path);
    match best;
    int best_literals = -1;
    // HEAD is served by GET routes (the listener drops the body).
    const http_method wanted = method == http_method::head ? http_method::get : method;
    for (const auto& r : routes_) {
        if (r.segments.size() != segments.size()) {
            continue;
        }
        bool ok = true;
        for (std::size_t i = 0; i < segments.size() && ok; ++i) {
            ok = is_param(r.segments[i]) ? !segments[i].empty() : r.segments[i] == segments[i];
        }
        if (!ok) {
            continue;
        }
        if (r.method != wanted) {
            if (std::find(best.allowed.begin(), best.allowed.end(), r.method) == best.allowed.end()) {
                best.allowed.push_back(r.method);
            }
            continue;
        }
        if (r.literal_count > best_literals) {
            best_literals = r.literal_count;
            best.handler = &r.handler;
            best.pattern = &r.pattern;
            best.streaming = r.streaming;
            best.params.clear();
            for (std::size_t i = 0; i < segments.size(); ++i) {
                if (is_param(r.segments[i])) {
                    best.params.emplace_back(r.segments[i].substr(1, r.segments[i].size() - 2),
                                             segments[i]);
                }
            }
        }
    }
    if (best.handler != nullptr) {
        best.allowed.clear();
    }
    return best;
}

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) {
                return false;
            }
            const int hi = hex_value(in[i + 1]);
            const int lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0) {
                return false;
            }
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return true;
}

bool parse_query(std::string_view query, string_pairs& out) {
    out.clear();
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty()) {
            continue;
        }
        const auto eq = part.find('=');
        std::string k;
        std::string v;
        if (!percent_decode(part.substr(0, eq), k, true)) {
            return false;
        }
        if (eq != std::string_view::npos && !percent_decode(part.substr(eq + 1), v, true)) {
            return false;
        }
        out.emplace_back(std::move(k), std::move(v));
    }
    return true;
}

}  // namespace monochat::gateway
