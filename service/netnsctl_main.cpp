// netnsctl: the command-line client of netnsd's Unix-socket API.
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "diff/document_diff.h"
#include "util/defaults.h"
#include "util/sha256.h"
#include "util/version.h"

namespace {

using nlohmann::json;

const std::string kUsage = std::string(R"(Usage: netnsctl [--socket PATH] COMMAND

Commands:
  dump [--snapshot-interfaces | --at TIME] [--stream [--format json|dot|svg|png]] [--schema netnsd|datadog]
       [--netns ID]... [--include routes,neighbours,sockets,conntrack,firewall]
        dump the cache to files (prints their paths) or, with --stream, to stdout (svg and png: the graph,
        rendered by netnsd); with --at, the cache as it was then (from the history journal); with
        --include, each namespace also carries those, read now
  health            check that netnsd answers
  ls                list cached namespaces
  get NETNS         show one namespace (inode or bind-mount name) as JSON
  whois WHAT [--at TIME]
        every device called WHAT, or holding the address or MAC WHAT: its namespace, its veth peer and the
        containers behind them; with --at, those that did then, and for how long (from the history journal)
  whois :PORT[/tcp|udp|sctp]
        every namespace where a socket listens on PORT, with the processes holding it (in whatever namespace
        they live) and their containers; where nothing does, the firewall rules that take the port (a
        hostPort or NodePort is a DNAT); now only: sockets are never recorded
  sockets NETNS [--json]
        the listening TCP/UDP sockets of one namespace with the processes holding them, and the others
        counted per state, read from the kernel now
  conntrack NETNS [--json]
        the namespace's conntrack entries against nf_conntrack_max (one value for the whole machine),
        flagged above 90%
  firewall NETNS [--json]
        the namespace's nf_tables tables and chains with their rule counts (iptables-nft's among them), and
        its legacy iptables tables
  history [--netns ID | --device NAME | --address ADDR | --mac MAC | --container ID] [--from TIME] [--to TIME] [--json]
        every change recorded to one subject (or to everything), oldest first
  diff A [B] [--json]
        what appeared, vanished or changed (namespaces, devices, addresses, containers) from A to B; each
        is a TIME, "now" (the default for B), or a dump file (either schema; from this host or another)
  history export FILE
        a consistent copy of the whole journal (an SQLite database) into FILE, with its SHA-256, while
        netnsd runs: what an incident responder hands on
  watch [--json] [--netns ID]... [--type TYPE]... [--since SEQ]
        follow the changes the cache applies, one line each (raw JSON lines with --json), until Ctrl-C;
        TYPE is netns, device, address or one type such as device_added

TIME is RFC 3339 (2026-12-06T02:14:00Z), a clock time today in the local zone (02:14, 02:14:30), a time
ago (-15m, -2h) or a change's sequence number.

The socket defaults to $NETNSD_SOCKET, else )") +
                           netnsd::defaults::kSocketPath + ".\n";

// Percent-encodes a path segment (namespace names are arbitrary bytes).
std::string encode_segment(const std::string& in) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xf]);
    }
  }
  return out;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "netnsctl: %s\n%s", message.c_str(), kUsage.c_str());
  return 2;
}

// Prints the server's error sentence (or what went wrong reaching it).
int report_failure(const httplib::Result& res, const std::string& socket) {
  if (!res) {
    std::fprintf(stderr, "netnsctl: cannot reach netnsd at %s: %s\n", socket.c_str(),
                 httplib::to_string(res.error()).c_str());
    return 1;
  }
  json body = json::parse(res->body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_string()) {
    std::fprintf(stderr, "%s\n", body["error"].get<std::string>().c_str());
  } else {
    std::fprintf(stderr, "netnsctl: netnsd answered HTTP %d: %s\n", res->status, res->body.c_str());
  }
  return 1;
}

std::string instant_text(const std::string& text);

int cmd_dump(httplib::Client& client, const std::string& socket, const std::vector<std::string>& args) {
  json body = json::object();
  bool stream = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    // The value of a flag that takes one, or null when it is missing.
    auto value = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    if (a == "--snapshot-interfaces") {
      body["snapshot_interfaces"] = true;
    } else if (a == "--stream") {
      stream = true;
      body["output"] = "stream";
    } else if (a == "--format" || a == "--schema" || a == "--include") {
      const std::string* v = value();
      if (!v) return usage_error(a + " needs a value");
      body[a.substr(2)] = *v;
    } else if (a == "--at") {
      const std::string* v = value();
      if (!v) return usage_error("--at needs a TIME");
      body["at"] = instant_text(*v);
    } else if (a == "--netns") {
      const std::string* v = value();
      if (!v) return usage_error("--netns needs a value");
      char* end = nullptr;
      unsigned long long id = std::strtoull(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0') return usage_error("--netns expects a namespace inode, got '" + *v + "'");
      body["netns"].push_back(id);
    } else {
      return usage_error("unknown dump option '" + a + "'");
    }
  }
  auto res = client.Post("/v1/dump", body.dump(), "application/json");
  if (!res || res->status != 200) return report_failure(res, socket);
  if (stream) {
    std::fwrite(res->body.data(), 1, res->body.size(), stdout);
    return 0;
  }
  json paths = json::parse(res->body, nullptr, false);
  if (!paths.is_object() || !paths.contains("dump_filename") || !paths.contains("graph_filename")) {
    std::fprintf(stderr, "netnsctl: unexpected answer from netnsd: %s\n", res->body.c_str());
    return 1;
  }
  std::printf("Network namespace dump: %s\n", paths["dump_filename"].get<std::string>().c_str());
  std::printf("Network namespace dump graph: %s\n", paths["graph_filename"].get<std::string>().c_str());
  return 0;
}

