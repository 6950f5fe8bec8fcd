#include <monochat/logic/access.hpp>

#include <charconv>

namespace monochat::logic {

result<std::uint64_t> parse_id(std::string_view text, std::string_view what) {
    std::uint64_t v = 0;
    const bool digits_only =
        !text.empty() && text.size() <= 20 &&
        text.find_first_not_of("0123456789") == std::string_view::npos &&
        !(text.size() > 1 && text[0] == '0');
    if (!digits_only) {
        return make_error(errc::invalid_argument,
                          std::string(what) + " must be a decimal id string");
    }
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size()) {
        return make_error(errc::invalid_argument, std::string(what) + " is out of range");
    }
    return v;
}

result<conversation_ref> parse_conversation_id(std::string_view id) {
    conversation_ref ref;
    if (id == world_conversation_id) {
        ref.kind = conversation_kind::world;
        ref.id = std::string(id);
        return ref;
    }
    const auto bad = [&] {
        return make_error(errc::invalid_argument,
                          "conversation_id must be world, dm:<low>:<high> or group:<group_id>");
    };
    if (id.rfind("group:", 0) == 0) {
        auto gid = parse_id(id.substr(6), "group id");
        if (!gid || *gid == 0) {
            return bad();
        }
        ref.kind = conversation_kind::group;
        ref.group_id = *gid;
        ref.id = std::string(id);
        return ref;
    }
    if (id.rfind("dm:", 0) == 0) {
        const auto rest = id.substr(3);
        const auto colon = rest.find(':');
        if (colon == std::string_view::npos) {
            return bad();
        }
        auto low = parse_id(rest.substr(0, colon), "user id");
        auto high = parse_id(rest.substr(colon + 1), "user id");
        if (!low || !high || *low == 0 || *low >= *high) {
            return bad();
        }
        ref.kind = conversation_kind::direct;
        ref.low = *low;
        ref.high = *high;
        ref.id = std::string(id);
        return ref;
    }
    return bad();
}

}  // namespace monochat::logic
