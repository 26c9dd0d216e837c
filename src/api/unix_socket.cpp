#include "api/unix_socket.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <vector>

namespace netnsd {
namespace {

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// True if a server accepts connections on the socket at `path`.
Result<bool> answers(const std::string& path) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::os("socket(AF_UNIX)");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
  if (errno == ECONNREFUSED) return false;
  return Error::os("cannot probe the socket " + path);
}

// The socket directory: 0750, and the group's when there is one.
Status secure_directory(const std::string& dir, bool created, std::optional<gid_t> group) {
  if (!created && !group) return {};  // someone else's directory: left as it is
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error::os("cannot open the socket directory " + dir);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error::os("cannot inspect " + dir);
  if (!created && (st.st_mode & (S_ISVTX | S_IWOTH))) return {};  // shared, like /tmp: not ours to change
  if (group && st.st_gid != *group && ::fchown(fd.get(), static_cast<uid_t>(-1), *group) != 0) {
    return Error::os("cannot give " + dir + " to group " + std::to_string(*group));
  }
  if ((st.st_mode & 07777) != 0750 && ::fchmod(fd.get(), 0750) != 0) return Error::os("cannot set the mode of " + dir);
  return {};
}

}  // namespace

Result<Fd> lock_socket_path(const std::string& socket_path) {
  const std::string lock_path = socket_path + ".lock";
  Fd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return Error::os("cannot open the lock file " + lock_path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Error::logic("another netnsd holds " + lock_path + " (is netnsd already running on " + socket_path + "?)");
    }
    return Error::os("cannot lock " + lock_path);
  }
  return fd;
}

Status prepare_socket_dir(const std::string& path, std::optional<gid_t> group) {
  if (path.empty()) return Error::logic("the socket path is empty");
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Error::logic("the socket path " + path + " is longer than " +
                        std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  }
  const std::string dir = parent_of(path);
  struct stat st {};
  bool created = false;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return Error::os("cannot use the socket directory " + dir);
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) return Error::os("cannot create " + dir);
    created = true;
  } else if (!S_ISDIR(st.st_mode)) {
    return Error::logic(dir + " is not a directory");
  }
  return secure_directory(dir, created, group);
}

Status prepare_socket_path(const std::string& path, std::optional<gid_t> group) {
  if (Status st = prepare_socket_dir(path, group); !st) return st;
  return clear_socket_path(path);
}

Status clear_socket_path(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return Error::os("cannot inspect " + path);
  }
  if (!S_ISSOCK(st.st_mode)) return Error::logic(path + " exists and is not a socket; refusing to replace it");
  auto live = answers(path);
  if (!live) return live.error();
  if (*live) return Error::logic("another server is already listening on " + path + " (is netnsd already running?)");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::os("cannot remove stale socket " + path);
  return {};
}

Status secure_socket(const std::string& path, std::optional<gid_t> group) {
  Fd file(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!file) return Error::os("cannot open " + path);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0 || !S_ISSOCK(st.st_mode)) return Error::logic(path + " is not our socket");
  if (group && ::fchownat(file.get(), "", static_cast<uid_t>(-1), *group, AT_EMPTY_PATH) != 0) {
    return Error::os("cannot give " + path + " to group " + std::to_string(*group));
  }
  // chmod has no AT_EMPTY_PATH: go through the descriptor's /proc link, which
  // names the very inode we opened.
  const std::string self = "/proc/self/fd/" + std::to_string(file.get());
  if (::chmod(self.c_str(), 0660) != 0) return Error::os("cannot set the mode of " + path);
  return {};
}

Result<gid_t> lookup_group(const std::string& group) {
  unsigned long number = 0;
  auto [ptr, ec] = std::from_chars(group.data(), group.data() + group.size(), number);
  if (!group.empty() && ec == std::errc() && ptr == group.data() + group.size()) return static_cast<gid_t>(number);
  std::vector<char> buf(16384);
  struct group gr {};
  struct group* found = nullptr;
  int rc;
  while ((rc = ::getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &found)) == ERANGE && buf.size() < (1u << 20)) {
    buf.resize(buf.size() * 4);
  }
  if (rc != 0) return Error::os("cannot look up group " + group, rc);
  if (!found) return Error::logic("no group named " + group);
  return gr.gr_gid;
}

}  // namespace netnsd
