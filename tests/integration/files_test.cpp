// Files and images (shared/protocol.md 1.1, "Files and images"; issue 20's "Done means"):
// a 10 MiB round trip byte for byte, Range and ETag, the type from the bytes against a lying
// Content-Type, HTML served as an attachment, image sizes and a thumbnail without metadata, 413
// past the size limit and past the quota leaving nothing behind (also for a cut connection),
// 403 for strangers until the file is shared, search by name and caption, recall deleting the
// file, expiry of an unshared file, and backup + restore keeping files. One server for most
// of it; a second (durable, short expiry) for expiry, avatars (issue 20: set, seen in user
// objects, readable by strangers, kept by the sweep and a recall, cleared) and backup.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <array>
#include <filesystem>
#include <random>

#include "rest_test_support.hpp"

namespace monochat::test {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::uint64_t mib = 1024 * 1024;

std::uint32_t crc32(std::string_view data) {
    static const auto table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) {
                c = (c & 1) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
            }
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFU;
    for (const char ch : data) {
        c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (c >> 8);
    }
    return c ^ 0xFFFFFFFFU;
}

void put_be32(std::string& out, std::uint32_t v) {
    out += static_cast<char>(v >> 24);
    out += static_cast<char>(v >> 16);
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v);
}

void png_chunk(std::string& out, const std::string& type, const std::string& data) {
    put_be32(out, static_cast<std::uint32_t>(data.size()));
    out += type;
    out += data;
    put_be32(out, crc32(type + data));
}

// An RGB PNG of w x h (a gradient) with a tEXt chunk holding `comment`: zlib with stored
// (uncompressed) deflate blocks, enough for a decoder.
std::string make_png(std::uint32_t w, std::uint32_t h, const std::string& comment) {
    std::string raw;
    for (std::uint32_t y = 0; y < h; ++y) {
        raw += '\0';
        for (std::uint32_t x = 0; x < w; ++x) {
            raw += static_cast<char>(x & 0xFF);
            raw += static_cast<char>(y & 0xFF);
            raw += static_cast<char>((x + y) & 0xFF);
        }
    }
    std::string z = "\x78\x01";
    for (std::size_t pos = 0; pos < raw.size() || pos == 0;) {
        const std::size_t n = std::min<std::size_t>(65535, raw.size() - pos);
        const bool last = pos + n >= raw.size();
        z += static_cast<char>(last ? 1 : 0);
        z += static_cast<char>(n & 0xFF);
        z += static_cast<char>(n >> 8);
        z += static_cast<char>(~n & 0xFF);
        z += static_cast<char>((~n >> 8) & 0xFF);
        z += raw.substr(pos, n);
        pos += n;
        if (last) {
            break;
        }
    }
    std::uint32_t a = 1;
    std::uint32_t b = 0;
    for (const char ch : raw) {
        a = (a + static_cast<unsigned char>(ch)) % 65521;
        b = (b + a) % 65521;
    }
    put_be32(z, (b << 16) | a);
    std::string png = "\x89PNG\r\n\x1a\n";
    std::string ihdr;
    put_be32(ihdr, w);
    put_be32(ihdr, h);
    ihdr += std::string("\x08\x02\x00\x00\x00", 5);
    png_chunk(png, "IHDR", ihdr);
    png_chunk(png, "tEXt", std::string("Comment") + '\0' + comment);
    png_chunk(png, "IDAT", z);
    png_chunk(png, "IEND", "");
    return png;
}

// The width and height in a JPEG's frame header.
std::pair<int, int> jpeg_size(const std::string& j) {
    std::size_t i = 2;
    while (i + 9 < j.size()) {
        if (static_cast<unsigned char>(j[i]) != 0xFF) {
            return {0, 0};
        }
        const auto marker = static_cast<unsigned char>(j[i + 1]);
        const auto len = (static_cast<unsigned char>(j[i + 2]) << 8) | static_cast<unsigned char>(j[i + 3]);
        if (marker >= 0xC0 && marker <= 0xC3) {
            const int height = (static_cast<unsigned char>(j[i + 5]) << 8) | static_cast<unsigned char>(j[i + 6]);
            const int width = (static_cast<unsigned char>(j[i + 7]) << 8) | static_cast<unsigned char>(j[i + 8]);
            return {width, height};
        }
        i += 2 + static_cast<std::size_t>(len);
    }
    return {0, 0};
}

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        const auto v = rng();
        for (std::size_t k = 0; k < 8 && i + k < n; ++k) {
            out[i + k] = static_cast<char>(v >> (8 * k));
        }
    }
    return out;
}

