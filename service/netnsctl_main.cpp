// netnsctl: the command-line client of netnsd's Unix-socket API.
#include <httplib.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/defaults.h"
#include "util/version.h"

namespace {

using nlohmann::json;

const std::string kUsage = std::string(R"(Usage: netnsctl [--socket PATH] COMMAND

Commands:
  dump [--snapshot-interfaces] [--stream [--format json|dot]] [--schema netnsd|datadog] [--netns ID]...
        dump the cache to files (prints their paths) or, with --stream, to stdout
  health            check that netnsd answers
  ls                list cached namespaces
  get NETNS         show one namespace (inode or bind-mount name) as JSON
  whois NAME        every device called NAME: its namespace, its veth peer and the containers behind them

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
    } else if (a == "--format" || a == "--schema") {
      const std::string* v = value();
      if (!v) return usage_error(a + " needs a value");
      body[a.substr(2)] = *v;
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
int cmd_whois(httplib::Client& client, const std::string& socket, const std::string& name) {
  auto res = client.Get("/v1/devices/" + encode_segment(name));
  if (!res || res->status != 200) return report_failure(res, socket);
  json doc = json::parse(res->body, nullptr, false);
  if (!doc.is_object() || !doc["matches"].is_array()) {
    std::fprintf(stderr, "netnsctl: unexpected answer from netnsd: %s\n", res->body.substr(0, 200).c_str());
    return 1;
  }
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
    std::cout << line << '\n';
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
  if (!rest.empty() && command != "get" && command != "whois") {
    return usage_error("'" + command + "' takes no arguments");
  }
  if (command == "whois") {
    if (rest.size() != 1) return usage_error("whois needs exactly one NAME");
    return cmd_whois(client, socket, rest[0]);
  }
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