int cmd_health(httplib::Client& client, const std::string& socket) {
  auto res = client.Get("/healthz");
  if (!res || res->status != 200) return report_failure(res, socket);
  std::printf("ok\n");
  return 0;
}

int cmd_ls(httplib::Client& client, const std::string& socket) {
  auto res = client.Get("/v1/namespaces");
  if (!res || res->status != 200) return report_failure(res, socket);
  json doc = json::parse(res->body, nullptr, false);
  if (!doc.is_object() || !doc["namespaces"].is_array()) {
    std::fprintf(stderr, "netnsctl: unexpected answer from netnsd\n");
    return 1;
  }
  std::printf("%-12s %5s %7s  %-10s %s\n", "NETNS", "PIDS", "DEVICES", "SOURCE", "NAMES");
  for (const json& ns : doc["namespaces"]) {
    std::string names;
    for (const json& n : ns["names"]) {
      if (!names.empty()) names += ',';
      names += n.get<std::string>();
    }
    if (!ns["lonely_since"].is_null()) names += names.empty() ? "(lonely)" : " (lonely)";
    std::printf("%-12llu %5u %7zu  %-10s %s\n", ns["netns"].get<unsigned long long>(), ns["pids"].get<unsigned>(),
                ns["devices"].size(), ns["discovered_by"].get<std::string>().c_str(), names.c_str());
  }
  return 0;
}

int cmd_get(httplib::Client& client, const std::string& socket, const std::string& which) {
  auto res = client.Get("/v1/namespaces/" + encode_segment(which));
  if (!res || res->status != 200) return report_failure(res, socket);
  json doc = json::parse(res->body, nullptr, false);
  if (!doc.is_object() || !doc.contains("netns")) {
    std::fprintf(stderr, "netnsctl: unexpected answer from netnsd: %s\n", res->body.substr(0, 200).c_str());
    return 1;
  }
  std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
  return 0;
}

// "docker 3f2a1b0c9d8e web-1, pod 6a1c...-... default/nginx-0"
std::string describe_containers(const json& where) {
  std::string out;
  if (!where.is_object() || !where["containers"].is_array()) return out;
  for (const json& c : where["containers"]) {
    if (!c.is_object()) continue;
    std::string one = c["runtime"].is_string() ? c["runtime"].get<std::string>() : std::string("container");
    if (c["id"].is_string()) one += " " + c["id"].get<std::string>().substr(0, 12);
    if (c["name"].is_string()) one += " " + c["name"].get<std::string>();
    if (c["pod_uid"].is_string()) one += ", pod " + c["pod_uid"].get<std::string>();
    if (c["pod_name"].is_string()) {
      one += " " + (c["pod_namespace"].is_string() ? c["pod_namespace"].get<std::string>() + "/" : std::string()) +
             c["pod_name"].get<std::string>();
    }
    if (c["cgroup_owner"].is_number() && c["cgroup_owner"] != 0) {
      one += " (cgroup of uid " + std::to_string(c["cgroup_owner"].get<long>()) + ")";
    }
    out += (out.empty() ? "" : "; ") + one;
  }
  // No container: the processes, which are what runs there.
  if (out.empty() && where["host"] != true && where["processes"].is_array()) {
    for (const json& p : where["processes"]) {
      if (!p.is_object() || !p["pid"].is_number()) continue;
      out += (out.empty() ? "pid " : ", pid ") + std::to_string(p["pid"].get<long>());
      if (p["comm"].is_string()) out += " " + p["comm"].get<std::string>();
    }
  }
  return out;
}

// "netns 4026532177 (host)" or "netns 4026532177 [blue]"
std::string describe_netns(const json& where) {
  std::string out = "netns " + (where["netns"].is_number() ? std::to_string(where["netns"].get<unsigned long long>())
                                                           : std::string("?"));
  if (where["host"] == true) out += " (host)";
  if (where["netns_names"].is_array() && !where["netns_names"].empty()) {
    std::string names;
    for (const json& n : where["netns_names"]) {
      if (n.is_string()) names += (names.empty() ? "" : ",") + n.get<std::string>();
    }
    out += " [" + names + "]";
  }
  return out;
}

