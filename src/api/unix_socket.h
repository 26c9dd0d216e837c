// Preparing and securing the service's Unix socket path.
#pragma once

#include <optional>
#include <string>

#include "util/result.h"

namespace netnsd {

// Makes `path` ready to bind:
// - creates a missing parent directory with mode 0750 (an existing one is
//   left alone: it may be /tmp or a test's directory);
// - nothing there: fine;
// - a socket nobody answers on (ECONNREFUSED): stale, removed;
// - a socket something answers on: error, another server is live;
// - anything else (file, directory, symlink): error, left untouched.
Status prepare_socket_path(const std::string& path);

// After bind: mode 0660 and, when `group` is given, that group (by name or
// number).
Status secure_socket(const std::string& path, const std::optional<std::string>& group);

}  // namespace netnsd
