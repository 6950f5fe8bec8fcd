#pragma once
// The social store's schema as an ordered list of forward migrations, and the code that applies
// them. Version N is the state after migration N; an empty file is version 0. A released
// migration is never edited: a change to the schema is a new migration at the end.

#include <monochat/infra/result.hpp>
#include <optional>
#include <span>

#include "storage/sqlite_db.hpp"

namespace monochat::storage::sqlite {

struct migration {
    int version;              // 1, 2, ... in order, no gaps
    const char* description;  // for logs and errors
    const char* sql;          // constant script; may hold several statements
};

// Every migration of the social store, in order.
std::span<const migration> social_migrations();

// The schema version recorded in the file; 0 when it has none yet (an empty file). Errors:
// internal (the file has tables but no schema_version: not a monochat database).
[[nodiscard]] result<int> schema_version(connection& conn);

// Applies, in order, every migration above the file's version up to `target` (default: the
// last one), each in its own transaction that also records the new version, so a crash leaves
// the file at some whole version. Returns the version the file had before. Errors: internal
// (the file's version is newer than `migrations` knows: written by a newer build; or not a
// monochat database), the errors of the scripts.
[[nodiscard]] result<int> migrate(connection& conn, std::span<const migration> migrations,
                                  std::optional<int> target = std::nullopt);

}  // namespace monochat::storage::sqlite
