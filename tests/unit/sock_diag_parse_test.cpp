// The sock_diag parser on messages built byte by byte: a kernel reply is
// read exactly; a message of the wrong family, in a state no kernel
// reports, or with a malformed attribute is refused whole.
#include "kernel/sock_diag_parse.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include "netlink_builder.h"

namespace netnsd {
namespace {

using testing::NetlinkMessage;

constexpr unsigned char kListen = 10, kUnconnected = 7;

TEST(SockDiagParse, AListeningIpv4SocketIsReadWhole) {
  in_addr local{};
  ::inet_pton(AF_INET, "127.0.0.1", &local);
  NetlinkMessage m(SOCK_DIAG_BY_FAMILY);
  m.inet_diag(AF_INET, kListen, 8080, 4242, &local, 3);
  SocketMessage got = parse_socket_message(m.header(), AF_INET, IPPROTO_TCP);
  ASSERT_EQ(got.kind, SocketMessage::Kind::socket) << got.refusal;
  const InetSocket& s = got.socket;
  EXPECT_EQ(s.protocol, IPPROTO_TCP);
  EXPECT_EQ(s.local_port, 8080);
  EXPECT_EQ(socket_address_text(s), "127.0.0.1");
  EXPECT_EQ(s.ifindex, 3u);
  EXPECT_EQ(s.uid, 1000u);
  EXPECT_EQ(s.inode, 4242u);
  EXPECT_FALSE(s.v6only);
  EXPECT_TRUE(is_listening(s));
  EXPECT_EQ(socket_state_text(s.protocol, s.state), "listen");
}

TEST(SockDiagParse, AnIpv6SocketSaysWhetherItIsV6Only) {
  in6_addr any{};
  for (std::uint8_t v6only : {0, 1}) {
    NetlinkMessage m(SOCK_DIAG_BY_FAMILY);
    m.inet_diag(AF_INET6, kUnconnected, 5353, 7, &any).u8(INET_DIAG_SKV6ONLY, v6only);
    SocketMessage got = parse_socket_message(m.header(), AF_INET6, IPPROTO_UDP);
    ASSERT_EQ(got.kind, SocketMessage::Kind::socket) << got.refusal;
    EXPECT_EQ(got.socket.v6only, v6only == 1);
    EXPECT_EQ(socket_address_text(got.socket), "::");
    EXPECT_TRUE(is_listening(got.socket)) << "an unconnected UDP socket is what ss -l lists";
    EXPECT_EQ(socket_state_text(IPPROTO_UDP, got.socket.state), "unconn");
  }
}

TEST(SockDiagParse, WhatNoKernelSendsIsRefusedWhole) {
  struct Case {
    const char* why;
    NetlinkMessage message;
    unsigned char family;
  };
  std::vector<Case> cases;
  {
    NetlinkMessage m(SOCK_DIAG_BY_FAMILY);
    m.raw("\x02\x0a", 2);  // far shorter than inet_diag_msg
    cases.push_back({"short", m, AF_INET});
  }
  {
    NetlinkMessage m(SOCK_DIAG_BY_FAMILY);
    m.inet_diag(AF_INET6, kListen, 80, 1);
    cases.push_back({"an IPv6 socket in an IPv4 dump", m, AF_INET});
  }
  for (unsigned char state : {0, 13, 255}) {
    NetlinkMessage m(SOCK_DIAG_BY_FAMILY);
    m.inet_diag(AF_INET, state, 80, 1);
    cases.push_back({"a state out of range", m, AF_INET});
  }
  {
    NetlinkMessage m(SOCK_DIAG_BY_FAMILY);
    m.inet_diag(AF_INET6, kListen, 80, 1).u32(INET_DIAG_SKV6ONLY, 1);
    cases.push_back({"a 4-byte INET_DIAG_SKV6ONLY", m, AF_INET6});
  }
  {
    NetlinkMessage m(SOCK_DIAG_BY_FAMILY);
    m.inet_diag(AF_INET6, kListen, 80, 1).u8(INET_DIAG_SKV6ONLY, 1).u8(INET_DIAG_SKV6ONLY, 0);
    cases.push_back({"INET_DIAG_SKV6ONLY twice", m, AF_INET6});
  }
  {
    NetlinkMessage m(SOCK_DIAG_BY_FAMILY);
    m.inet_diag(AF_INET, kListen, 80, 1).u8(INET_DIAG_SKV6ONLY, 1);
    cases.push_back({"INET_DIAG_SKV6ONLY on an IPv4 socket", m, AF_INET});
  }
  {
    NetlinkMessage m(SOCK_DIAG_BY_FAMILY);
    m.inet_diag(AF_INET, kListen, 80, 1);
    nlattr overrun{};
    overrun.nla_len = 200;  // longer than what follows
    overrun.nla_type = INET_DIAG_MARK;
    m.raw(&overrun, sizeof overrun);
    cases.push_back({"an attribute overrunning the message", m, AF_INET});
  }
  for (Case& c : cases) {
    SocketMessage got = parse_socket_message(c.message.header(), c.family, IPPROTO_TCP);
    EXPECT_EQ(got.kind, SocketMessage::Kind::refused) << c.why;
    EXPECT_FALSE(got.refusal.empty()) << c.why;
  }
}

TEST(SockDiagParse, OtherMessageTypesAreIgnored) {
  NetlinkMessage m(RTM_NEWLINK);
  m.inet_diag(AF_INET, kListen, 80, 1);
  EXPECT_EQ(parse_socket_message(m.header(), AF_INET, IPPROTO_TCP).kind, SocketMessage::Kind::other);
}

TEST(Sockets, NamesAndProtocols) {
  EXPECT_EQ(parse_protocol("tcp"), IPPROTO_TCP);
  EXPECT_EQ(parse_protocol("udp"), IPPROTO_UDP);
  EXPECT_EQ(parse_protocol("sctp"), IPPROTO_SCTP);
  EXPECT_FALSE(parse_protocol("TCP"));
  EXPECT_FALSE(parse_protocol(""));
  EXPECT_EQ(protocol_text(IPPROTO_UDP), "udp");
  EXPECT_EQ(protocol_text(99), "99");
  EXPECT_EQ(socket_state_text(IPPROTO_TCP, 1), "established");
  EXPECT_EQ(socket_state_text(IPPROTO_TCP, 6), "time_wait");
  EXPECT_EQ(socket_state_text(IPPROTO_TCP, 7), "close");
  EXPECT_EQ(socket_state_text(IPPROTO_TCP, 40), "40");
}

}  // namespace
}  // namespace netnsd