std::string first_address(const json& device) {
  if (!device.is_object() || !device["addresses"].is_array()) return {};
  for (const json& a : device["addresses"]) {
    if (a.is_object() && a["scope"] == "global" && a["address"].is_string() && a["prefixlen"].is_number()) {
      return " " + a["address"].get<std::string>() + "/" + std::to_string(a["prefixlen"].get<int>());
    }
  }
  return {};
}

// One line per device called NAME:
//   veth1a2b ifindex 7 netns 4026531840 (host) <-> eth0 ifindex 2 netns 4026532500 10.0.0.5/24: docker 3f2a1b0c9d8e
//   web-1
// "02:14" or "02:14:30": that clock time in the local zone, the last time it
// was (today, or yesterday when it is still to come), as RFC 3339; anything
// else goes to netnsd as it is.
std::string instant_text(const std::string& text) {
  int h = 0, m = 0, s = 0;
  char tail = 0;
  const int n = std::sscanf(text.c_str(), "%2d:%2d:%2d%c", &h, &m, &s, &tail);
  const bool clock = (n == 2 && text.size() == 5) || (n == 3 && text.size() == 8);
  if (!clock || h > 23 || m > 59 || s > 59) return text;
  std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  local.tm_hour = h;
  local.tm_min = m;
  local.tm_sec = s;
  local.tm_isdst = -1;
  std::time_t at = std::mktime(&local);
  if (at > now) at -= 86400;
  std::tm utc{};
  ::gmtime_r(&at, &utc);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return out;
}

// What WHAT names: an address, a MAC, else a device.
std::string whois_key(const std::string& what) {
  unsigned char bytes[16];
  if (::inet_pton(AF_INET, what.c_str(), bytes) == 1 || ::inet_pton(AF_INET6, what.c_str(), bytes) == 1) {
    return "address";
  }
  int colons = 0;
  for (char c : what) colons += c == ':';
  if (what.size() == 17 && colons == 5) return "mac";
  return "device";
}

// GET `path`: an object whose `member` is an array, or nullopt once the
// reason has been said (netnsd's error, or an answer of another shape), with
// the exit status in `failed`.
std::optional<json> get_document(httplib::Client& client, const std::string& socket, const std::string& path,
                                 const char* member, int& failed) {
  auto res = client.Get(path);
  if (!res || res->status != 200) {
    failed = report_failure(res, socket);
    return std::nullopt;
  }
  json doc = json::parse(res->body, nullptr, false);
  if (!doc.is_object() || !doc[member].is_array()) {
    std::fprintf(stderr, "netnsctl: unexpected answer from netnsd: %s\n", res->body.substr(0, 200).c_str());
    failed = 1;
    return std::nullopt;
  }
  return doc;
}

// "tcp 0.0.0.0:8080", "udp [::1]%eth0:53", "tcp *:80" (IPv6 and IPv4): a
// socket as `ss` writes its local end.
std::string socket_endpoint(const json& s) {
  std::string address = s.value("address", std::string("?"));
  if (s.value("family", std::string()) == "ipv6") {
    address = address == "::" && s["v6only"] == false ? "*" : "[" + address + "]";
  }
  if (s["device"].is_string()) address += "%" + s["device"].get<std::string>();
  return s.value("protocol", std::string("?")) + " " + address + ":" + std::to_string(s.value("port", 0));
}

// "python3 pid 4242 fd 3 (in netns 4026531840) docker 3f2a1b0c9d8e web-1": who
// holds a socket; their container only when it is not the namespace's own
// (`where`'s, already said).
std::string describe_holders(const json& s, std::uint64_t socket_netns, const json& where = json()) {
  std::string out;
  if (!s["held_by"].is_array()) return out;
  for (const json& h : s["held_by"]) {
    if (!h.is_object()) continue;
    std::string one = h.value("comm", std::string("?")) + " pid " + std::to_string(h.value("pid", 0)) + " fd " +
                      std::to_string(h.value("fd", -1));
    const std::uint64_t netns = h.value("netns", 0ull);
    if (netns != 0 && netns != socket_netns) one += " (in netns " + std::to_string(netns) + ")";
    const json& container = h["container"];
    bool said = false;
    if (container.is_object() && where.is_object() && where["containers"].is_array()) {
      for (const json& c : where["containers"]) said = said || (c.is_object() && c["id"] == container["id"]);
    }
    if (container.is_object() && !said)
      one += " " + describe_containers(json{{"containers", json::array({container})}});
    out += (out.empty() ? "" : "; ") + one;
  }
  const auto total = s.value("held_by_total", 0u);
  if (total > s["held_by"].size()) out += "; and " + std::to_string(total - s["held_by"].size()) + " more";
  return out.empty() ? std::string("held by no process netnsd could see") : "held by " + out;
}

