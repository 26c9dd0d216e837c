// The service's Unix socket path: taking it, preparing it, securing it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "util/fd.h"
#include "util/result.h"

namespace netnsd {

// The socket's directory:
// - created when missing, with mode 0750;
// - with `group`: given to that group, mode 0750, so that its members can
//   reach the socket (also when systemd made it), unless the directory is
//   shared (sticky or world-writable, like /tmp).
Status prepare_socket_dir(const std::string& socket_path, std::optional<gid_t> group = std::nullopt);

// An exclusive lock (flock) on `<socket_path>.lock` (in the socket's
// directory), held for as long as the returned Fd lives: two instances never
// race on one socket path (probing and removing a stale socket, binding).
// Fails at once when another process holds it.
Result<Fd> lock_socket_path(const std::string& socket_path);

// Makes `path` ready to bind (take the lock first):
// - nothing at the path: fine;
// - a socket nobody answers on (ECONNREFUSED): stale, removed;
// - a socket something answers on: error, another server is live;
// - anything else (file, directory, symlink): error, left untouched.
Status clear_socket_path(const std::string& path);

// prepare_socket_dir() then clear_socket_path(), without the lock.
Status prepare_socket_path(const std::string& path, std::optional<gid_t> group = std::nullopt);

// After bind: mode 0660 and, when `group` is given, that group; through a
// descriptor of the socket file itself (O_PATH, no symlink followed), so
// nothing swapped in at the path is changed.
Status secure_socket(const std::string& path, std::optional<gid_t> group);

// A group by name or number.
Result<gid_t> lookup_group(const std::string& group);

}  // namespace netnsd
