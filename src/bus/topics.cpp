#include <monochat/bus/topics.hpp>

#include <cstring>

namespace monochat::bus {

// Integers in host byte order: payloads never leave this process yet; an adapter that sends
// them to another machine fixes an order in one place, here.
namespace {
template <class T>
void put(std::string& out, T v) {
    char buf[sizeof(T)];
    std::memcpy(buf, &v, sizeof(T));
    out.append(buf, sizeof(T));
}
void put_bytes(std::string& out, std::string_view s) {
    put(out, static_cast<std::uint32_t>(s.size()));
    out.append(s);
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
bool get_bytes(std::string_view& in, std::string& out) {
    std::uint32_t n = 0;
    if (!get(in, n) || in.size() < n) {
        return false;
    }
    out.assign(in.substr(0, n));
    in.remove_prefix(n);
    return true;
}
error malformed(std::string_view what) {
    return make_error(errc::invalid_argument, "malformed " + std::string(what));
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
    put(out, d.message_id);
    put(out, static_cast<std::uint32_t>(d.user_ids.size()));
    for (auto id : d.user_ids) {
        put(out, id);
    }
    out += d.frame;  // the rest of the payload
    return out;
}

result<delivery> decode_delivery(std::string_view in) {
    delivery d;
    std::uint8_t kind = 0;
    std::uint8_t is_message = 0;
    std::uint32_t n = 0;
    if (!get(in, kind) || !get(in, is_message) || !get(in, d.close_code) ||
        !get(in, d.exclude_session) || !get(in, d.exclude_user) || !get(in, d.message_id) ||
        !get(in, n) || kind < 1 ||
        kind > 4 || in.size() / 8 < n) {
        return malformed("delivery");
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

std::string encode_fanout_job(const fanout_job& j) {
    std::string out;
    out.reserve(24 + j.conversation_id.size() + j.frame.size());
    put(out, j.group_id);
    put(out, j.exclude_session);
    put(out, j.message_id);
    put_bytes(out, j.conversation_id);
    out += j.frame;
    return out;
}

result<fanout_job> decode_fanout_job(std::string_view in) {
    fanout_job j;
    if (!get(in, j.group_id) || !get(in, j.exclude_session) || !get(in, j.message_id) ||
        !get_bytes(in, j.conversation_id)) {
        return malformed("fan-out job");
    }
    j.frame.assign(in);
    return j;
}

}  // namespace monochat::bus