// whois :PORT[/PROTO]: every namespace where something listens on PORT.
int cmd_whois_port(httplib::Client& client, const std::string& socket, const std::string& what) {
  std::string port = what.substr(1), proto;
  if (auto slash = port.find('/'); slash != std::string::npos) {
    proto = port.substr(slash + 1);
    port.resize(slash);
  }
  std::string path = "/v1/whois?port=" + encode_segment(port);
  if (!proto.empty()) path += "&proto=" + encode_segment(proto);
  int failed = 0;
  auto found = get_document(client, socket, path, "matches", failed);
  if (!found) return failed;
  const json& doc = *found;
  for (const json& m : doc["matches"]) {
    if (!m.is_object() || !m["socket"].is_object()) continue;
    std::string line = socket_endpoint(m["socket"]) + " " + describe_netns(m);
    if (std::string who = describe_containers(m); !who.empty()) line += ": " + who;
    line += ": " + describe_holders(m["socket"], m.value("netns", 0ull), m);
    std::cout << line << '\n';
  }
  if (doc["matches"].empty()) {
    std::fprintf(stderr, "netnsctl: nothing listens on port %s in the %llu namespaces listed\n", port.c_str(),
                 doc.value("namespaces_examined", 0ull));
    // What the firewall does with the port instead (a hostPort, a NodePort).
    const json& firewall = doc["firewall"];
    if (firewall.is_object() && firewall["rules"].is_array()) {
      for (const json& r : firewall["rules"]) {
        if (!r.is_object()) continue;
        std::cout << "firewall: " << r.value("protocol", std::string("any")) << " port " << r.value("port", 0)
                  << " matched by rule " << r.value("handle", 0ull) << " of " << r.value("family", std::string("?"))
                  << " " << r.value("table", std::string("?")) << " " << r.value("chain", std::string("?")) << " "
                  << describe_netns(r) << '\n';
      }
    }
  }
  if (doc.value("complete", true) == false) {
    std::fprintf(stderr, "netnsctl: incomplete: %llu namespaces not listed in time, %zu could not be listed\n",
                 doc.value("namespaces_unexamined", 0ull), doc["errors"].is_array() ? doc["errors"].size() : 0);
  }
  return 0;
}

// The arguments of a command that reads one namespace: NETNS [--json].
// Returns 0, or the usage error's status.
int netns_and_json(const std::string& command, const std::vector<std::string>& args, std::string& which, bool& raw) {
  for (const std::string& a : args) {
    if (a == "--json") {
      raw = true;
    } else if (which.empty()) {
      which = a;
    } else {
      return usage_error(command + " takes one NETNS");
    }
  }
  if (which.empty()) return usage_error(command + " needs a NETNS (an inode or a bind-mount name)");
  return 0;
}

// sockets NETNS: its listening sockets, who holds them, and the others counted.
int cmd_sockets(httplib::Client& client, const std::string& socket, const std::vector<std::string>& args) {
  bool raw = false;
  std::string which;
  if (int bad = netns_and_json("sockets", args, which, raw)) return bad;
  int failed = 0;
  auto found =
      get_document(client, socket, "/v1/namespaces/" + encode_segment(which) + "/sockets", "listening", failed);
  if (!found) return failed;
  const json& doc = *found;
  if (raw) {
    std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
    return 0;
  }
  const std::uint64_t netns = doc.value("netns", 0ull);
  for (const json& s : doc["listening"]) {
    if (s.is_object()) std::cout << socket_endpoint(s) << " " << describe_holders(s, netns) << '\n';
  }
  if (doc["others"].is_object()) {
    for (const auto& [protocol, states] : doc["others"].items()) {
      std::string line = protocol + ":";
      for (const auto& [state, count] : states.items()) line += " " + state + " " + count.dump();
      std::cout << line << '\n';
    }
  }
  return 0;
}

// conntrack NETNS and firewall NETNS: read from the kernel now.
int cmd_netfilter(httplib::Client& client, const std::string& socket, const std::string& what,
                  const std::vector<std::string>& args) {
  bool raw = false;
  std::string which;
  if (int bad = netns_and_json(what, args, which, raw)) return bad;
  int failed = 0;
  auto found = get_document(client, socket, "/v1/namespaces/" + encode_segment(which) + "/" + what, "netns", failed);
  if (!found) return failed;
  const json& doc = *found;
  if (raw) {
    std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
    return 0;
  }
  if (what == "conntrack") {
    if (!doc.value("loaded", false)) {
      std::cout << "conntrack: not loaded (netnsd does not load it by asking)\n";
    } else {
      std::cout << "conntrack: " << doc.value("entries", 0ull) << " entries of nf_conntrack_max "
                << doc.value("max", 0ull) << " (one value for the whole machine)"
                << (doc.value("nearly_full", false) ? ": NEARLY FULL" : "") << '\n';
    }
    return 0;
  }
  if (doc["nftables"].is_object() && doc["nftables"]["tables"].is_array()) {
    for (const json& t : doc["nftables"]["tables"]) {
      if (!t.is_object()) continue;
      std::cout << "table " << t.value("family", std::string("?")) << " " << t.value("name", std::string("?")) << '\n';
      for (const json& c : t["chains"]) {
        if (!c.is_object()) continue;
        std::cout << "  chain " << c.value("name", std::string("?"));
        if (c["hook"].is_string()) {
          std::cout << " (" << c.value("type", std::string("?")) << " hook " << c["hook"].get<std::string>()
                    << " priority " << c.value("priority", 0) << " policy " << c.value("policy", std::string("?"))
                    << ")";
        }
        std::cout << ": " << c.value("rules", 0ull) << " rules\n";
      }
    }
  }
  for (const json& t : doc["iptables_legacy"]) {
    if (!t.is_object()) continue;
    std::cout << "legacy " << (t.value("family", std::string()) == "ipv6" ? "ip6tables " : "iptables ")
              << t.value("table", std::string("?")) << ": " << t.value("rules", 0ull) << " rules, "
              << t.value("user_chains", 0ull) << " user chains\n";
  }
  return 0;
}

