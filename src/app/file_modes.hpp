#pragma once
// Data files are the operator's alone (issue 17): the process runs with umask 077, and a data
// directory or backup made by an older version, or copied in by a restore, is tightened too.

#include <string>
#include <system_error>

namespace monochat::app {

// Sets the process umask to 077: every file and directory created from here on is 0600/0700.
void private_umask() noexcept;

// Removes the group and other permission bits of `root` and of everything below it (symbolic
// links are not followed). Returns the first error; a missing `root` is not an error.
std::error_code restrict_tree(const std::string& root);

}  // namespace monochat::app
