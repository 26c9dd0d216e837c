#include "kernel/namespace_socket.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <variant>
#include <vector>

#include "kernel/netns.h"

namespace netnsd {

Status NamespaceSocket::subscribe(int rcvbuf, bool facts, std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  if (Status st = socket_.subscribe_links(rcvbuf, facts); !st) return st;
  std::lock_guard waker(wake_mutex_);
  wake_ = std::move(wake);
  return {};
}

void NamespaceSocket::quiet_during_requests(std::function<void(bool quiet)> quiet) {
  std::lock_guard waker(wake_mutex_);
  quiet_ = std::move(quiet);
}

void NamespaceSocket::unsubscribe() {
  {
    std::lock_guard waker(wake_mutex_);
    wake_ = nullptr;
    quiet_ = nullptr;
  }
  std::lock_guard lock(mutex_);
  socket_.unsubscribe_links();
}

Status NamespaceSocket::read_events(const std::function<void(const LinkEvent&)>& on_event, std::optional<NetnsId> self,
                                    const std::function<void(const FactEvent&)>& on_fact, std::size_t max_datagrams) {
  // Read under the lock, delivered after it: what the caller does with an
  // event may be a request on this very socket (a moved device's new
  // namespace is asked of it).
  std::vector<std::variant<LinkEvent, FactEvent>> read;
  Status st;
  {
    // Said before trying, so that a request letting go in between sees it.
    wanted_.store(true);
    std::unique_lock lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return Error::os("the namespace's socket is answering a request", EBUSY);
    wanted_.store(false);
    std::function<void(const FactEvent&)> keep_fact;
    if (on_fact) keep_fact = [&read](const FactEvent& e) { read.emplace_back(e); };
    st =
        socket_.read_link_events([&read](const LinkEvent& e) { read.emplace_back(e); }, self, keep_fact, max_datagrams);
  }
  for (const auto& event : read) {
    if (const auto* link = std::get_if<LinkEvent>(&event)) {
      on_event(*link);
    } else {
      on_fact(std::get<FactEvent>(event));
    }
  }
  return st;
}

void NamespaceSocket::wake() {
  std::lock_guard waker(wake_mutex_);
  if (wake_) wake_();
}

void NamespaceSocket::quiet(bool on) {
  std::lock_guard waker(wake_mutex_);
  if (quiet_) quiet_(on);
}

Result<Fd> NamespaceSocket::namespace_file() const {
  Fd file(::ioctl(socket_.fd(), SIOCGSKNS));  // close-on-exec, like every descriptor here
  if (!file) return Error::os("ioctl SIOCGSKNS");
  return file;
}

Result<std::shared_ptr<NamespaceSocket>> namespace_socket(const NamespaceHandle& ns, NetlinkCounters* counters) {
  std::lock_guard lock(ns.attachment_mutex);
  if (auto attached = std::dynamic_pointer_cast<NamespaceSocket>(ns.attachment)) return attached;
  if (!ns.fd) return Error::os("a namespace handle with neither a file nor a socket", EBADF);
  auto inode = netns_inode(ns.fd.get());
  auto sock = RtnlSocket::open_in(ns.fd.get(), inode ? *inode : 0, counters);
  if (!sock) return sock.error();
  auto made = std::make_shared<NamespaceSocket>(std::move(sock.value()));
  ns.attachment = made;
  return made;
}

Result<NetnsFile> NetnsFile::of(const NamespaceHandle& ns) {
  NetnsFile file;
  if (ns.fd) {
    file.borrowed_ = ns.fd.get();
    return file;
  }
  std::shared_ptr<NamespaceSocket> sock;
  {
    std::lock_guard lock(ns.attachment_mutex);
    sock = std::dynamic_pointer_cast<NamespaceSocket>(ns.attachment);
  }
  if (!sock) return Error::os("a namespace handle with neither a file nor a socket", EBADF);
  auto owned = sock->namespace_file();
  if (!owned) return owned.error();
  file.owned_ = std::move(owned.value());
  return file;
}

}  // namespace netnsd
