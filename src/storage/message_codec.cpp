#include "storage/message_codec.hpp"

#include <fmt/format.h>

namespace monochat::storage::codec {

namespace {

constexpr char format_v1 = 1;
// A message value with a reaction summary after target_seq. Values without reactions are still
// written as v1, so most messages keep their bytes and older data reads unchanged.
constexpr char format_v2 = 2;

void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

void put_signed(std::string& out, std::int64_t v) {
    // Zigzag: small negative numbers stay short.
    put_varint(out, (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
}

void put_string(std::string& out, std::string_view s) {
    put_varint(out, s.size());
    out.append(s);
}

void put_be64(std::string& out, std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((v >> shift) & 0xff));
    }
}

// Reads what the put_* functions wrote; every read checks the remaining length and latches
// the first failure, so decoders check `ok()` once at the end.
class reader {
public:
    explicit reader(std::string_view in) : in_(in) {}

    std::uint64_t varint() {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (in_.empty()) {
                ok_ = false;
                return 0;
            }
            const auto byte = static_cast<unsigned char>(in_.front());
            in_.remove_prefix(1);
            v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
            if ((byte & 0x80) == 0) {
                return v;
            }
        }
        ok_ = false;
        return 0;
    }

    std::int64_t signed_varint() {
        const std::uint64_t z = varint();
        return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
    }

    std::string string() {
        const std::uint64_t n = varint();
        if (!ok_ || n > in_.size()) {
            ok_ = false;
            return {};
        }
        std::string s(in_.substr(0, n));
        in_.remove_prefix(n);
        return s;
    }

    bool version() { return version_in(format_v1, format_v1) != 0; }

    // The version byte if it is within [lowest, highest]; 0 (and not ok) otherwise.
    char version_in(char lowest, char highest) {
        if (in_.empty() || in_.front() < lowest || in_.front() > highest) {
            ok_ = false;
            return 0;
        }
        const char v = in_.front();
        in_.remove_prefix(1);
        return v;
    }

    // A count of items that each take at least one byte: larger than what is left means the
    // value is corrupt (and must not size an allocation).
    std::uint64_t count() {
        const std::uint64_t n = varint();
        if (n > in_.size()) {
            ok_ = false;
            return 0;
        }
        return n;
    }

    // Everything read, nothing left over.
    bool ok() const { return ok_ && in_.empty(); }

private:
    std::string_view in_;
    bool ok_ = true;
};

error corrupt(std::string_view what) {
    return make_error(errc::internal, fmt::format("message log: corrupt {}", what));
}

}  // namespace

std::string message_key(std::string_view conversation_id, std::uint64_t seq) {
    std::string key;
    key.reserve(conversation_id.size() + 9);
    key.append(conversation_id);
    key.push_back('\0');
    put_be64(key, seq);
    return key;
}

std::string conversation_begin(std::string_view conversation_id) {
    std::string key(conversation_id);
    key.push_back('\0');
    return key;
}

std::string conversation_end(std::string_view conversation_id) {
    std::string key(conversation_id);
    key.push_back('\x01');
    return key;
}

std::string message_key_successor(std::string_view conversation_id, std::uint64_t seq) {
    // In bytewise order the immediate successor of a key is the key followed by a zero byte.
    std::string key = message_key(conversation_id, seq);
    key.push_back('\0');
    return key;
}

status decode_message_key(std::string_view key, std::string_view& conversation_id,
                          std::uint64_t& seq) {
    if (key.size() < 9 || key[key.size() - 9] != '\0') {
        return corrupt("message key");
    }
    conversation_id = key.substr(0, key.size() - 9);
    seq = 0;
    for (std::size_t i = key.size() - 8; i < key.size(); ++i) {
        seq = (seq << 8) | static_cast<unsigned char>(key[i]);
    }
    return {};
}

std::string encode_message(const stored_message& m) {
    std::string out;
    out.reserve(m.body.size() + m.state.size() + m.client_msg_id.size() + 40);
    out.push_back(m.reactions.empty() ? format_v1 : format_v2);
    put_varint(out, m.message_id);
    put_varint(out, m.sender_id);
    put_string(out, m.client_msg_id);
    put_signed(out, m.ts_ms);
    put_string(out, m.body);
    put_string(out, m.state);
    put_varint(out, m.target_seq);
    if (!m.reactions.empty()) {
        put_varint(out, m.reactions.size());
        for (const auto& kind : m.reactions) {
            put_string(out, kind.emoji);
            put_varint(out, kind.count);
            put_varint(out, kind.next_order);
            put_varint(out, kind.first.size());
            for (const auto& r : kind.first) {
                put_varint(out, r.user_id);
                put_varint(out, r.order);
            }
        }
    }
    return out;
}

