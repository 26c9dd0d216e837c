// The resolver's vocabulary: devices, namespace handles, and the read-only
// views the cache hands out to dumps and API handlers.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/clock.h"
#include "util/fd.h"

namespace netnsd {

// Namespace identity: the nsfs inode (stat(/proc/PID/ns/net).st_ino, ns.inum in BPF).
using NetnsId = std::uint64_t;

// The other end of a veth pair.
struct PeerRef {
  std::uint32_t ifindex = 0;
  // Inode of the peer's namespace when the resolver holds that namespace.
  std::optional<NetnsId> netns;
  // The peer namespace's id as seen from this device's namespace
  // (IFLA_LINK_NETNSID); absent when the peer lives in the same namespace.
  std::optional<std::int32_t> nsid;

  bool operator==(const PeerRef&) const = default;
};

struct Device {
  std::uint32_t ifindex = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "veth", "bridge", ...; empty for lo and physical NICs
  std::string mac;   // "aa:bb:cc:dd:ee:ff"; empty when the device has no link-layer address
  std::uint32_t mtu = 0;
  bool up = false;                      // IFF_UP
  std::optional<std::uint32_t> master;  // IFLA_MASTER ifindex (bridge, bond, vrf)
  std::optional<PeerRef> peer;          // veth only

  bool operator==(const Device&) const = default;
};

// How the resolver first learnt of a namespace.
enum class Source { procfs, bind_mount, ebpf, netlink };
std::string_view to_string(Source source);

// Who owns a network namespace: its owning user namespace and that user
// namespace's owner. It decides whom the namespace competes with for room in
// the cache (see Resolver::capture): anybody can make namespaces with
// `unshare -rn`, and those must never push the host's out.
struct NamespaceOwner {
  NetnsId userns = 0;     // inode of the owning user namespace; 0 when unknown
  std::uint32_t uid = 0;  // that user namespace's owner (NS_GET_OWNER_UID)
  bool host = true;       // owned by netnsd's own (the host's) user namespace

  bool operator==(const NamespaceOwner&) const = default;
};

// Kernel-side state whose life is tied to a handle's (a netlink socket
// inside the namespace, say). Opaque to the resolver.
struct HandleAttachment {
  virtual ~HandleAttachment() = default;
};

// An open namespace handle: the fd that lets us enter the namespace and keeps
// it alive, and the path it was opened from. Shared so that a dump can keep
// using a handle after the resolver has released it; the fd, and anything
// attached, close with the last owner.
struct NamespaceHandle {
  NamespaceHandle(Fd handle_fd, std::string handle_path, NamespaceOwner handle_owner = {})
      : fd(std::move(handle_fd)), path(std::move(handle_path)), owner(handle_owner) {}
  NamespaceHandle(NamespaceHandle&& other) noexcept
      : fd(std::move(other.fd)),
        path(std::move(other.path)),
        owner(other.owner),
        attachment(std::move(other.attachment)) {}

  Fd fd;
  std::string path;
  NamespaceOwner owner;
  // Guarded by attachment_mutex: users of the attachment take it too.
  mutable std::mutex attachment_mutex;
  mutable std::unique_ptr<HandleAttachment> attachment;
};
using HandlePtr = std::shared_ptr<const NamespaceHandle>;

// A consistent copy of one cached namespace.
struct NamespaceView {
  NetnsId netns = 0;
  HandlePtr handle;                // set for every cached namespace
  std::vector<std::string> names;  // bind-mount names (last path component), sorted
  Source discovered_by = Source::procfs;
  WallTime first_seen;
  std::optional<WallTime> lonely_since;
  std::uint32_t pids = 0;         // processes with a task in the namespace at the last scan
  std::vector<Device> devices;    // sorted by ifindex
  bool devices_over_cap = false;  // it holds more devices than the cache keeps (ResolverConfig::max_devices)
};

}  // namespace netnsd
