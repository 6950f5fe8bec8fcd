#include "app/file_modes.hpp"

#include <sys/stat.h>

#include <filesystem>

namespace monochat::app {

namespace fs = std::filesystem;

void private_umask() noexcept { ::umask(077); }

namespace {
std::error_code restrict_one(const fs::path& p, const fs::file_status& st) {
    std::error_code ec;
    if (fs::is_symlink(st)) {
        return ec;
    }
    constexpr auto others = fs::perms::group_all | fs::perms::others_all;
    if ((st.permissions() & others) != fs::perms::none) {
        fs::permissions(p, others, fs::perm_options::remove | fs::perm_options::nofollow, ec);
    }
    return ec;
}
}  // namespace

std::error_code restrict_tree(const std::string& root) {
    std::error_code ec;
    const fs::path top(root);
    const auto st = fs::symlink_status(top, ec);
    if (ec || !fs::exists(st)) {
        return {};
    }
    if (auto e = restrict_one(top, st)) {
        return e;
    }
    if (!fs::is_directory(st)) {
        return {};
    }
    fs::recursive_directory_iterator it(top, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (auto e = restrict_one(it->path(), it->symlink_status())) {
            return e;
        }
    }
    return ec;
}

}  // namespace monochat::app
