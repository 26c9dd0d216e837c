// The resolver's vocabulary: devices, namespace handles, and the read-only
// views the cache hands out to dumps and API handlers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/boxed.h"
#include "util/clock.h"
#include "util/fd.h"

namespace netnsd {

// Namespace identity: the nsfs inode (stat(/proc/PID/ns/net).st_ino, ns.inum in BPF).
using NetnsId = std::uint64_t;

// Another link a device refers to: the other end of a veth pair, or the
// device a macvlan, vlan, vxlan or tunnel is stacked on (IFLA_LINK).
struct LinkRef {
  std::uint32_t ifindex = 0;
  // Inode of that link's namespace when the resolver knows it.
  std::optional<NetnsId> netns;
  // That namespace's id as seen from this device's namespace
  // (IFLA_LINK_NETNSID); absent when the link is in the same namespace.
  std::optional<std::int32_t> nsid;

  bool operator==(const LinkRef&) const = default;
};

// RFC 2863 operational state (IFLA_OPERSTATE), as `ip link` names it.
enum class OperState : std::uint8_t { unknown, notpresent, down, lowerlayerdown, testing, dormant, up };
std::string_view to_string(OperState state);

// One IPv4 or IPv6 address of a device (RTM_NEWADDR), kept in the kernel's
// binary form: formatted only when a dump or an answer is written.
struct Address {
  std::uint8_t family = 0;               // AF_INET or AF_INET6
  std::uint8_t prefix_len = 0;           // 0..32 or 0..128
  std::uint8_t scope = 0;                // RT_SCOPE_*: 0 global, 200 site, 253 link, 254 host, 255 nowhere
  std::uint32_t flags = 0;               // IFA_F_*
  std::array<std::uint8_t, 16> local{};  // the device's own address (IFA_LOCAL, else IFA_ADDRESS)
  // The far end of a point-to-point address (IFA_ADDRESS when it differs from IFA_LOCAL).
  std::optional<std::array<std::uint8_t, 16>> peer;
  std::string label;  // IPv4 label (IFA_LABEL) when it is not the device's name

  // Same address on a device: the kernel's identity for one (family,
  // address, prefix length, peer); flags and scope may change under it.
  bool same_key(const Address& other) const {
    return family == other.family && prefix_len == other.prefix_len && local == other.local && peer == other.peer;
  }
  bool operator==(const Address&) const = default;
};
// "192.0.2.1", "2001:db8::1": the local (or, with `peer`, the peer) address.
std::string address_text(const Address& address, bool peer = false);
// "global", "site", "link", "host", "nowhere", else the number.
std::string scope_text(std::uint8_t scope);
// The flags as `ip addr` names them ("secondary" or "temporary" by family,
// "tentative", "deprecated", "permanent", ...); unknown bits as "0x...".
std::vector<std::string> address_flag_names(const Address& address);

// A device's counters (IFLA_STATS64), read live: never cached, so never stale.
struct LinkStats {
  std::uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0;
  std::uint64_t rx_errors = 0, tx_errors = 0, rx_dropped = 0, tx_dropped = 0;
  bool operator==(const LinkStats&) const = default;
};

struct Device {
  std::uint32_t ifindex = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "veth", "bridge", ...; empty for lo and physical NICs
  std::string mac;   // "aa:bb:cc:dd:ee:ff"; empty when the device has no link-layer address
  std::uint32_t mtu = 0;
  bool up = false;  // IFF_UP: administratively up
  OperState operstate = OperState::unknown;
  std::optional<bool> carrier;          // IFLA_CARRIER, when the kernel says
  std::optional<std::uint32_t> master;  // IFLA_MASTER ifindex (bridge, bond, vrf)
  std::optional<LinkRef> peer;          // veth only
  std::optional<LinkRef> lower;         // the device this one is stacked on (not for veth)
  std::vector<Address> addresses;       // sorted (address_order)
  Boxed<LinkStats> stats;  // live listings only (snapshots, GET /v1/namespaces/{netns}): a pointer in the cache

