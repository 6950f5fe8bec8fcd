#pragma once
// authenticate()'s memory: token hash -> identity and expiry, least recently used dropped first.
// Revocation is exact even against a lookup in flight: a lookup reads epoch() before asking the
// store and inserts only if no revocation happened since, so a token read from the store just
// before a logout deleted it cannot be cached after the logout removed it. Private to logic.
// Thread-safety: any thread (one mutex).

#include <cstddef>
#include <cstdint>
#include <list>
#include <monochat/logic/access.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace monochat::logic {

class token_cache {
public:
    explicit token_cache(std::size_t capacity);

    // The cached identity of an unexpired token (an expired one is dropped).
    [[nodiscard]] std::optional<identity> find(const std::string& token_hash, std::int64_t now_ms);
    [[nodiscard]] std::uint64_t epoch() const;
    // Caches unless a revocation happened after `seen_epoch` was read.
    void insert(std::uint64_t seen_epoch, const identity& who, std::int64_t expires_ms);
    void revoke(const std::string& token_hash);
    // Every cached token of the user (suspension, deletion); O(entries).
    void revoke_user(std::uint64_t user_id);
    [[nodiscard]] std::size_t size() const;

private:
    // One cached token costs its hash once (the map's key): `who.token_hash` is kept empty and
    // filled from the key by find(), and the LRU list points at the key. Every open WebSocket
    // holds a token, so this is per-connection memory (docs/benchmarks.md, idle connections).
    struct entry {
        identity who;
        std::int64_t expires_ms = 0;
        std::list<const std::string*>::iterator lru;
    };
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::list<const std::string*> lru_;  // keys of entries_, most recently used first
    std::unordered_map<std::string, entry> entries_;
    std::uint64_t epoch_ = 0;
};

}  // namespace monochat::logic
