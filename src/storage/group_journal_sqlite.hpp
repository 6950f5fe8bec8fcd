#pragma once
// The group event journal's SQL (issue 21; the table is social migration 14), private to
// storage: appended inside the transactions of the social store's group changes, read and
// pruned for outgoing webhooks. Functions run on the caller's connection and thread.

#include <cstdint>
#include <monochat/infra/result.hpp>
#include <monochat/storage/social_records.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::storage::sqlite {
class connection;
}

namespace monochat::storage::journal {

// The event names a journal row may carry (the webhook events of docs/protocol.md).
inline constexpr std::string_view member_joined = "member_joined";
inline constexpr std::string_view member_left = "member_left";
inline constexpr std::string_view group_updated = "group_updated";

// Appends `row` (its id is ignored) inside the caller's transaction; answers it with its id.
[[nodiscard]] result<group_journal_row> append(sqlite::connection& c, group_journal_row row);
// Rows with id > after_id, ascending, at most limit.
[[nodiscard]] result<std::vector<group_journal_row>> read(sqlite::connection& c,
                                                          std::uint64_t after_id,
                                                          std::size_t limit);
// The highest id ever given (0: none).
[[nodiscard]] result<std::uint64_t> head(sqlite::connection& c);
// Deletes rows with id <= up_to_id; answers how many.
[[nodiscard]] result<std::uint64_t> prune(sqlite::connection& c, std::uint64_t up_to_id);

// The detail objects (group_journal_row::detail).
[[nodiscard]] std::string members_detail(const std::vector<std::uint64_t>& user_ids,
                                         std::optional<std::uint64_t> banned_by = std::nullopt);
[[nodiscard]] std::string group_detail(const std::vector<std::string_view>& changed,
                                       const group_record& group);

}  // namespace monochat::storage::journal
