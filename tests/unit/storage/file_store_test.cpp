#include <stdlib.h>  // mkdtemp

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <monochat/storage/file_store.hpp>
#include <string>

namespace monochat::storage {

namespace {

namespace fs = std::filesystem;

struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string t = (fs::temp_directory_path() / "monochat-files-XXXXXX").string();
        path = ::mkdtemp(t.data());
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::size_t regular_files(const fs::path& dir) {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
        n += e.is_regular_file() ? 1 : 0;
    }
    return n;
}

std::unique_ptr<file_store> open_store(const fs::path& dir) {
    auto s = file_store::open({dir.string(), false});
    REQUIRE(static_cast<bool>(s));
    return std::move(*s);
}

// Uploads `bytes` as file `id` of `owner`; returns the commit's outcome.
status put(file_store& store, std::uint64_t id, std::uint64_t owner, const std::string& bytes,
           std::uint64_t quota = 1 << 20) {
    auto w = store.create_temp();
    REQUIRE(static_cast<bool>(w));
    REQUIRE(static_cast<bool>((*w)->write(std::span<const char>(bytes.data(), bytes.size()))));
    auto sha = (*w)->finish();
    REQUIRE(static_cast<bool>(sha));
    file_record r;
    r.file_id = id;
    r.owner_id = owner;
    r.sha256 = *sha;
    r.name = "f" + std::to_string(id);
    r.size = bytes.size();
    r.content_type = "application/octet-stream";
    r.created_ms = static_cast<std::int64_t>(id) * 1000;
    return store.commit(**w, {}, r, quota);
}

std::string read_all(file_store& store, std::uint64_t id) {
    auto rec = store.get(id);
    REQUIRE(static_cast<bool>(rec));
    REQUIRE(rec->has_value());
    auto reader = store.open_blob(**rec, false);
    REQUIRE(static_cast<bool>(reader));
    std::string out((*reader)->size(), '\0');
    auto n = (*reader)->read(0, std::span<char>(out.data(), out.size()));
    REQUIRE(static_cast<bool>(n));
    out.resize(*n);
    return out;
}

}  // namespace

