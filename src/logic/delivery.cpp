#include <monochat/logic/delivery.hpp>

#include <cstring>

namespace monochat::logic {

// Layout: kind (1 byte), is_message (1), close_code (2), exclude_session (8), exclude_user (8),
// recipient count (4), recipients (8 each), frame (the rest). Integers in host order: the only
// reader is this code in the same process; a cross-process bus adapter would fix an order.
namespace {
template <class T>
void put(std::string& out, T v) {
    char buf[sizeof(T)];
    std::memcpy(buf, &v, sizeof(T));
    out.append(buf, sizeof(T));
}
template <class T>
bool get(std::string_view& in, T& v) {
    if (in.size() < sizeof(T)) {
        return false;
    }
    std::memcpy(&v, in.data(), sizeof(T));
    in.remove_prefix(sizeof(T));
    return true;
}
}  // namespace

std::string encode_delivery(const delivery& d) {
    std::string out;
    out.reserve(24 + d.user_ids.size() * 8 + d.frame.size());
    put(out, static_cast<std::uint8_t>(d.kind));
    put(out, static_cast<std::uint8_t>(d.is_message ? 1 : 0));
    put(out, d.close_code);
    put(out, d.exclude_session);
    put(out, d.exclude_user);
    put(out, static_cast<std::uint32_t>(d.user_ids.size()));
    for (auto id : d.user_ids) {
        put(out, id);
    }
    out += d.frame;
    return out;
}

result<delivery> decode_delivery(std::string_view in) {
    delivery d;
    std::uint8_t kind = 0;
    std::uint8_t is_message = 0;
    std::uint32_t n = 0;
    if (!get(in, kind) || !get(in, is_message) || !get(in, d.close_code) ||
        !get(in, d.exclude_session) || !get(in, d.exclude_user) || !get(in, n) || kind < 1 ||
        kind > 4 || in.size() / 8 < n) {
        return make_error(errc::invalid_argument, "malformed delivery");
    }
    d.kind = static_cast<delivery_kind>(kind);
    d.is_message = is_message != 0;
    d.user_ids.resize(n);
    for (auto& id : d.user_ids) {
        get(in, id);
    }
    d.frame.assign(in);
    return d;
}

}  // namespace monochat::logic