int cmd_whois(httplib::Client& client, const std::string& socket, const std::vector<std::string>& args) {
  std::string what, at;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--at") {
      if (i + 1 >= args.size()) return usage_error("--at needs a TIME");
      at = instant_text(args[++i]);
    } else if (what.empty()) {
      what = args[i];
    } else {
      return usage_error("whois takes one WHAT");
    }
  }
  if (what.empty()) return usage_error("whois needs a WHAT (a device name, an address, a MAC or :PORT)");
  if (what[0] == ':') {
    if (!at.empty()) return usage_error("a port has no --at: sockets are never recorded, only listed now");
    return cmd_whois_port(client, socket, what);
  }
  std::string path = "/v1/whois?" + whois_key(what) + "=" + encode_segment(what);
  if (!at.empty()) path += "&at=" + encode_segment(at);
  int failed = 0;
  auto found = get_document(client, socket, path, "matches", failed);
  if (!found) return failed;
  const json& doc = *found;
  for (const json& m : doc["matches"]) {
    if (!m.is_object() || !m["device"].is_object()) continue;
    const json& d = m["device"];
    std::string line = d.value("name", std::string("?")) + " ifindex " + std::to_string(d.value("ifindex", 0)) + " " +
                       describe_netns(m) + first_address(d);
    std::string who = describe_containers(m);
    const json& peer = m["peer"];
    if (peer.is_object() && peer["device"].is_object()) {
      line += " <-> " + peer["device"].value("name", std::string("?")) + " ifindex " +
              std::to_string(peer["device"].value("ifindex", 0)) + " " + describe_netns(peer) +
              first_address(peer["device"]);
      if (std::string theirs = describe_containers(peer); !theirs.empty()) who = theirs;
    } else if (d["peer"].is_object()) {
      line += " <-> ifindex " + std::to_string(d["peer"].value("ifindex", 0)) + " in a namespace netnsd does not hold";
    }
    const json& lower = m["lower"];
    if (lower.is_object() && lower["device"].is_object()) {
      line += " on " + lower["device"].value("name", std::string("?")) + " " + describe_netns(lower);
    }
    if (!who.empty()) line += ": " + who;
    if (m.contains("held_from") && m["held_from"].is_string()) {
      const bool ended = m.contains("held_until") && m["held_until"].is_string();
      line += " (from " + m["held_from"].get<std::string>() + " until " +
              (ended ? m["held_until"].get<std::string>() : std::string("now")) +
              (m.value("end_observed", true) ? "" : ", its end not seen") + ")";
    }
    std::cout << line << '\n';
  }
  return 0;
}

// One field of a device, for a change line: "9000", "up", "ifindex 4 netns 4026532500".
std::string field_text(const json& device, const std::string& field) {
  if (!device.is_object() || !device.contains(field)) return "?";
  const json& v = device[field];
  if (v.is_null()) return "none";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {
    std::string out = "ifindex " + std::to_string(v.value("ifindex", 0));
    if (v["netns"].is_number()) out += " netns " + std::to_string(v["netns"].get<unsigned long long>());
    return out;
  }
  return v.dump();
}