  bool operator==(const Device&) const = default;
};

// The order of a device's addresses: IPv4 first, then by bytes and prefix.
bool address_order(const Address& a, const Address& b);

// The container a process belongs to, as its cgroup path says, with the
// names the runtime's own state on disk gives (see ProcessDescriber).
struct ContainerRef {
  std::string runtime;  // "docker", "containerd", "cri-o", "podman"; empty when the path does not say
  std::string id;       // the runtime's container id (64 hex digits)
  std::string pod_uid;  // Kubernetes pod UID, with dashes; empty outside Kubernetes
  // The uid owning the container's cgroup directory: 0 for a runtime run by
  // root; another uid for a delegated subtree (rootless podman, or anybody's
  // own cgroups, whose names are theirs to choose); unset when netnsd could
  // not check. Names are read only for root-owned cgroups.
  std::optional<std::uint32_t> cgroup_owner;
  std::string name;           // the container's name
  std::string pod_name;       // Kubernetes pod name
  std::string pod_namespace;  // Kubernetes namespace

  bool operator==(const ContainerRef&) const = default;
};

// One process with a task in a namespace.
struct ProcessInfo {
  std::uint32_t pid = 0;
  std::string comm;  // /proc/PID/comm
  std::optional<ContainerRef> container;

  bool operator==(const ProcessInfo&) const = default;
};

// An interface name the kernel would accept (dev_valid_name): 1 to 15 bytes,
// not "." or "..", no '/', ':' or whitespace (the kernel's isspace, which
// includes 0xa0). Other bytes, control bytes included, are valid: the kernel
// accepts them, so real devices may carry them, and the encoders escape them.
bool valid_interface_name(std::string_view name);

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

// Kernel-side state whose life is tied to a handle's: in the kernel host,
// the socket made in the namespace that pins it (kernel/namespace_socket.h).
// Opaque to the resolver.
struct HandleAttachment {
  virtual ~HandleAttachment() = default;
  // The descriptor that pins the namespace, if it does one (else -1).
  virtual int fd() const { return -1; }
};

// An open namespace handle: what keeps the namespace alive and lets us
// reach it, and the path it was opened from. At first that is `fd`, the
// namespace file; the host may attach a socket made in the namespace, which
// pins it too, and close `fd` (HostView::attach: the kernel host's one
// descriptor per cached namespace). Shared so that a dump can keep using a
// handle after the resolver has released it; the descriptor, and anything
// attached, close with the last owner.
struct NamespaceHandle {
  NamespaceHandle(Fd handle_fd, std::string handle_path, NamespaceOwner handle_owner = {})
      : fd(std::move(handle_fd)), path(std::move(handle_path)), owner(handle_owner) {}
  NamespaceHandle(NamespaceHandle&& other) noexcept
      : fd(std::move(other.fd)),
        path(std::move(other.path)),
        owner(other.owner),
        cookie(other.cookie),
        attachment(std::move(other.attachment)) {}

  // The descriptor that pins the namespace: `fd`, or the attachment's.
  int descriptor() const {
    if (fd) return fd.get();
    std::lock_guard lock(attachment_mutex);
    return attachment ? attachment->fd() : -1;
  }

  Fd fd;
  std::string path;
  NamespaceOwner owner;
  // The namespace's cookie (SO_NETNS_COOKIE): unlike the inode, never reused
  // while the machine is up. 0 when the kernel would not say.
  std::uint64_t cookie = 0;
  // Guarded by attachment_mutex, which is held only to read or set the
  // pointer: the attachment guards its own use.
  mutable std::mutex attachment_mutex;
  mutable std::shared_ptr<HandleAttachment> attachment;
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
  std::uint32_t pids = 0;  // processes with a task in the namespace at the last scan
  // The first of them (lowest pids, at most defaults::kProcessesListed), and
  // the distinct containers of all of them (a pod's share its namespace).
  std::vector<ProcessInfo> processes;
  std::vector<ContainerRef> containers;
  std::vector<Device> devices;    // sorted by ifindex
  bool devices_over_cap = false;  // it holds more devices than the cache keeps (ResolverConfig::max_devices)
};

}  // namespace netnsd
