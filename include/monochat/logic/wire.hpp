#pragma once
// The objects of the accounts, friends, groups and conversations API as plain values, and their
// wire form (shared/protocol.md): the services return these, gateway writes them into response
// bodies, and logic writes the same JSON into `event` frames, so a user or a group looks the same
// in a response and in a push. Ids are written as decimal strings, `ts` and `seq` as numbers.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace monochat::logic {

// {"user_id", "username", "display_name", "guest", "bot", "online", "avatar_file_id"}
struct user_info {
    std::uint64_t user_id = 0;
    std::string username;
    std::string display_name;
    bool guest = false;
    bool online = false;
    // A bot account (issue 21): written as "bot": true.
    bool bot = false;
    // A purged user: written as {"user_id", "deleted": true, "display_name": "Deleted user"}.
    bool deleted = false;
    // The profile picture's file id (issue 20); written as null when there is none.
    std::optional<std::uint64_t> avatar_file_id{};
};

// {"request_id", "from_user_id", "to_user_id", "note", "status", "ts"}
struct friend_request_info {
    std::uint64_t request_id = 0;
    std::uint64_t from_user_id = 0;
    std::uint64_t to_user_id = 0;
    std::string note;
    std::string status;  // "pending", "accepted" or "rejected"
    std::int64_t ts = 0;
};

// {"group_id", "conversation_id", "name", "owner_id", "public", "member_count"}
struct group_info {
    std::uint64_t group_id = 0;
    std::string name;
    std::uint64_t owner_id = 0;
    bool is_public = false;
    std::uint64_t member_count = 0;
    std::string description{};
};

// {"user_id", "role"}
struct member_info {
    std::uint64_t user_id = 0;
    std::string role;  // "owner", "admin" or "member"
};

struct member_list {
    std::vector<member_info> members;  // ascending user_id
    std::optional<std::uint64_t> next;  // the last listed id when more follow; null otherwise
};

// {"conversation_id", "kind", "title", "last_seq", "read_seq", "unread", "mentions_unread",
// "last_message"}, plus "group_id" for groups and "peer_id" for direct chats.
struct conversation_info {
    std::string conversation_id;
    std::string kind;   // "world", "direct" or "group"
    std::string title;  // "World", the peer's display name, the group's name
    std::uint64_t last_seq = 0;
    std::uint64_t read_seq = 0;
    std::uint64_t unread = 0;
    std::uint64_t mentions_unread = 0;  // unread messages that mention the caller
    std::string last_message;      // the message object as JSON text; empty: null
    std::int64_t activity_ms = 0;  // last message, or joining: the list's order
    std::uint64_t group_id = 0;    // group: its id
    std::uint64_t peer_id = 0;     // direct: the other user
    // The caller's mute: notifications off until this time (ms since the epoch); 0: not muted
    // (also once the time has passed).
    std::int64_t muted_until_ms = 0;
};

// "group:<group_id>"
[[nodiscard]] std::string group_conversation_id(std::uint64_t group_id);

// The JSON text of each object.
[[nodiscard]] std::string to_json(const user_info& u);
[[nodiscard]] std::string to_json(const friend_request_info& r);
[[nodiscard]] std::string to_json(const group_info& g);
[[nodiscard]] std::string to_json(const member_info& m);
[[nodiscard]] std::string to_json(const conversation_info& c);

}  // namespace monochat::logic
