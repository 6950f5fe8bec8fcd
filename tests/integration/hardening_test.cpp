// Issue 17 (hardening, round two), the items without a file of their own: guests may not list
// conversations, a 100-year duration keeps its meaning, and data files are the owner's alone.

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "integration/rest_test_support.hpp"

using namespace monochat::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Every path under `root` (and `root`) whose mode lets the group or others in, as text.
std::string open_to_others(const fs::path& root) {
    std::string found;
    const auto check = [&](const fs::path& p) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) == 0 && !S_ISLNK(st.st_mode) && (st.st_mode & 077) != 0) {
            found += p.string() + " " + std::to_string(st.st_mode & 0777) + "\n";
        }
    };
    check(root);
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        check(e.path());
    }
    return found;
}

std::size_t count_files(const fs::path& root) {
    std::size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        n += e.is_regular_file() ? 1 : 0;
    }
    return n;
}

}  // namespace

TEST_CASE("a guest listing conversations gets 403, a user 200", "[integration][hardening]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto g = guest(http);
    check_error(http.get(api("/conversations"), g.token), 403, "forbidden");
    // What a guest may do still works: world history.
    CHECK(http.get(api("/conversations/world/messages"), g.token).status == 200);
    const auto u = register_user(http, unique_name("user"));
    const auto list = http.get(api("/conversations"), u.token);
    REQUIRE(list.status == 200);
    CHECK(list.json()["conversations"][0]["conversation_id"] == "world");
}

TEST_CASE("an idempotency window of 100 years still finds the retry", "[integration][hardening]") {
    for (const std::string engine : {"rocksdb", "memory"}) {
        INFO(engine);
        auto cfg = fast_test_config();
        cfg["storage"]["engine"] = engine;
        cfg["policy"]["idempotency_window_s"] = 3153600000LL;
        server_process server(cfg);
        server.start();
        http_client http(server.host(), server.port());
        const auto g = guest(http);
        const json send = {{"client_msg_id", "once"}, {"body", {{"type", "text"}, {"text", "one"}}}};
        const auto first = http.post(api("/conversations/world/messages"), send, g.token);
        REQUIRE(first.status == 201);
        const auto again = http.post(api("/conversations/world/messages"), send, g.token);
        REQUIRE(again.status == 200);
        CHECK(again.json()["message"]["seq"] == first.json()["message"]["seq"]);
        const auto history = http.get(api("/conversations/world/messages"), g.token).json();
        CHECK(history["messages"].size() == 1);
    }
    // One second more is refused at start, naming the key.
    auto r = run_monochat({}, {{"MONOCHAT_POLICY_IDEMPOTENCY_WINDOW_S", "9223372036854776"}});
    CHECK(r.exit.code == 1);
    CHECK_THAT(r.output, Catch::Contains("policy.idempotency_window_s"));
}

TEST_CASE("the data directory, its files and backups are readable by their owner only",
          "[integration][hardening]") {
    temp_dir tmp;
    const fs::path data = tmp.path() / "data";
    // A data directory as an older version (umask 022) or an operator's mkdir left it.
    fs::create_directories(data);
    fs::permissions(data, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    { std::ofstream(data / "note.txt") << "left by hand"; }
    fs::permissions(data / "note.txt", fs::perms::owner_read | fs::perms::owner_write |
                                           fs::perms::group_read | fs::perms::others_read);

    auto cfg = fast_test_config();
    cfg["storage"]["engine"] = "rocksdb";
    server_process server(cfg, {{"MONOCHAT_STORAGE_DATA_DIR", data.string()}});
    server.start();
    {
        http_client http(server.host(), server.port());
        const auto g = guest(http);
        REQUIRE(http.post(api("/conversations/world/messages"),
                          {{"client_msg_id", "p1"}, {"body", {{"type", "text"}, {"text", "private"}}}},
                          g.token)
                    .status == 201);
    }
    CHECK(open_to_others(data).empty());
    CHECK(count_files(data) > 3);  // SQLite and RocksDB files were made and checked
    REQUIRE(server.stop().code == 0);
    CHECK(open_to_others(data).empty());

    // An offline backup, and a restore of it.
    const fs::path backup = tmp.path() / "backup";
    auto b = run_monochat({"backup", backup.string()}, {{"MONOCHAT_STORAGE_DATA_DIR", data.string()}});
    REQUIRE(b.exit.code == 0);
    CHECK(count_files(backup) > 1);
    CHECK(fs::is_regular_file(backup / "webhooks.db"));
    CHECK(fs::is_regular_file(backup / "vapid_private.pem"));  // Web Push's key, made at start
    CHECK(open_to_others(backup).empty());
    const fs::path restored = tmp.path() / "restored";
    auto r = run_monochat({"restore", backup.string()}, {{"MONOCHAT_STORAGE_DATA_DIR", restored.string()}});
    REQUIRE(r.exit.code == 0);
    CHECK(fs::is_regular_file(restored / "webhooks.db"));
    CHECK(fs::is_regular_file(restored / "vapid_private.pem"));
    CHECK(open_to_others(restored).empty());
}
