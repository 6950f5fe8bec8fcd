#pragma once

#include <cstdint>
#include <string>

namespace monochat::storage {

// A sender's own message, as the read state must learn it (the sender has read up to it; a
// direct chat is listed for both users from its first message). The log queues one with the
// message, in the same write (append_request::record_sent), until the read state has it for
// good (settle_sent): so a crash between the ack and the read state's write loses nothing,
// and the send path never waits for the relational store (shared/protocol.md v1.1, "Read your
// writes"; storage/read_state_store.hpp, record_sent).
struct sent_record {
    std::uint64_t message_id = 0;
    std::uint64_t user_id = 0;  // the sender
    std::string conversation_id;
    std::uint64_t seq = 0;
    std::int64_t ts_ms = 0;
    std::uint64_t direct_peer = 0;  // a direct chat: the other user; 0 otherwise

    friend bool operator==(const sent_record&, const sent_record&) = default;
};

}  // namespace monochat::storage