// One change as a readable line: time, sequence number, type, namespace,
// then what is particular to the type.
std::string describe_event(const json& e, bool with_day = false) {
  const std::string type = e.value("type", std::string("?"));
  std::string time = e.value("time", std::string());
  if (auto t = time.find('T'); t != std::string::npos && !with_day)
    time = time.substr(t + 1);  // a watch's day is today
  if (!time.empty() && time.back() == 'Z') time.pop_back();
  if (type == "lost") return time + " lost " + std::to_string(e.value("count", 0ull)) + " changes (reading too slowly)";
  char head[96];
  std::snprintf(head, sizeof head, "%s #%llu %-15s %llu", time.c_str(), e.value("seq", 0ull), type.c_str(),
                e.value("netns", 0ull));
  std::string line = head;
  auto names = [&] {
    std::string out;
    for (const json& n : e["names"]) {
      if (n.is_string()) out += (out.empty() ? "" : ",") + n.get<std::string>();
    }
    return out.empty() ? std::string() : " [" + out + "]";
  };
  if (type.rfind("netns_", 0) == 0) {
    line += names() + " (" + e.value("discovered_by", std::string("?")) + ")";
    if (type == "netns_changed") {
      for (const json& f : e["changed"]) {
        if (f == "lonely") line += e["lonely_since"].is_null() ? " no longer lonely" : " lonely";
        if (f == "names") line += " names changed";
        if (f == "containers") {
          const std::string now = describe_containers(e);
          line += now.empty() ? " no container" : " containers: " + now;
        }
      }
    }
    if (type == "netns_removed") line += " " + e.value("reason", std::string());
  } else if (type.rfind("device_", 0) == 0) {
    const json& d = e["device"];
    line += " " + field_text(d, "name") + " ifindex " + field_text(d, "ifindex");
    if (type == "device_added" && d.is_object()) {
      if (d["kind"].is_string() && !d["kind"].get<std::string>().empty()) line += " " + d["kind"].get<std::string>();
      if (d["peer"].is_object()) line += " peer " + field_text(d, "peer");
    }
    if (type == "device_changed") {
      for (const json& f : e["changed"]) {
        if (!f.is_string()) continue;
        const std::string field = f.get<std::string>();
        line += " " + field + " " + field_text(e["old"], field) + " -> " + field_text(d, field);
      }
    }
    if (type == "device_removed" && e["moved_to"].is_object()) {
      const json& to = e["moved_to"];
      line += " moved to " +
              (to["netns"].is_number() ? "netns " + field_text(to, "netns") : "nsid " + field_text(to, "nsid")) +
              " as ifindex " + field_text(to, "ifindex");
    }
  } else if (type.rfind("address_", 0) == 0) {
    const json& a = e["address"];
    line += " " + field_text(e["device"], "name") + " " + field_text(a, "address") + "/" + field_text(a, "prefixlen");
    if (a.is_object() && a["flags"].is_array()) {
      for (const json& f : a["flags"]) {
        if (f.is_string() && f != "permanent") line += " " + f.get<std::string>();
      }
    }
  } else if (type.rfind("route_", 0) == 0) {
    const json r = e.value("route", json());
    line += " " + field_text(r, "dst");
    if (r.is_object() && r["gateway"].is_string()) line += " via " + r["gateway"].get<std::string>();
    line += " dev " + field_text(r, "dev") + " table " + field_text(r, "table");
  } else if (type.rfind("rule_", 0) == 0) {
    const json r = e.value("rule", json());
    line += " priority " + field_text(r, "priority") + " from " + field_text(r, "src") + " to " + field_text(r, "dst") +
            " " + field_text(r, "action") + " table " + field_text(r, "table");
  } else if (type.rfind("neighbour_", 0) == 0) {
    const json n = e.value("neighbour", json());
    line += " " + field_text(n, "dst") + " lladdr " + field_text(n, "lladdr") + " dev " + field_text(n, "dev");
    if (n.is_object() && n["state"].is_array()) {
      for (const json& state : n["state"]) {
        if (state.is_string()) line += " " + state.get<std::string>();
      }
    }
  }
  return line;
}

// Lines go out whole, each in one write(): Ctrl-C ends the program between
// two of them.
void write_line(const std::string& line) {
  std::string out = line;
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(STDOUT_FILENO, out.data() + done, out.size() - done);
    if (n <= 0) std::_Exit(errno == EPIPE ? 0 : 1);  // the reader went away (| head): done
    done += static_cast<std::size_t>(n);
  }
}

// GETs `path` and hands each line of a 200 answer (NDJSON) to `on_line`,
// as it arrives; the answer's status is in `status`, and an error's body in
// `error_body`.
httplib::Result get_lines(httplib::Client& client, const std::string& path, int& status, std::string& error_body,
                          const std::function<void(const std::string&)>& on_line) {
  std::string pending;
  return client.Get(
      path,
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, std::size_t size) {
        if (status != 200) {
          error_body.append(data, std::min<std::size_t>(size, 4096));
          return true;
        }
        pending.append(data, size);
        for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
          const std::string text = pending.substr(0, nl);
          pending.erase(0, nl + 1);
          on_line(text);
        }
        return true;
      });
}

int cmd_watch(httplib::Client& client, const std::string& socket, const std::vector<std::string>& args) {
  bool raw = false;
  std::string query;
  auto add = [&](const std::string& key, const std::string& value) {
    query += (query.empty() ? "?" : "&") + key + "=" + encode_segment(value);
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      raw = true;
    } else if (a == "--netns" || a == "--type" || a == "--since") {
      if (i + 1 >= args.size()) return usage_error(a + " needs a value");
      add(a.substr(2), args[++i]);
    } else {
      return usage_error("unknown watch option '" + a + "'");
    }
  }
  // Ctrl-C ends the watch: with status 0, between two lines.
  std::signal(SIGINT, [](int) { std::_Exit(0); });
  // The stream says it is alive every 15 s; a minute of silence is a dead server.
  client.set_read_timeout(60);
  int status = 0;
  std::string error_body;
  auto res = get_lines(client, "/v1/events" + query, status, error_body, [&](const std::string& text) {
    if (raw) return write_line(text);
    json e = json::parse(text, nullptr, false);
    if (!e.is_object() || e["type"] == "heartbeat" || e["type"] == "subscribed") return;
    write_line(describe_event(e));
  });
  if (res && status != 200) {
    res->body = error_body;
    return report_failure(res, socket);
  }
  if (!res) return report_failure(res, socket);
  std::fprintf(stderr, "netnsctl: the change stream ended (netnsd stopped)\n");
  return 1;
}