// Regular files under <data_dir>/files: the blobs, the thumbnails and any temporary.
std::size_t stored_files(const fs::path& data_dir) {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(data_dir / "files", ec)) {
        n += e.is_regular_file() ? 1 : 0;
    }
    return n;
}

std::string listing(const fs::path& data_dir) {
    std::string out;
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(data_dir / "files", ec)) {
        out += e.path().lexically_relative(data_dir).string() + "\n";
    }
    return out;
}

bool no_temporaries(const fs::path& data_dir) {
    std::error_code ec;
    return fs::is_empty(data_dir / "files" / "tmp", ec) && !ec;
}

http_reply upload(http_client& http, const account& who, const std::string& name,
                  const std::string& bytes, const std::string& content_type = "application/octet-stream") {
    return http.request("POST", api("/files?name=" + name), bytes, who.token,
                        {{"Content-Type", content_type}});
}

json upload_ok(http_client& http, const account& who, const std::string& name,
               const std::string& bytes, const std::string& content_type = "application/octet-stream") {
    auto r = upload(http, who, name, bytes, content_type);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["file"];
}

http_reply fetch(http_client& http, const account& who, const std::string& path,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return http.request("GET", api(path), std::nullopt, who.token, headers);
}

json send_file(http_client& http, const account& who, const std::string& cid,
               const std::string& file_id, const std::string& caption, const std::string& cmid) {
    auto r = http.post(api("/conversations/" + cid + "/messages"),
                       {{"client_msg_id", cmid},
                        {"body", {{"type", "file"}, {"file_id", file_id}, {"caption", caption}}}},
                       who.token);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["message"];
}

double metric(http_client& http, const std::string& series) {
    const auto body = http.get("/metrics").body;
    const auto pos = body.find("\n" + series + " ");
    if (pos == std::string::npos) {
        return -1;
    }
    return std::stod(body.substr(pos + series.size() + 2));
}

// Sends a request header promising `declared` bytes and only `sent` of them, then closes.
void cut_upload(const std::string& host, int port, const account& who, std::size_t declared,
                std::size_t sent) {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket s(ioc);
    s.connect({boost::asio::ip::make_address(host), static_cast<unsigned short>(port)});
    const std::string head = "POST /api/v1/files?name=cut.bin HTTP/1.1\r\nHost: x\r\n"
                             "Authorization: Bearer " + who.token + "\r\nContent-Length: " +
                             std::to_string(declared) + "\r\n\r\n";
    boost::asio::write(s, boost::asio::buffer(head));
    const std::string part(sent, 'x');
    boost::asio::write(s, boost::asio::buffer(part));
    boost::system::error_code ec;
    s.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    s.close(ec);
}

// Opens a connection that sends an upload's header and `sent` of its `declared` bytes and then
// holds the connection open, as a slow client does.
boost::asio::ip::tcp::socket held_upload(boost::asio::io_context& ioc, const std::string& host,
                                         int port, const account& who, const std::string& body,
                                         std::size_t sent) {
    boost::asio::ip::tcp::socket s(ioc);
    s.connect({boost::asio::ip::make_address(host), static_cast<unsigned short>(port)});
    const std::string head = "POST /api/v1/files?name=held.png HTTP/1.1\r\nHost: x\r\n"
                             "Authorization: Bearer " + who.token + "\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n";
    boost::asio::write(s, boost::asio::buffer(head));
    boost::asio::write(s, boost::asio::buffer(body.data(), sent));
    return s;
}

}  // namespace