result<stored_message> decode_message(std::string_view value, std::string_view conversation_id,
                                      std::uint64_t seq) {
    reader in(value);
    stored_message m;
    const char version = in.version_in(format_v1, format_v2);
    m.conversation_id = std::string(conversation_id);
    m.seq = seq;
    m.message_id = in.varint();
    m.sender_id = in.varint();
    m.client_msg_id = in.string();
    m.ts_ms = in.signed_varint();
    m.body = in.string();
    m.state = in.string();
    m.target_seq = in.varint();
    if (version == format_v2) {
        const std::uint64_t kinds = in.count();
        m.reactions.reserve(kinds);
        for (std::uint64_t i = 0; i < kinds; ++i) {
            reaction_kind kind;
            kind.emoji = in.string();
            kind.count = in.varint();
            kind.next_order = in.varint();
            const std::uint64_t first = in.count();
            kind.first.reserve(first);
            for (std::uint64_t j = 0; j < first; ++j) {
                reactor r;
                r.user_id = in.varint();
                r.order = in.varint();
                kind.first.push_back(r);
            }
            m.reactions.push_back(std::move(kind));
        }
    }
    if (!in.ok()) {
        return corrupt(fmt::format("message {}/{}", conversation_id, seq));
    }
    return m;
}

std::string idempotency_key(std::uint64_t sender_id, std::string_view client_msg_id) {
    std::string key = fmt::format("{}", sender_id);
    key.push_back('\0');
    key.append(client_msg_id);
    return key;
}

std::string encode_idempotency(const idempotency_record& r) {
    std::string out;
    out.reserve(r.conversation_id.size() + 40);
    out.push_back(format_v1);
    put_string(out, r.conversation_id);
    put_varint(out, r.seq);
    put_varint(out, r.message_id);
    put_signed(out, r.ts_ms);
    put_signed(out, r.written_at_ms);
    return out;
}

result<idempotency_record> decode_idempotency(std::string_view value) {
    reader in(value);
    idempotency_record r;
    in.version();
    r.conversation_id = in.string();
    r.seq = in.varint();
    r.message_id = in.varint();
    r.ts_ms = in.signed_varint();
    r.written_at_ms = in.signed_varint();
    if (!in.ok()) {
        return corrupt("idempotency entry");
    }
    return r;
}

std::string sent_key(std::uint64_t message_id) {
    std::string out(8, '\0');
    for (int i = 7; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = static_cast<char>(message_id & 0xff);
        message_id >>= 8;
    }
    return out;
}

std::string encode_sent(const sent_record& r) {
    std::string out;
    out.reserve(r.conversation_id.size() + 32);
    out.push_back(format_v1);
    put_string(out, r.conversation_id);
    put_varint(out, r.user_id);
    put_varint(out, r.seq);
    put_signed(out, r.ts_ms);
    put_varint(out, r.direct_peer);
    return out;
}

result<sent_record> decode_sent(std::string_view key, std::string_view value) {
    if (key.size() != 8) {
        return corrupt("sent record key");
    }
    sent_record r;
    for (const char c : key) {
        r.message_id = (r.message_id << 8) | static_cast<unsigned char>(c);
    }
    reader in(value);
    in.version();
    r.conversation_id = in.string();
    r.user_id = in.varint();
    r.seq = in.varint();
    r.ts_ms = in.signed_varint();
    r.direct_peer = in.varint();
    if (!in.ok()) {
        return corrupt("sent record");
    }
    return r;
}

std::string encode_conversation(const conversation_head& h) {
    std::string out;
    out.push_back(format_v1);
    put_varint(out, h.last_seq);
    put_signed(out, h.last_ts_ms);
    return out;
}

result<conversation_head> decode_conversation(std::string_view value) {
    reader in(value);
    conversation_head h;
    in.version();
    h.last_seq = in.varint();
    h.last_ts_ms = in.signed_varint();
    if (!in.ok()) {
        return corrupt("conversation entry");
    }
    return h;
}

}  // namespace monochat::storage::codec
