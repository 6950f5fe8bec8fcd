#pragma once
// Message search (shared/protocol.md, "Search"; the query syntax: docs/protocol.md): full-text
// matches from the search index, only in conversations the caller may read now, returned in
// the wire form of history (message_json), newest first.
//
// Who sees what: a registered user searches `world`, the groups they are a member of now (a
// user who left a group no longer finds its messages) and their direct conversations; a guest
// searches `world` only. With `conversation_id`, only that conversation, after the same access
// check as history (forbidden or not_found otherwise).
//
// Freshness: the index follows the log asynchronously (task/search_indexer.hpp), so a message
// is found about a batch after its acknowledgement; a recalled message is never returned, even
// in the moment before the index forgets it.
//
// Thread-safety: any thread; awaitables resume on the caller's executor (the index and the
// stores run their blocking work on their own threads).

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <monochat/infra/result.hpp>
#include <monochat/logic/access.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monochat::storage {
class message_log;
class search_index;
class group_store;
class read_state_store;
}  // namespace monochat::storage

namespace monochat::logic {

struct search_request {
    std::string q;                                // the user's query text
    std::optional<std::string> conversation_id;  // only this conversation
    std::size_t limit = 50;                       // 1..200 (gateway applies the protocol's rules)
};

class search_service {
public:
    search_service(storage::search_index& index, storage::message_log& log,
                   storage::group_store& groups, storage::read_state_store& read_state,
                   access_control& access)
        : index_(index), log_(log), groups_(groups), read_state_(read_state), access_(access) {}

    // Matching messages as JSON objects (message_json), newest first, at most `limit`.
    // Errors: invalid_argument (an empty, oversized or non-UTF-8 q; a malformed
    // conversation_id; limit outside 1..200), forbidden and not_found (conversation_id),
    // unavailable.
    boost::asio::awaitable<result<std::vector<std::string>>> search(const identity& who,
                                                                    search_request req);

private:
    // The conversations `who` may read now.
    boost::asio::awaitable<result<std::vector<std::string>>> readable(const identity& who);

    storage::search_index& index_;
    storage::message_log& log_;
    storage::group_store& groups_;
    storage::read_state_store& read_state_;
    access_control& access_;
};

}  // namespace monochat::logic
