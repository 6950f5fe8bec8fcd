#include <monochat/infra/json_text.hpp>

#include <charconv>

namespace monochat::infra {

void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t plain = 0;  // start of the run of characters that need no escape
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto u = static_cast<unsigned char>(s[i]);
        if (u >= 0x20 && u != '"' && u != '\\') {
            continue;
        }
        out.append(s.data() + plain, i - plain);
        plain = i + 1;
        switch (u) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                out += "\\u00";
                out += hex[u >> 4];
                out += hex[u & 0xf];
        }
    }
    out.append(s.data() + plain, s.size() - plain);
    out += '"';
}

namespace {
template <class Int>
void append_int(std::string& out, Int v) {
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
    (void)ec;  // 24 bytes hold any 64-bit integer
    out.append(digits, static_cast<std::size_t>(end - digits));
}
}  // namespace

void append_decimal(std::string& out, std::uint64_t v) { append_int(out, v); }
void append_decimal(std::string& out, std::int64_t v) { append_int(out, v); }

}  // namespace monochat::infra
