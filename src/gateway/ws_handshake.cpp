#include "gateway/ws_handshake.hpp"

#include <algorithm>
#include <cctype>

namespace monochat::gateway {

namespace {
bool is_ows(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 5.6.2: the characters of a token, which a subprotocol name is (RFC 6455 4.1).
bool is_tchar(unsigned char c) {
    return std::isalnum(c) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                       std::string_view::npos;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_ows(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_ows(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}
}  // namespace

ws_subprotocols parse_ws_subprotocols(std::string_view header) {
    ws_subprotocols out;
    while (!header.empty()) {
        const auto comma = header.find(',');
        const auto item = trim(header.substr(0, comma));
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        if (item == ws_subprotocol) {
            out.v1 = true;
        } else if (item.substr(0, ws_token_subprotocol_prefix.size()) ==
                   ws_token_subprotocol_prefix) {
            const auto token = item.substr(ws_token_subprotocol_prefix.size());
            if (token.empty() || out.token ||
                !std::all_of(token.begin(), token.end(),
                             [](char c) { return is_tchar(static_cast<unsigned char>(c)); })) {
                out.malformed = true;
            } else {
                out.token = std::string(token);
            }
        }
    }
    return out;
}

std::string normalize_origin(std::string_view origin) {
    std::string o(trim(origin));
    std::transform(o.begin(), o.end(), o.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    while (!o.empty() && o.back() == '/') {
        o.pop_back();
    }
    const auto strip = [&o](std::string_view scheme, std::string_view port) {
        if (o.size() > scheme.size() + port.size() && o.compare(0, scheme.size(), scheme) == 0 &&
            o.compare(o.size() - port.size(), port.size(), port) == 0) {
            o.resize(o.size() - port.size());
        }
    };
    strip("http://", ":80");
    strip("https://", ":443");
    return o;
}

bool ws_origin_allowed(std::optional<std::string_view> origin, std::string_view host, bool tls,
                       const std::vector<std::string>& allowed) {
    if (!origin) {
        return true;
    }
    const auto o = normalize_origin(*origin);
    if (o.empty() || o == "null") {
        return false;
    }
    const auto h = trim(host);
    if (!h.empty() &&
        o == normalize_origin(std::string(tls ? "https://" : "http://") + std::string(h))) {
        return true;
    }
    return std::any_of(allowed.begin(), allowed.end(),
                       [&o](const std::string& a) { return normalize_origin(a) == o; });
}

}  // namespace monochat::gateway