TEST_CASE("the same bytes are stored once and go with their last record", "[storage][files]") {
    temp_dir dir;
    auto store = open_store(dir.path);
    REQUIRE(static_cast<bool>(put(*store, 1, 10, "hello")));
    REQUIRE(static_cast<bool>(put(*store, 2, 11, "hello")));
    CHECK(read_all(*store, 2) == "hello");
    // One blob, and no temporary left.
    CHECK(regular_files(dir.path / "files") == 1);
    const auto sha = store->get(1).value()->sha256;
    CHECK(sha == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");

    REQUIRE(static_cast<bool>(store->add_share(1, "world", 100)));
    auto first = store->remove_share(1, 100, true);
    REQUIRE(static_cast<bool>(first));
    REQUIRE(first->has_value());
    CHECK_FALSE((*first)->blob_removed);  // record 2 still names the bytes
    CHECK_FALSE(store->get(1).value().has_value());
    CHECK(read_all(*store, 2) == "hello");

    auto expired = store->remove_unshared(3000, 10);
    REQUIRE(static_cast<bool>(expired));
    REQUIRE(expired->size() == 1);
    CHECK((*expired)[0].blob_removed);
    CHECK(regular_files(dir.path / "files") == 0);
}

TEST_CASE("a file with a share left stays, and is not expired", "[storage][files]") {
    temp_dir dir;
    auto store = open_store(dir.path);
    REQUIRE(static_cast<bool>(put(*store, 1, 10, "abc")));
    REQUIRE(static_cast<bool>(store->add_share(1, "world", 100)));
    REQUIRE(static_cast<bool>(store->add_share(1, "group:5", 101)));
    auto shared = store->shared_in(1);
    REQUIRE(static_cast<bool>(shared));
    CHECK(*shared == std::vector<std::string>{"group:5", "world"});
    auto one = store->remove_share(1, 100, true);
    REQUIRE(static_cast<bool>(one));
    CHECK_FALSE(one->has_value());
    auto none = store->remove_unshared(1LL << 50, 10);
    REQUIRE(static_cast<bool>(none));
    CHECK(none->empty());
    // A failed send's share goes without taking the file.
    auto undo = store->remove_share(1, 101, false);
    REQUIRE(static_cast<bool>(undo));
    CHECK(store->get(1).value().has_value());
}

TEST_CASE("an avatar pin keeps a file from the sweep and a recall until it is dropped",
          "[storage][files]") {
    temp_dir dir;
    auto store = open_store(dir.path);
    // Files 1 and 2 of user 10, 3 and 4 of user 11, created at 1 to 4 s.
    for (std::uint64_t id = 1; id <= 4; ++id) {
        REQUIRE(static_cast<bool>(put(*store, id, id <= 2 ? 10 : 11, "bytes " + std::to_string(id))));
    }
    CHECK_FALSE(store->pin_avatar(10, 1, 5000).value());
    CHECK(store->pin_avatar(10, 1, 5000).value());  // again: it was pinned
    CHECK(store->pin_avatar(10, 99, 5000).error().code == errc::not_found);
    REQUIRE_FALSE(store->pin_avatar(11, 4, 7000).value());

    // A recall of its last share does not delete a pinned file; the sweep passes it by.
    REQUIRE(static_cast<bool>(store->add_share(1, "world", 100)));
    CHECK_FALSE(store->remove_share(1, 100, true).value().has_value());
    auto swept = store->remove_unshared(10000, 10);
    REQUIRE(static_cast<bool>(swept));
    REQUIRE(swept->size() == 2);
    CHECK((*swept)[0].record.file_id == 2);
    CHECK((*swept)[1].record.file_id == 3);
    CHECK(store->get(1).value().has_value());
    CHECK(store->get(4).value().has_value());

    // Pins taken before a time, of files the sweep would take, in pages by (user, file).
    using pin = file_store::avatar_pin;
    const auto page = [&](std::int64_t pinned_before, pin after, std::size_t limit) {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
        for (const auto& p : store->stale_avatar_pins(pinned_before, 10000, after, limit).value()) {
            out.emplace_back(p.user_id, p.file_id);
        }
        return out;
    };
    using pairs = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
    CHECK(page(8000, {}, 10) == pairs{{10, 1}, {11, 4}});
    CHECK(page(8000, {}, 1) == pairs{{10, 1}});
    CHECK(page(8000, {10, 1}, 1) == pairs{{11, 4}});
    CHECK(page(6000, {}, 10) == pairs{{10, 1}});  // user 11's was pinned at 7 s
    CHECK(store->stale_avatar_pins(8000, 3000, {}, 10).value().size() == 1);  // not file 4 (4 s)

    // A pin renewed since the sweep looked stays; an older one goes.
    REQUIRE(static_cast<bool>(store->unpin_avatar(10, 1, 5000)));
    CHECK(page(8000, {}, 10) == pairs{{10, 1}, {11, 4}});
    REQUIRE(static_cast<bool>(store->unpin_avatar(10, 1, 6000)));
    CHECK(page(8000, {}, 10) == pairs{{11, 4}});
    // Dropping a user's other pins keeps the one named; with none named, all go.
    REQUIRE(static_cast<bool>(store->unpin_avatars(11, 4)));
    CHECK(page(8000, {}, 10) == pairs{{11, 4}});
    REQUIRE(static_cast<bool>(store->unpin_avatars(11, std::nullopt)));
    CHECK(page(8000, {}, 10).empty());
    swept = store->remove_unshared(10000, 10);
    REQUIRE(static_cast<bool>(swept));
    CHECK(swept->size() == 2);
    CHECK_FALSE(store->get(1).value().has_value());
}

TEST_CASE("a deleted conversation takes the files shared only there", "[storage][files]") {
    temp_dir dir;
    auto store = open_store(dir.path);
    REQUIRE(static_cast<bool>(put(*store, 1, 10, "only in the group")));
    REQUIRE(static_cast<bool>(put(*store, 2, 10, "also in a dm")));
    REQUIRE(static_cast<bool>(put(*store, 3, 10, "an avatar")));
    REQUIRE(static_cast<bool>(store->add_share(1, "group:5", 100)));
    REQUIRE(static_cast<bool>(store->add_share(1, "group:5", 101)));
    REQUIRE(static_cast<bool>(store->add_share(2, "group:5", 102)));
    REQUIRE(static_cast<bool>(store->add_share(2, "dm:10:11", 103)));
    REQUIRE(static_cast<bool>(store->add_share(3, "group:5", 104)));
    REQUIRE(static_cast<bool>(store->pin_avatar(10, 3, 1000)));

    auto removed = store->remove_conversation("group:5");
    REQUIRE(static_cast<bool>(removed));
    REQUIRE(removed->size() == 1);
    CHECK((*removed)[0].record.file_id == 1);
    CHECK((*removed)[0].blob_removed);
    CHECK_FALSE(store->get(1)->has_value());
    CHECK(read_all(*store, 2) == "also in a dm");
    CHECK(*store->shared_in(2) == std::vector<std::string>{"dm:10:11"});
    CHECK(read_all(*store, 3) == "an avatar");
    CHECK(store->shared_in(3)->empty());
    // Again: nothing left to remove.
    CHECK(store->remove_conversation("group:5")->empty());
}

TEST_CASE("a commit past the quota stores nothing", "[storage][files]") {
    temp_dir dir;
    auto store = open_store(dir.path);
    REQUIRE(static_cast<bool>(put(*store, 1, 10, std::string(600, 'a'), 1000)));
    const auto refused = put(*store, 2, 10, std::string(500, 'b'), 1000);
    REQUIRE_FALSE(static_cast<bool>(refused));
    CHECK(refused.error().code == errc::too_large);
    CHECK_FALSE(store->get(2).value().has_value());
    CHECK(store->used_bytes(10).value() == 600);
    CHECK(regular_files(dir.path / "files") == 1);
    // Another user's quota is their own.
    CHECK(static_cast<bool>(put(*store, 3, 11, std::string(500, 'b'), 1000)));
}

TEST_CASE("temporaries go when abandoned and when the store opens", "[storage][files]") {
    temp_dir dir;
    {
        auto store = open_store(dir.path);
        auto w = store->create_temp();
        REQUIRE(static_cast<bool>(w));
        REQUIRE(static_cast<bool>((*w)->write(std::span<const char>("xyz", 3))));
        CHECK(regular_files(dir.path / "files" / "tmp") == 1);
    }
    CHECK(regular_files(dir.path / "files" / "tmp") == 0);
    // A crash's leftover.
    { std::ofstream(dir.path / "files" / "tmp" / "left") << "partial"; }
    auto store = open_store(dir.path);
    CHECK(regular_files(dir.path / "files" / "tmp") == 0);
}

TEST_CASE("a backup of the files restores into an empty data directory", "[storage][files]") {
    temp_dir dir;
    const auto data = dir.path / "data";
    fs::create_directories(data);
    {
        auto store = open_store(data);
        REQUIRE(static_cast<bool>(put(*store, 1, 10, "kept bytes")));
        REQUIRE(static_cast<bool>(store->backup_to((dir.path / "backup").string())));
        CHECK(store->backup_to((dir.path / "backup").string()).error().code == errc::conflict);
    }
    const auto restored = dir.path / "restored";
    fs::create_directories(restored);
    REQUIRE(static_cast<bool>(restore_files((dir.path / "backup").string(), restored.string())));
    auto store = open_store(restored);
    CHECK(read_all(*store, 1) == "kept bytes");
}

}  // namespace monochat::storage
