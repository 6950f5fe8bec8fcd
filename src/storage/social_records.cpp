#include <algorithm>
#include <monochat/storage/social_records.hpp>

namespace monochat::storage {

std::string_view to_string(friend_request_status s) noexcept {
    switch (s) {
        case friend_request_status::pending:
            return "pending";
        case friend_request_status::accepted:
            return "accepted";
        case friend_request_status::rejected:
            return "rejected";
    }
    return "pending";
}

std::string_view to_string(member_role r) noexcept {
    switch (r) {
        case member_role::owner:
            return "owner";
        case member_role::admin:
            return "admin";
        case member_role::member:
            return "member";
    }
    return "member";
}

std::optional<member_role> parse_member_role(std::string_view s) noexcept {
    for (const member_role r : {member_role::owner, member_role::admin, member_role::member}) {
        if (s == to_string(r)) {
            return r;
        }
    }
    return std::nullopt;
}

std::string direct_conversation_id(std::uint64_t a, std::uint64_t b) {
    return "dm:" + std::to_string(std::min(a, b)) + ":" + std::to_string(std::max(a, b));
}

}  // namespace monochat::storage
