#pragma once
// Byte layout of the message log's RocksDB keys and values (shared/architecture.md, "Storage
// layout"). Keys sort so that one conversation's messages are one contiguous range in seq
// order; values are a version byte followed by LEB128 varints (zigzag for signed numbers) and
// length-prefixed strings, so a short text message costs a few bytes beyond its body.
//
//   messages       conversation_id \0 seq(8 bytes big-endian)
//                  -> v1 message_id sender_id client_msg_id ts_ms body state target_seq
//                  -> v2 the same, then the reaction summary (a message with reactions):
//                     kinds { emoji count next_order first_count { user_id order } }
//   reactions      see reaction_index.hpp
//   idempotency    sender_id(decimal) \0 client_msg_id
//                  -> v1 conversation_id seq message_id ts_ms written_at_ms
//   conversations  conversation_id -> v1 last_seq last_ts_ms
//
// The message value leaves out conversation_id and seq: the key holds them. Decoders never
// trust their input: a short or malformed value is an `internal` error, never a crash.

#include <cstdint>
#include <monochat/infra/result.hpp>
#include <monochat/storage/message_log.hpp>
#include <string>
#include <string_view>

namespace monochat::storage::codec {

// Where an idempotency key points, and when the entry was written (for expiry).
struct idempotency_record {
    std::string conversation_id;
    std::uint64_t seq = 0;
    std::uint64_t message_id = 0;
    std::int64_t ts_ms = 0;          // the message's ts
    std::int64_t written_at_ms = 0;  // the log's clock when the entry was committed
};

// A conversation's row in the conversations column family.
struct conversation_head {
    std::uint64_t last_seq = 0;
    std::int64_t last_ts_ms = 0;
};

std::string message_key(std::string_view conversation_id, std::uint64_t seq);
// The first key after every message key of `conversation_id` up to and including `seq`
// (an exclusive upper bound for iterators).
std::string message_key_successor(std::string_view conversation_id, std::uint64_t seq);
[[nodiscard]] status decode_message_key(std::string_view key, std::string_view& conversation_id,
                                        std::uint64_t& seq);
// Every key of one conversation in the messages, reactions and purge-queue families (its id,
// a NUL, then the seq and more) lies in [conversation_begin, conversation_end); ids hold no
// NUL, so no other conversation's key does.
std::string conversation_begin(std::string_view conversation_id);
std::string conversation_end(std::string_view conversation_id);

std::string encode_message(const stored_message& message);
[[nodiscard]] result<stored_message> decode_message(std::string_view value,
                                                    std::string_view conversation_id,
                                                    std::uint64_t seq);

std::string idempotency_key(std::uint64_t sender_id, std::string_view client_msg_id);
std::string encode_idempotency(const idempotency_record& record);
[[nodiscard]] result<idempotency_record> decode_idempotency(std::string_view value);

// The sent-record queue: key = the message id (8 bytes big-endian, so the queue reads in id
// order), value = the rest.
std::string sent_key(std::uint64_t message_id);
std::string encode_sent(const sent_record& record);
[[nodiscard]] result<sent_record> decode_sent(std::string_view key, std::string_view value);

std::string encode_conversation(const conversation_head& head);
[[nodiscard]] result<conversation_head> decode_conversation(std::string_view value);

}  // namespace monochat::storage::codec