TEST_CASE("files: round trip, ranges, types, thumbnails, limits, access, search and recall",
          "[files]") {
    // The refused uploads below send up to 12 MiB after their 413: the lingering close reads
    // all of it, so that the client sees the answer rather than a reset.
    server_process server(rest_test_config(
        {{"limits", {{"max_file_bytes", 11 * mib}, {"user_storage_bytes", 13 * mib}}},
         {"server", {{"linger_bytes", 64 * mib}}}}));
    server.start();
    const fs::path data = server.data_dir();
    http_client http(server.host(), server.port());
    http.timeout = std::chrono::milliseconds(60000);
    const auto alice = register_user(http, unique_name("alice"));
    const auto bob = register_user(http, unique_name("bob"));
    const auto dave = register_user(http, unique_name("dave"));
    befriend(http, alice, bob);
    const auto dm = dm_id(alice, bob);

    // 10 MiB, byte for byte, streamed both ways.
    const auto big = random_bytes(10 * mib, 20);
    const auto up = upload_ok(http, alice, "big.bin", big);
    const std::string big_id = up["file_id"];
    CHECK(up["size"] == 10 * mib);
    CHECK(up["name"] == "big.bin");
    CHECK(up["content_type"] == "application/octet-stream");
    CHECK(up["sha256"].get<std::string>().size() == 64);
    CHECK_FALSE(up.contains("width"));
    auto whole = fetch(http, alice, "/files/" + big_id);
    REQUIRE(whole.status == 200);
    CHECK(whole.body.size() == big.size());
    CHECK(whole.body == big);
    CHECK(whole.header("etag") == "\"" + up["sha256"].get<std::string>() + "\"");
    CHECK(whole.header("x-content-type-options") == "nosniff");
    CHECK(whole.header("content-disposition").rfind("attachment;", 0) == 0);
    CHECK(no_temporaries(data));

    {  // ranges and validators
        auto part = fetch(http, alice, "/files/" + big_id, {{"Range", "bytes=100-199"}});
        REQUIRE(part.status == 206);
        CHECK(part.body == big.substr(100, 100));
        CHECK(part.header("content-range") == "bytes 100-199/" + std::to_string(10 * mib));
        auto tail = fetch(http, alice, "/files/" + big_id, {{"Range", "bytes=-10"}});
        REQUIRE(tail.status == 206);
        CHECK(tail.body == big.substr(big.size() - 10));
        auto open = fetch(http, alice, "/files/" + big_id, {{"Range", "bytes=10485700-"}});
        REQUIRE(open.status == 206);
        CHECK(open.body == big.substr(10485700));
        auto past = fetch(http, alice, "/files/" + big_id, {{"Range", "bytes=10485760-"}});
        CHECK(past.status == 416);
        CHECK(past.header("content-range") == "bytes */10485760");
        // An If-Range naming another version: the whole file.
        auto stale = fetch(http, alice, "/files/" + big_id,
                           {{"Range", "bytes=0-9"}, {"If-Range", "\"other\""}});
        CHECK(stale.status == 200);
        CHECK(stale.body.size() == big.size());
        auto cached = fetch(http, alice, "/files/" + big_id, {{"If-None-Match", whole.header("etag")}});
        CHECK(cached.status == 304);
        CHECK(cached.body.empty());
        // The same bytes again: a new file, stored once on disk.
        const auto before = stored_files(data);
        const auto again = upload_ok(http, bob, "copy.bin", big);
        CHECK(again["file_id"] != big_id);
        CHECK(again["sha256"] == up["sha256"]);
        CHECK(stored_files(data) == before);
    }

    {  // the type comes from the bytes; only images are inline
        const std::string page = "<!DOCTYPE html><html><body><script>alert(1)</script></body></html>";
        const auto html = upload_ok(http, alice, "photo.png", page, "image/png");
        CHECK(html["content_type"] == "text/html");
        auto got = fetch(http, alice, "/files/" + html["file_id"].get<std::string>());
        REQUIRE(got.status == 200);
        CHECK(got.body == page);
        CHECK(got.header("content-type") == "text/html");
        CHECK(got.header("content-disposition").rfind("attachment;", 0) == 0);
        CHECK(got.header("x-content-type-options") == "nosniff");
        CHECK(got.header("content-security-policy").find("sandbox") != std::string::npos);
        CHECK(fetch(http, alice, "/files/" + html["file_id"].get<std::string>() + "/thumbnail")
                  .status == 404);

        // A real PNG, declared as text: measured, thumbnailed, served inline.
        const auto png = make_png(640, 480, "GPSsecret-12.34N");
        const auto image = upload_ok(http, alice, "cat%20pic.png", png, "text/plain");
        CHECK(image["content_type"] == "image/png");
        CHECK(image["name"] == "cat pic.png");
        CHECK(image["width"] == 640);
        CHECK(image["height"] == 480);
        const std::string image_id = image["file_id"];
        auto full = fetch(http, alice, "/files/" + image_id);
        CHECK(full.body == png);
        CHECK(full.header("content-type") == "image/png");
        CHECK(full.header("content-disposition").rfind("inline;", 0) == 0);
        auto thumb = fetch(http, alice, "/files/" + image_id + "/thumbnail");
        REQUIRE(thumb.status == 200);
        CHECK(thumb.header("content-type") == "image/jpeg");
        REQUIRE(thumb.body.size() > 4);
        CHECK(thumb.body.substr(0, 2) == "\xFF\xD8");
        CHECK(jpeg_size(thumb.body) == std::pair<int, int>{320, 240});
        CHECK(thumb.body.find("GPSsecret") == std::string::npos);
        CHECK(thumb.body.find("Exif") == std::string::npos);

        // A PNG that does not decode is stored as a plain file.
        auto broken = png.substr(0, 200);
        const auto plain = upload_ok(http, alice, "broken.png", broken);
        CHECK_FALSE(plain.contains("width"));
        auto plain_got = fetch(http, alice, "/files/" + plain["file_id"].get<std::string>());
        CHECK(plain_got.header("content-disposition").rfind("attachment;", 0) == 0);
        CHECK(fetch(http, alice, "/files/" + plain["file_id"].get<std::string>() + "/thumbnail")
                  .status == 404);
    }

    {  // 413 past the size limit and past the quota, leaving nothing behind
        const auto before = stored_files(data);
        INFO("before:\n" << listing(data));
        // Declared too large: refused before the body is read.
        check_error(upload(http, bob, "huge.bin", std::string(11 * mib + 1, 'a')), 413, "too_large");
        // Chunked, so that the size shows only as the bytes arrive.
        {
            std::string req = "POST /api/v1/files?name=chunked.bin HTTP/1.1\r\nHost: x\r\n"
                              "Authorization: Bearer " + dave.token +
                              "\r\nTransfer-Encoding: chunked\r\n\r\n";
            const std::string chunk(mib, 'b');
            for (int i = 0; i < 12; ++i) {
                req += "100000\r\n" + chunk + "\r\n";
            }
            req += "0\r\n\r\n";
            const auto answer = raw_exchange(server.host(), server.port(), req,
                                             std::chrono::milliseconds(30000));
            CHECK(answer.rfind("HTTP/1.1 413", 0) == 0);
        }
        // Alice holds 10 MiB of her 13 MiB: 3 MiB more is past her quota.
        check_error(upload(http, alice, "more.bin", std::string(3 * mib, 'c')), 413, "too_large");
        // A cut connection.
        cut_upload(server.host(), server.port(), dave, 2 * mib, 512 * 1024);
        // Counted once the server saw the connection end (its temporary goes before that).
        CHECK(wait_until(
            [&] {
                return metric(http, R"(monochat_file_uploads_refused_total{reason="interrupted"})") >= 1;
            },
            std::chrono::milliseconds(15000)));
        CHECK(wait_until([&] { return no_temporaries(data); }, std::chrono::milliseconds(15000)));
        INFO("after:\n" << listing(data));
        CHECK(stored_files(data) == before);
        CHECK(metric(http, R"(monochat_file_uploads_refused_total{reason="too_large"})") >= 2);
        CHECK(metric(http, R"(monochat_file_uploads_refused_total{reason="quota"})") >= 1);
        CHECK(metric(http, "monochat_files") >= 1);
        CHECK(metric(http, "monochat_file_bytes") >= 10.0 * mib);
        // A bad name.
        check_error(upload(http, bob, "a%2Fb", "x"), 400, "invalid_argument");
        check_error(http.request("POST", api("/files"), std::string("x"), bob.token), 400,
                    "invalid_argument");
        check_error(http.request("POST", api("/files?name=x"), std::string("x")), 401,
                    "unauthenticated");
    }

    {  // strangers get 403 until the file is shared; recall deletes it
        const auto doc = upload_ok(http, alice, "Quarterly%20zebra%20report.txt", "numbers\n");
        const std::string doc_id = doc["file_id"];
        check_error(fetch(http, bob, "/files/" + doc_id), 403, "forbidden");
        check_error(fetch(http, dave, "/files/" + doc_id), 403, "forbidden");
        check_error(fetch(http, bob, "/files/999999"), 404, "not_found");
        // Only the uploader may share it.
        auto theft = http.post(api("/conversations/" + dm + "/messages"),
                               {{"client_msg_id", "steal"},
                                {"body", {{"type", "file"}, {"file_id", doc_id}}}},
                               bob.token);
        check_error(theft, 403, "forbidden");

        const auto msg = send_file(http, alice, dm, doc_id, "see the flamingo numbers", "f1");
        CHECK(msg["body"]["type"] == "file");
        CHECK(msg["body"]["file_id"] == doc_id);
        CHECK(msg["body"]["file"]["name"] == "Quarterly zebra report.txt");
        CHECK(msg["body"]["file"]["size"] == 8);
        CHECK(msg["body"]["file"]["content_type"] == "text/plain");
        auto shared = fetch(http, bob, "/files/" + doc_id);
        REQUIRE(shared.status == 200);
        CHECK(shared.body == "numbers\n");
        check_error(fetch(http, dave, "/files/" + doc_id), 403, "forbidden");
        auto history = http.get(api("/conversations/" + dm + "/messages"), bob.token).json();
        REQUIRE(history["messages"].size() >= 1);
        CHECK(history["messages"].back()["body"]["file"]["name"] == "Quarterly zebra report.txt");

        // Search finds it by the file's name and by the caption.
        const auto found = [&](const std::string& q) {
            auto r = http.get(api("/search/messages?q=" + q), bob.token);
            return r.status == 200 && r.json()["messages"].size() == 1;
        };
        CHECK(wait_until([&] { return found("zebra"); }, std::chrono::milliseconds(10000)));
        CHECK(found("flamingo"));

        // Recalling the only message that shares it deletes it.
        auto recall = http.post(api("/conversations/" + dm + "/messages"),
                                {{"client_msg_id", "r1"},
                                 {"body", {{"type", "recall"}, {"target_seq", msg["seq"]}}}},
                                alice.token);
        REQUIRE(recall.status == 201);
        check_error(fetch(http, alice, "/files/" + doc_id), 404, "not_found");
        check_error(fetch(http, bob, "/files/" + doc_id), 404, "not_found");
        auto after = http.get(api("/conversations/" + dm + "/messages"), bob.token).json();
        bool seen = false;
        for (const auto& m : after["messages"]) {
            if (m["seq"] == msg["seq"]) {
                seen = true;
                CHECK(m["recalled"] == true);
                CHECK_FALSE(m["body"].contains("file"));
                CHECK_FALSE(m["body"].contains("caption"));
            }
        }
        CHECK(seen);
        CHECK(wait_until([&] { return !found("zebra"); }, std::chrono::milliseconds(10000)));
    }
}

