#include "storage/group_journal_sqlite.hpp"

#include <limits>
#include <nlohmann/json.hpp>

#include "storage/sqlite_db.hpp"

namespace monochat::storage::journal {

namespace {

using sqlite::connection;

group_journal_row row_from(const sqlite::statement& s) {
    group_journal_row r;
    r.id = s.column_uint64(0);
    r.ts_ms = s.column_int64(1);
    r.event = s.column_text(2);
    r.group_id = s.column_uint64(3);
    r.after_seq = s.column_uint64(4);
    r.detail = s.column_text(5);
    return r;
}

std::string dump(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

result<group_journal_row> append(connection& c, group_journal_row row) {
    auto stmt = c.prepare(
        "INSERT INTO group_journal (ts_ms, event, group_id, after_seq, detail)"
        " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id");
    if (!stmt) {
        return stmt.error();
    }
    if (auto st = stmt->bind(row.ts_ms, row.event, row.group_id, row.after_seq, row.detail);
        !st) {
        return st.error();
    }
    auto stepped = stmt->step();
    if (!stepped) {
        return stepped.error();
    }
    if (!*stepped) {
        return make_error(errc::internal, "group journal: INSERT returned no id");
    }
    row.id = stmt->column_uint64(0);
    // RETURNING reports the row before the statement is done: run it to its end.
    if (auto more = stmt->step(); !more) {
        return more.error();
    }
    return row;
}

result<std::vector<group_journal_row>> read(connection& c, std::uint64_t after_id,
                                            std::size_t limit) {
    const auto lim = static_cast<std::int64_t>(
        std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
    return sqlite::query_all(c,
                             "SELECT id, ts_ms, event, group_id, after_seq, detail FROM group_journal"
                             " WHERE id > ?1 ORDER BY id LIMIT ?2",
                             row_from, after_id, lim);
}

result<std::uint64_t> head(connection& c) {
    // sqlite_sequence holds AUTOINCREMENT's high-water mark: deleted rows do not lower it.
    auto stmt = c.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'group_journal'");
    if (!stmt) {
        return stmt.error();
    }
    auto row = stmt->step();
    if (!row) {
        return row.error();
    }
    return *row ? stmt->column_uint64(0) : std::uint64_t{0};
}

result<std::uint64_t> prune(connection& c, std::uint64_t up_to_id) {
    auto stmt = c.prepare("DELETE FROM group_journal WHERE id <= ?1");
    if (!stmt) {
        return stmt.error();
    }
    if (auto st = stmt->bind(up_to_id); !st) {
        return st.error();
    }
    if (auto st = stmt->run(); !st) {
        return st.error();
    }
    return static_cast<std::uint64_t>(c.changes());
}

std::string members_detail(const std::vector<std::uint64_t>& user_ids,
                           std::optional<std::uint64_t> banned_by) {
    nlohmann::json ids = nlohmann::json::array();
    for (const auto id : user_ids) {
        ids.push_back(std::to_string(id));
    }
    nlohmann::json j = {{"user_ids", std::move(ids)}};
    if (banned_by) {
        j["banned_by"] = std::to_string(*banned_by);
    }
    return dump(j);
}

std::string group_detail(const std::vector<std::string_view>& changed, const group_record& group) {
    nlohmann::json names = nlohmann::json::array();
    for (const auto n : changed) {
        names.push_back(std::string(n));
    }
    return dump({{"changed", std::move(names)},
                 {"group",
                  {{"name", group.name},
                   {"description", group.description},
                   {"public", group.is_public}}}});
}

}  // namespace monochat::storage::journal