// The journal, copied whole while netnsd runs, into FILE (made 0600, never
// over an existing file), with its SHA-256 checked against netnsd's.
int cmd_history_export(httplib::Client& client, const std::string& socket, const std::vector<std::string>& args) {
  if (args.size() != 1) return usage_error("history export needs one FILE");
  const std::string& path = args[0];
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::fprintf(stderr, "netnsctl: cannot create %s: %s\n", path.c_str(), std::strerror(errno));
    return 1;
  }
  netnsd::Sha256 digest;
  std::size_t size = 0;
  int status = 0;
  bool write_failed = false;
  std::string error_body, expected;
  auto res = client.Get(
      "/v1/history/export",
      [&](const httplib::Response& r) {
        status = r.status;
        expected = r.get_header_value("X-Content-SHA256");
        return true;
      },
      [&](const char* data, std::size_t n) {
        if (status != 200) {
          error_body.append(data, std::min<std::size_t>(n, 4096));
          return true;
        }
        digest.update(data, n);
        size += n;
        for (std::size_t done = 0; done < n;) {
          const ssize_t w = ::write(fd, data + done, n - done);
          if (w <= 0) {
            write_failed = true;
            return false;
          }
          done += static_cast<std::size_t>(w);
        }
        return true;
      });
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  const std::string got = digest.hex();
  if (!res || status != 200 || write_failed || !synced || got != expected) {
    ::unlink(path.c_str());
    if (write_failed || !synced) {
      std::fprintf(stderr, "netnsctl: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
      return 1;
    }
    if (res && status == 200) {
      std::fprintf(stderr, "netnsctl: the copy's SHA-256 %s is not netnsd's %s\n", got.c_str(), expected.c_str());
      return 1;
    }
    if (res) res->body = error_body;
    return report_failure(res, socket);
  }
  std::printf("%s: %zu bytes, sha256 %s\n", path.c_str(), size, got.c_str());
  return 0;
}

int cmd_history(httplib::Client& client, const std::string& socket, const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "export") {
    return cmd_history_export(client, socket, std::vector<std::string>(args.begin() + 1, args.end()));
  }
  bool raw = false;
  std::string query;
  auto add = [&](const std::string& key, const std::string& value) {
    query += (query.empty() ? "?" : "&") + key + "=" + encode_segment(value);
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      raw = true;
    } else if (a == "--netns" || a == "--device" || a == "--address" || a == "--mac" || a == "--container" ||
               a == "--from" || a == "--to") {
      if (i + 1 >= args.size()) return usage_error(a + " needs a value");
      const std::string& value = args[++i];
      add(a.substr(2), a == "--from" || a == "--to" ? instant_text(value) : value);
    } else {
      return usage_error("unknown history option '" + a + "'");
    }
  }
  int status = 0;
  std::string error_body;
  auto res = get_lines(client, "/v1/history" + query, status, error_body, [&](const std::string& text) {
    if (raw) return write_line(text);
    json e = json::parse(text, nullptr, false);
    if (!e.is_object()) return;
    if (e["type"] == "gap") {
      write_line("-- nothing observed from " + e.value("from", std::string("?")) + " to " +
                 e.value("to", std::string("?")) + " (" + e.value("reason", std::string("?")) + ")");
    } else {
      write_line(describe_event(e, /*with_day=*/true));
    }
  });
  if (!res || status != 200) {
    if (res) res->body = error_body;
    return report_failure(res, socket);
  }
  return 0;
}

// One side of a diff: a dump file, or an instant netnsd answers for.
struct DiffSide {
  std::string arg;
  bool file = false;
};

// A file when one is there, or when it looks like one (a path, a .json
// name): a time never has a '/'.
DiffSide diff_side(const std::string& arg) {
  struct stat st {};
  const bool exists = arg != "now" && ::stat(arg.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
  const bool looks =
      arg.find('/') != std::string::npos || (arg.size() > 5 && arg.compare(arg.size() - 5, 5, ".json") == 0);
  return DiffSide{arg, exists || looks};
}

// A dump document from a file, or nullopt (said why).
std::optional<json> read_document(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "netnsctl: cannot read %s: %s\n", path.c_str(), std::strerror(errno));
    return std::nullopt;
  }
  json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    std::fprintf(stderr, "netnsctl: %s is not a JSON dump\n", path.c_str());
    return std::nullopt;
  }
  return doc;
}

