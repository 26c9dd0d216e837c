// netlink_forger: what a hostile unprivileged user can send netnsd.
//
// Run as an ordinary user inside `unshare -rn` (its own user and network
// namespace, where it holds CAP_NET_ADMIN): it makes real devices, waits
// until netnsd has sockets in its namespace (it sees their port ids in
// /proc/net/netlink, as anyone there can), then forges rtnetlink messages:
// multicast to RTNLGRP_LINK and unicast to each of netnsd's sockets, with
// thousands of fake devices, hostile names, wrong attribute lengths and
// guessed sequence numbers. Then it makes one more real device, prints
// "forged N" and sleeps until killed, keeping its namespace alive.
//
//   netlink_forger FAKE_DEVICES
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "netlink_builder.h"

using netnsd::testing::NetlinkMessage;

namespace {

// Port ids of the NETLINK_ROUTE sockets in this namespace other than ours
// (and the kernel's, 0).
std::vector<std::uint32_t> other_route_sockets(std::uint32_t mine) {
  std::ifstream in("/proc/net/netlink");
  std::string line;
  std::getline(in, line);  // header
  std::vector<std::uint32_t> out;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string sk;
    int protocol = -1;
    std::uint32_t port = 0;
    fields >> sk >> protocol >> port;
    if (protocol == NETLINK_ROUTE && port != 0 && port != mine) out.push_back(port);
  }
  return out;
}

bool send_to(int fd, std::uint32_t port, std::uint32_t groups, const std::vector<std::uint8_t>& bytes) {
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  to.nl_pid = port;
  to.nl_groups = groups;
  // MSG_DONTWAIT: a receiver whose buffer is full would otherwise stall us.
  return ::sendto(fd, bytes.data(), bytes.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
         static_cast<ssize_t>(bytes.size());
}

// The hostile messages, each one datagram.
std::vector<std::vector<std::uint8_t>> forgeries(int fakes) {
  std::vector<std::vector<std::uint8_t>> out;
  for (int i = 0; i < fakes; ++i) {
    NetlinkMessage m(RTM_NEWLINK, 0, 0);
    m.ifinfo(1000 + i, IFF_UP).str(IFLA_IFNAME, "fake" + std::to_string(i)).u32(IFLA_MTU, 1500);
    out.push_back(m.bytes());
  }
  const std::uint8_t one = 1;
  out.push_back(NetlinkMessage(RTM_NEWLINK).ifinfo(90).str(IFLA_IFNAME, "evil\nname").bytes());
  out.push_back(NetlinkMessage(RTM_NEWLINK).ifinfo(91).str(IFLA_IFNAME, std::string(4000, 'L')).bytes());
  out.push_back(NetlinkMessage(RTM_NEWLINK).ifinfo(92).str(IFLA_IFNAME, "short").attr(IFLA_MTU, &one, 1).bytes());
  out.push_back(NetlinkMessage(RTM_DELLINK).ifinfo(1).bytes());  // "lo is gone"
  // Replies to requests netnsd might have in flight: guessed sequence numbers.
  for (std::uint32_t seq = 0; seq < 64; ++seq) {
    out.push_back(NetlinkMessage(RTM_NEWLINK, NLM_F_MULTI, seq).ifinfo(93).str(IFLA_IFNAME, "guess").bytes());
    int zero = 0;
    out.push_back(NetlinkMessage(NLMSG_DONE, NLM_F_MULTI, seq).raw(&zero, sizeof zero).bytes());
  }
  // A header that lies about its length.
  auto lying = NetlinkMessage(RTM_NEWLINK).ifinfo(94).str(IFLA_IFNAME, "liar").bytes();
  std::uint32_t too_long = 60000;
  std::memcpy(lying.data(), &too_long, sizeof too_long);
  out.push_back(lying);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int fakes = argc > 1 ? std::atoi(argv[1]) : 1000;
  if (std::system("ip link add real0 type veth peer name real1") != 0) return 2;

  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  socklen_t len = sizeof local;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    std::perror("netlink socket");
    return 3;
  }
  // netnsd's socket here: its monitor and its requests in one.
  std::vector<std::uint32_t> targets;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((targets = other_route_sockets(local.nl_pid)).empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "netnsd never opened a socket here\n");
      return 4;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  int sent = 0;
  for (const auto& bytes : forgeries(fakes)) {
    sent += send_to(fd, 0, 1u << (RTNLGRP_LINK - 1), bytes);  // to everyone listening for links
    for (std::uint32_t port : targets) sent += send_to(fd, port, 0, bytes);
  }
  if (std::system("ip link add late0 type veth peer name late1") != 0) return 5;
  std::printf("forged %d\n", sent);
  std::fflush(stdout);
  for (;;) ::pause();
}