TEST_CASE("files: an unshared file expires, and backup and restore keep shared ones", "[files]") {
    temp_dir tmp;
    server_process server(
        {{"auth", {{"argon2_ops", 1}, {"argon2_memory_kib", 64}}},
         {"limits", {{"auth_rate", 1000000}, {"max_connections_per_address", 0}, {"connection_rate", 0}}},
         {"files", {{"unshared_ttl_s", 2}, {"sweep_interval_s", 1}}},
         {"server", {{"shutdown_timeout_ms", 500}}}});
    server.start();
    const fs::path data = server.data_dir();
    const auto bytes = random_bytes(300 * 1024, 7);
    std::string kept_id;
    std::string gone_id;
    std::string token;
    std::string avatar_id;
    std::string avatar_owner;
    {
        http_client http(server.host(), server.port());
        const auto alice = register_user(http, unique_name("alice"));
        token = alice.token;
        kept_id = upload_ok(http, alice, "kept.bin", bytes)["file_id"];
        send_file(http, alice, "world", kept_id, "", "w1");
        gone_id = upload_ok(http, alice, "gone.bin", "temporary")["file_id"];
        CHECK(wait_until([&] { return fetch(http, alice, "/files/" + gone_id).status == 404; },
                         std::chrono::milliseconds(10000)));
        CHECK(fetch(http, alice, "/files/" + kept_id).status == 200);

        // Avatars (PATCH /me {"avatar_file_id"}), on the same short expiry.
        const auto carol = register_user(http, unique_name("carol"));
        const auto stranger = register_user(http, unique_name("stranger"));
        CHECK(http.get(api("/me"), alice.token).json()["user"]["avatar_file_id"].is_null());
        const std::string face_id = upload_ok(http, alice, "face.png", make_png(200, 100, "me"))["file_id"];
        const std::string old_face_id =
            upload_ok(http, alice, "old.png", make_png(50, 50, "old"))["file_id"];
        const std::string text_id = upload_ok(http, alice, "notes.txt", "plain words\n")["file_id"];
        const std::string carol_face =
            upload_ok(http, carol, "carol.png", make_png(60, 60, "carol"))["file_id"];
        // Only one's own images.
        check_error(http.patch(api("/me"), {{"avatar_file_id", text_id}}, alice.token), 400,
                    "invalid_argument");
        check_error(http.patch(api("/me"), {{"avatar_file_id", carol_face}}, alice.token), 403,
                    "forbidden");
        check_error(http.patch(api("/me"), {{"avatar_file_id", "999999"}}, alice.token), 404,
                    "not_found");
        check_error(http.patch(api("/me"), {{"avatar_file_id", 12}}, alice.token), 400,
                    "invalid_argument");
        check_error(http.patch(api("/me"), json::object(), alice.token), 400, "invalid_argument");
        // A refused avatar changes nothing, the display name of the same request included.
        check_error(http.patch(api("/me"), {{"display_name", "Alice A."}, {"avatar_file_id", text_id}},
                               alice.token),
                    400, "invalid_argument");
        CHECK(http.get(api("/me"), alice.token).json()["user"]["display_name"] != "Alice A.");
        check_error(fetch(http, stranger, "/files/" + old_face_id + "/thumbnail"), 403, "forbidden");

        // Set the old face, then replace it along with the display name.
        auto set = http.patch(api("/me"), {{"avatar_file_id", old_face_id}}, alice.token);
        REQUIRE(set.status == 200);
        CHECK(set.json()["user"]["avatar_file_id"] == old_face_id);
        set = http.patch(api("/me"), {{"display_name", "Alice A."}, {"avatar_file_id", face_id}},
                         alice.token);
        REQUIRE(set.status == 200);
        CHECK(set.json()["user"]["avatar_file_id"] == face_id);
        CHECK(set.json()["user"]["display_name"] == "Alice A.");
        // Every user object carries it, for everyone.
        auto seen = http.get(api("/users/" + alice.user_id), stranger.token);
        REQUIRE(seen.status == 200);
        CHECK(seen.json()["user"]["avatar_file_id"] == face_id);
        CHECK(http.get(api("/me"), alice.token).json()["user"]["avatar_file_id"] == face_id);
        // A stranger may read the current avatar (thumbnail and file), not the replaced one.
        auto thumb = fetch(http, stranger, "/files/" + face_id + "/thumbnail");
        REQUIRE(thumb.status == 200);
        CHECK(thumb.header("content-type") == "image/jpeg");
        CHECK(fetch(http, stranger, "/files/" + face_id).status == 200);
        check_error(fetch(http, stranger, "/files/" + old_face_id + "/thumbnail"), 403, "forbidden");

        // Carol sets a new one and clears it: a plain unshared file again, which expires.
        const std::string carol_new =
            upload_ok(http, carol, "carol2.png", make_png(60, 60, "carol2"))["file_id"];
        REQUIRE(http.patch(api("/me"), {{"avatar_file_id", carol_new}}, carol.token).status == 200);
        CHECK(fetch(http, stranger, "/files/" + carol_new).status == 200);
        auto cleared = http.patch(api("/me"), {{"avatar_file_id", nullptr}}, carol.token);
        REQUIRE(cleared.status == 200);
        CHECK(cleared.json()["user"]["avatar_file_id"].is_null());
        check_error(fetch(http, stranger, "/files/" + carol_new), 403, "forbidden");
        // Past the expiry, several sweeps later: the replaced and the removed avatars went (they
        // are unshared files again), the current one stays.
        CHECK(wait_until([&] { return fetch(http, alice, "/files/" + old_face_id).status == 404; },
                         std::chrono::milliseconds(10000)));
        CHECK(wait_until([&] { return fetch(http, alice, "/files/" + text_id).status == 404; },
                         std::chrono::milliseconds(10000)));
        CHECK(wait_until([&] { return fetch(http, carol, "/files/" + carol_new).status == 404; },
                         std::chrono::milliseconds(10000)));
        CHECK(fetch(http, stranger, "/files/" + face_id + "/thumbnail").status == 200);
        // Shared and recalled, it still is the avatar: the recall does not delete it.
        const auto shared = send_file(http, alice, "world", face_id, "", "av1");
        auto recall = http.post(api("/conversations/world/messages"),
                                {{"client_msg_id", "av2"},
                                 {"body", {{"type", "recall"}, {"target_seq", shared["seq"]}}}},
                                alice.token);
        REQUIRE(recall.status == 201);
        CHECK(fetch(http, stranger, "/files/" + face_id + "/thumbnail").status == 200);

        avatar_id = face_id;
        avatar_owner = alice.user_id;
    }
    {
        // SIGTERM after those uploads and with one in flight (half an image sent, the
        // connection held): the server exits cleanly (the Release build once crashed in its
        // coroutines here), and the unfinished upload's temporary goes with it.
        boost::asio::io_context ioc;
        const auto image = make_png(400, 300, "held");
        auto held = held_upload(ioc, server.host(), server.port(), account{"", "", token}, image,
                                image.size() / 2);
        CHECK(wait_until([&] { return !no_temporaries(data); }, std::chrono::milliseconds(10000)));
        const auto stopped = server.stop();
        REQUIRE(stopped.exited);
        REQUIRE(stopped.signal == 0);
        REQUIRE(stopped.code == 0);
        CHECK(no_temporaries(data));
    }

    const fs::path backup = tmp.path() / "backup";
    auto b = run_monochat({"backup", backup.string()}, {{"MONOCHAT_STORAGE_DATA_DIR", data.string()}});
    INFO(b.output);
    REQUIRE(b.exit.code == 0);
    // The restored server has nothing but the backup.
    fs::remove_all(data);
    const fs::path restored = tmp.path() / "restored";
    auto r = run_monochat({"restore", backup.string()},
                          {{"MONOCHAT_STORAGE_DATA_DIR", restored.string()}});
    INFO(r.output);
    REQUIRE(r.exit.code == 0);
    server.set_overrides({{"storage", {{"data_dir", restored.string()}}}});
    server.start();
    http_client http(server.host(), server.port());
    account alice{"", "", token};
    auto got = fetch(http, alice, "/files/" + kept_id);
    REQUIRE(got.status == 200);
    CHECK(got.body == bytes);
    CHECK(fetch(http, alice, "/files/" + gone_id).status == 404);
    // The avatar came back with its user, readable by others, and still outlives the sweep.
    const auto other = register_user(http, unique_name("other"));
    CHECK(http.get(api("/users/" + avatar_owner), other.token).json()["user"]["avatar_file_id"] ==
          avatar_id);
    CHECK(fetch(http, other, "/files/" + avatar_id + "/thumbnail").status == 200);
}

}  // namespace monochat::test
