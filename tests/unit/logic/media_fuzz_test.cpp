// The thumbnailer against a small corpus made here: valid JPEG, PNG, GIF and WebP images, and
// mutations of each (truncated, bytes flipped, a header with nothing after it). Whatever the
// input, inspect() must return (under ASan and UBSan: without a memory error), and a thumbnail
// it reports must be a JPEG of at most 320 px on its long side.

#include <stdlib.h>  // mkdtemp
#include <vips/vips.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "logic/media.hpp"

namespace monochat::logic {

namespace {

namespace fs = std::filesystem;

struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string t = (fs::temp_directory_path() / "monochat-media-XXXXXX").string();
        path = ::mkdtemp(t.data());
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A 1x1 lossless WebP (the well-known feature-detection image): libvips here reads WebP but
// cannot write it.
const std::string webp_1x1 = std::string(
    "RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00",
    34);

// A 400x300 colour image saved by libvips in `format` ("jpg", "png", "gif").
std::string make_image(const fs::path& dir, const std::string& format) {
    REQUIRE(VIPS_INIT("monochat-test") == 0);
    VipsImage* noise = nullptr;
    REQUIRE(vips_gaussnoise(&noise, 400, 300, "mean", 128.0, "sigma", 40.0, nullptr) == 0);
    VipsImage* bands[3] = {noise, noise, noise};
    VipsImage* rgb = nullptr;
    REQUIRE(vips_bandjoin(bands, &rgb, 3, nullptr) == 0);
    VipsImage* u8 = nullptr;
    REQUIRE(vips_cast_uchar(rgb, &u8, nullptr) == 0);
    const auto path = (dir / ("source." + format)).string();
    REQUIRE(vips_image_write_to_file(u8, path.c_str(), nullptr) == 0);
    g_object_unref(u8);
    g_object_unref(rgb);
    g_object_unref(noise);
    return read_file(path);
}

void check_inspection(const fs::path& dir, const std::string& bytes, const std::string& label) {
    const auto input = dir / "input";
    const auto thumb = dir / "thumb.jpg";
    write_file(input, bytes);
    std::error_code ec;
    fs::remove(thumb, ec);
    INFO(label << " (" << bytes.size() << " bytes)");
    const auto r = media::inspect(input.string(), thumb.string());
    CHECK_FALSE(r.content_type.empty());
    if (r.thumbnail) {
        CHECK(r.width > 0);
        CHECK(r.height > 0);
        const auto t = read_file(thumb);
        REQUIRE(t.size() > 2);
        CHECK(t.substr(0, 2) == "\xFF\xD8");
        VipsImage* img = vips_image_new_from_file(thumb.string().c_str(), nullptr);
        REQUIRE(img != nullptr);
        CHECK(vips_image_get_width(img) <= media::thumbnail_max_px);
        CHECK(vips_image_get_height(img) <= media::thumbnail_max_px);
        g_object_unref(img);
    } else {
        CHECK(r.width == 0);
        CHECK_FALSE(fs::exists(thumb));
    }
}

}  // namespace

TEST_CASE("valid images are measured and get a thumbnail within 320 px", "[logic][media]") {
    temp_dir dir;
    const struct {
        std::string format;
        std::string type;
    } cases[] = {{"jpg", "image/jpeg"}, {"png", "image/png"}, {"gif", "image/gif"}};
    for (const auto& c : cases) {
        const auto bytes = make_image(dir.path, c.format);
        write_file(dir.path / "input", bytes);
        const auto r = media::inspect((dir.path / "input").string(), (dir.path / "t.jpg").string());
        INFO(c.format);
        CHECK(r.content_type == c.type);
        CHECK(r.width == 400);
        CHECK(r.height == 300);
        CHECK(r.thumbnail);
        check_inspection(dir.path, bytes, c.format);
    }
    write_file(dir.path / "input", webp_1x1);
    const auto w = media::inspect((dir.path / "input").string(), (dir.path / "t.jpg").string());
    CHECK(w.content_type == "image/webp");
    CHECK(w.width == 1);
    CHECK(w.thumbnail);
}

TEST_CASE("corrupt and truncated images never crash the thumbnailer", "[logic][media]") {
    temp_dir dir;
    std::vector<std::pair<std::string, std::string>> corpus = {
        {"jpg", make_image(dir.path, "jpg")},
        {"png", make_image(dir.path, "png")},
        {"gif", make_image(dir.path, "gif")},
        {"webp", webp_1x1},
    };
    std::mt19937 rng(20);
    for (const auto& [format, bytes] : corpus) {
        for (int round = 0; round < 12; ++round) {
            std::string m = bytes;
            switch (round % 4) {
                case 0:  // truncated anywhere
                    m.resize(std::uniform_int_distribution<std::size_t>(1, m.size() - 1)(rng));
                    break;
                case 1:  // a few bytes flipped past the signature
                    for (int k = 0; k < 8; ++k) {
                        const auto at = std::uniform_int_distribution<std::size_t>(
                            std::min<std::size_t>(8, m.size() - 1), m.size() - 1)(rng);
                        m[at] = static_cast<char>(m[at] ^ (1 << (k % 8)));
                    }
                    break;
                case 2:  // the header alone
                    m.resize(std::min<std::size_t>(m.size(), 16 + round));
                    break;
                default:  // random bytes after a valid start
                    for (std::size_t i = m.size() / 3; i < m.size(); ++i) {
                        m[i] = static_cast<char>(rng());
                    }
                    break;
            }
            check_inspection(dir.path, m, format + " mutation " + std::to_string(round));
        }
    }
}

}  // namespace monochat::logic