// The cache at an instant ("now": as it is) as a dump document, from netnsd.
std::optional<json> fetch_document(httplib::Client& client, const std::string& socket, const std::string& arg) {
  json body{{"output", "stream"}};
  if (arg != "now") body["at"] = instant_text(arg);
  auto res = client.Post("/v1/dump", body.dump(), "application/json");
  if (!res || res->status != 200) {
    report_failure(res, socket);
    return std::nullopt;
  }
  json doc = json::parse(res->body, nullptr, false);
  if (doc.is_discarded()) {
    std::fprintf(stderr, "netnsctl: netnsd's dump is not JSON\n");
    return std::nullopt;
  }
  return doc;
}

int cmd_diff(httplib::Client& client, const std::string& socket, const std::vector<std::string>& args) {
  bool raw = false;
  std::vector<DiffSide> sides;
  for (const std::string& a : args) {
    if (a == "--json") {
      raw = true;
    } else if (a.size() > 1 && a[0] == '-' && a[1] == '-') {
      return usage_error("unknown diff option '" + a + "'");
    } else {
      sides.push_back(diff_side(a));
    }
  }
  if (sides.empty() || sides.size() > 2) return usage_error("diff compares A with B (default: now)");
  if (sides.size() == 1) sides.push_back(DiffSide{"now", false});

  nlohmann::ordered_json diff;
  if (!sides[0].file && !sides[1].file && sides[0].arg != "now") {
    // Two instants: netnsd compares them from its journal.
    std::string path = "/v1/diff?from=" + encode_segment(instant_text(sides[0].arg));
    if (sides[1].arg != "now") path += "&to=" + encode_segment(instant_text(sides[1].arg));
    auto res = client.Get(path);
    if (!res || res->status != 200) return report_failure(res, socket);
    diff = nlohmann::ordered_json::parse(res->body, nullptr, false);
    if (diff.is_discarded() || !diff.is_object() || !diff.contains("changes")) {
      std::fprintf(stderr, "netnsctl: unexpected answer from netnsd: %s\n", res->body.substr(0, 200).c_str());
      return 1;
    }
  } else {
    // A file on either side: compared here (a file may come from another host).
    std::optional<json> docs[2];
    for (int k = 0; k < 2; ++k) {
      docs[k] = sides[k].file ? read_document(sides[k].arg) : fetch_document(client, socket, sides[k].arg);
      if (!docs[k]) return 1;
    }
    auto compared = netnsd::diff_documents(*docs[0], *docs[1]);
    if (!compared) {
      std::fprintf(stderr, "netnsctl: cannot compare: %s\n", compared.error().context.c_str());
      return 1;
    }
    diff = std::move(*compared);
  }
  if (raw) {
    std::cout << diff.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
  } else {
    std::cout << netnsd::diff_to_text(diff);
  }
  return 0;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string socket = std::getenv("NETNSD_SOCKET") ? std::getenv("NETNSD_SOCKET") : netnsd::defaults::kSocketPath;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    if (args[i] == "--socket") {
      if (i + 1 >= args.size()) return usage_error("--socket needs a path");
      socket = args[++i];
    } else if (args[i].rfind("--socket=", 0) == 0) {
      socket = args[i].substr(9);
    } else if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kUsage.c_str(), stdout);
      return 0;
    } else if (args[i] == "--version") {
      std::printf("netnsctl %s\n", netnsd::kVersion);
      return 0;
    } else {
      break;
    }
  }
  if (i >= args.size()) return usage_error("missing command");
  const std::string command = args[i++];
  std::vector<std::string> rest(args.begin() + static_cast<long>(i), args.end());

  httplib::Client client(socket);
  client.set_address_family(AF_UNIX);
  client.set_connection_timeout(5);
  client.set_read_timeout(600);  // a snapshot of thousands of namespaces takes a while

  if (command == "dump") return cmd_dump(client, socket, rest);
  if (command == "watch") return cmd_watch(client, socket, rest);
  if (command == "diff") return cmd_diff(client, socket, rest);
  if (command == "sockets") return cmd_sockets(client, socket, rest);
  if (command == "conntrack" || command == "firewall") return cmd_netfilter(client, socket, command, rest);
  if (!rest.empty() && command != "get" && command != "whois" && command != "history") {
    return usage_error("'" + command + "' takes no arguments");
  }
  if (command == "whois") return cmd_whois(client, socket, rest);
  if (command == "history") return cmd_history(client, socket, rest);
  if (command == "health") return cmd_health(client, socket);
  if (command == "ls") return cmd_ls(client, socket);
  if (command == "get") {
    if (rest.size() != 1) return usage_error("get needs exactly one NETNS");
    return cmd_get(client, socket, rest[0]);
  }
  return usage_error("unknown command '" + command + "'");
}

}  // namespace

int main(int argc, char** argv) {
  // A server that closes before reading all of a request must not kill us
  // (SIGPIPE): the write fails, and the failure is reported.
  ::signal(SIGPIPE, SIG_IGN);
  // An answer of an unexpected shape (another server on the socket, a newer
  // netnsd) is an error to report, never an uncaught exception.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "netnsctl: unexpected answer from netnsd: %s\n", e.what());
    return 1;
  }
}
