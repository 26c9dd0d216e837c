#include "kernel/iptables_legacy.h"

// glibc's netinet/in.h before the kernel's headers, which then leave its
// definitions alone.
// clang-format off
#include <netinet/in.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
// clang-format on
#include <sys/socket.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <string>

#include "util/defaults.h"
#include "util/fd.h"

namespace netnsd {
namespace {

template <class Entry>
Result<LegacyTable> count_entries(std::span<const std::uint8_t> blob, unsigned builtin_chains) {
  LegacyTable table;
  std::size_t entries = 0, errors = 0, at = 0;
  bool ended = false;
  while (at < blob.size()) {
    if (ended) return Error{EPROTO, "legacy entries after the table's end"};
    if (blob.size() - at < sizeof(Entry)) return Error{EPROTO, "a legacy entry cut short"};
    Entry e;
    std::memcpy(&e, blob.data() + at, sizeof e);
    if (e.target_offset < sizeof(Entry) || e.next_offset < e.target_offset + sizeof(xt_entry_target) ||
        e.next_offset > blob.size() - at || e.next_offset % alignof(Entry) != 0) {
      return Error{EPROTO, "a legacy entry whose offsets fall outside it"};
    }
    xt_entry_target target;
    std::memcpy(&target, blob.data() + at + e.target_offset, sizeof target);
    const std::size_t name_length = ::strnlen(target.u.user.name, sizeof target.u.user.name);
    if (name_length == sizeof target.u.user.name) return Error{EPROTO, "a legacy target name without its end"};
    ++entries;
    if (std::string_view(target.u.user.name, name_length) == XT_ERROR_TARGET) {
      ++errors;
      // The last ERROR entry ends the table; the others head a user chain.
      ended = at + e.next_offset == blob.size();
    }
    at += e.next_offset;
  }
  if (!ended) return Error{EPROTO, "legacy entries without the table's end"};
  // Each user chain: its ERROR head and the RETURN that ends it; each
  // built-in chain: its policy; the table: its final ERROR.
  const std::size_t user_chains = errors - 1;
  const std::size_t overhead = 2 * user_chains + builtin_chains + 1;
  if (entries < overhead) return Error{EPROTO, "fewer legacy entries than the table's chains need"};
  table.rules = static_cast<std::uint32_t>(entries - overhead);
  table.user_chains = static_cast<std::uint32_t>(user_chains);
  return table;
}

// One table's rules, asked of a raw socket in this thread's namespace.
template <class Info, class Get, int kLevel, int kInfo, int kEntries>
Result<LegacyTable> read_table(int family, const std::string& name) {
  Fd sock(::socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
  if (!sock) return Error::os("socket for " + name, errno);
  Info info{};
  if (name.size() >= sizeof info.name) return Error{EINVAL, "a legacy table name too long"};
  std::memcpy(info.name, name.data(), name.size());
  socklen_t len = sizeof info;
  if (::getsockopt(sock.get(), kLevel, kInfo, &info, &len) != 0) return Error::os("table info of " + name, errno);
  if (info.size > defaults::kLegacyTableBytesMax) return Error{EFBIG, "legacy table " + name + " is too large to read"};
  std::vector<std::uint8_t> buffer(sizeof(Get) + info.size);
  Get get{};
  std::memcpy(get.name, info.name, sizeof get.name);
  get.size = info.size;
  std::memcpy(buffer.data(), &get, sizeof get);
  len = static_cast<socklen_t>(buffer.size());
  if (::getsockopt(sock.get(), kLevel, kEntries, buffer.data(), &len) != 0) {
    return Error::os("entries of " + name, errno);  // EAGAIN: it changed between the two calls
  }
  auto counted = count_legacy_rules(static_cast<std::uint8_t>(family),
                                    std::span<const std::uint8_t>(buffer).subspan(sizeof(Get), info.size),
                                    static_cast<unsigned>(std::popcount(info.valid_hooks)));
  if (!counted) return counted.error();
  counted->name = name;
  return counted;
}

std::vector<std::string> listed_tables(const char* path) {
  std::vector<std::string> names;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line) && names.size() < 16) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

}  // namespace

Result<LegacyTable> count_legacy_rules(std::uint8_t family, std::span<const std::uint8_t> entries,
                                       unsigned builtin_chains) {
  auto counted = family == AF_INET6 ? count_entries<ip6t_entry>(entries, builtin_chains)
                                    : count_entries<ipt_entry>(entries, builtin_chains);
  if (counted) counted->family = family;
  return counted;
}

Result<std::vector<LegacyTable>> list_legacy_tables() {
  std::vector<LegacyTable> tables;
  // thread-self: this thread's namespace, which may not be its process's.
  for (const std::string& name : listed_tables("/proc/thread-self/net/ip_tables_names")) {
    auto t = read_table<ipt_getinfo, ipt_get_entries, IPPROTO_IP, IPT_SO_GET_INFO, IPT_SO_GET_ENTRIES>(AF_INET, name);
    if (!t) return t.error();
    tables.push_back(std::move(*t));
  }
  for (const std::string& name : listed_tables("/proc/thread-self/net/ip6_tables_names")) {
    auto t =
        read_table<ip6t_getinfo, ip6t_get_entries, IPPROTO_IPV6, IP6T_SO_GET_INFO, IP6T_SO_GET_ENTRIES>(AF_INET6, name);
    if (!t) return t.error();
    tables.push_back(std::move(*t));
  }
  return tables;
}

}  // namespace netnsd
