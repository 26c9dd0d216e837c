#include "api/unix_socket.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <vector>

#include "util/fd.h"

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

}  // namespace

Status prepare_socket_path(const std::string& path) {
  if (path.empty()) return Error::logic("the socket path is empty");
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Error::logic("the socket path " + path + " is longer than " +
                        std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  }
  const std::string dir = parent_of(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return Error::os("cannot use the socket directory " + dir);
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) return Error::os("cannot create " + dir);
    ::chmod(dir.c_str(), 0750);  // exactly 0750 whatever the umask
  } else if (!S_ISDIR(st.st_mode)) {
    return Error::logic(dir + " is not a directory");
  }

  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return Error::os("cannot inspect " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Error::logic(path + " exists and is not a socket; refusing to replace it");
  }
  auto live = answers(path);
  if (!live) return live.error();
  if (*live) {
    return Error::logic("another server is already listening on " + path + " (is netnsd already running?)");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::os("cannot remove stale socket " + path);
  return {};
}

Status secure_socket(const std::string& path, const std::optional<std::string>& group) {
  if (group) {
    gid_t gid = 0;
    unsigned long number = 0;
    auto [ptr, ec] = std::from_chars(group->data(), group->data() + group->size(), number);
    if (ec == std::errc() && ptr == group->data() + group->size()) {
      gid = static_cast<gid_t>(number);
    } else {
      std::vector<char> buf(16384);
      struct group gr {};
      struct group* found = nullptr;
      int rc;
      while ((rc = ::getgrnam_r(group->c_str(), &gr, buf.data(), buf.size(), &found)) == ERANGE &&
             buf.size() < (1u << 20)) {
        buf.resize(buf.size() * 4);
      }
      if (rc != 0) return Error::os("cannot look up group " + *group, rc);
      if (!found) return Error::logic("no group named " + *group);
      gid = gr.gr_gid;
    }
    if (::lchown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
      return Error::os("cannot give " + path + " to group " + *group);
    }
  }
  if (::chmod(path.c_str(), 0660) != 0) return Error::os("cannot set the mode of " + path);
  return {};
}

}  // namespace netnsd
