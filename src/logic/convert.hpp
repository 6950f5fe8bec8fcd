#pragma once
// Store records to wire values. Private to logic (gateway never sees storage types).

#include <monochat/logic/presence.hpp>
#include <monochat/logic/wire.hpp>
#include <monochat/storage/social_records.hpp>
#include <string>

namespace monochat::logic {

inline user_info to_info(const storage::user_record& u, const presence_view& presence) {
    user_info out{u.id, u.username, u.display_name, u.guest, presence.is_online(u.id)};
    out.bot = u.bot;
    out.avatar_file_id = u.avatar_file_id;
    return out;
}

inline friend_request_info to_info(const storage::friend_request_record& r) {
    return {r.id, r.from_user_id, r.to_user_id, r.note, std::string(storage::to_string(r.status)),
            r.created_ms};
}

inline group_info to_info(const storage::group_record& g) {
    return {g.id, g.name, g.owner_id, g.is_public, g.member_count, g.description};
}

}  // namespace monochat::logic
