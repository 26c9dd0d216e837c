#include "history/records.h"

#include <arpa/inet.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace netnsd::history {
namespace {

using nlohmann::json;

json link_json(const LinkRef& link) {
  json j{{"i", link.ifindex}};
  if (link.netns) j["n"] = *link.netns;
  if (link.nsid) j["s"] = *link.nsid;
  return j;
}

LinkRef link_from(const json& j) {
  LinkRef link;
  link.ifindex = j.at("i").get<std::uint32_t>();
  if (j.contains("n")) link.netns = j["n"].get<NetnsId>();
  if (j.contains("s")) link.nsid = j["s"].get<std::int32_t>();
  return link;
}

std::optional<OperState> operstate_from(const std::string& text) {
  for (auto s : {OperState::unknown, OperState::notpresent, OperState::down, OperState::lowerlayerdown,
                 OperState::testing, OperState::dormant, OperState::up}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

std::string bytes_text(std::uint8_t family, const std::array<std::uint8_t, 16>& bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<std::array<std::uint8_t, 16>> text_bytes(std::uint8_t family, const std::string& text) {
  std::array<std::uint8_t, 16> out{};
  if (::inet_pton(family, text.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

bool valid_utf8(const std::string& s) {
  try {
    (void)json(s).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

// Names chosen by users may hold any bytes, and JSON text must be UTF-8: a
// string that is not is kept as {"~": its bytes in hex}, and read back as
// the same bytes.
void wrap_bytes(json& j) {
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (valid_utf8(s)) return;
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned char c : s) {
      hex += kHex[c >> 4];
      hex += kHex[c & 15];
    }
    j = json{{"~", hex}};
  } else if (j.is_structured()) {
    for (auto& item : j) wrap_bytes(item);
  }
}

void unwrap_bytes(json& j) {
  if (j.is_object() && j.size() == 1 && j.contains("~") && j["~"].is_string()) {
    const std::string hex = j["~"].get<std::string>();
    std::string bytes;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
      bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    }
    j = bytes;
  } else if (j.is_structured()) {
    for (auto& item : j) unwrap_bytes(item);
  }
}

std::string dump(json j) {
  wrap_bytes(j);
  return j.dump();
}

template <class F>
auto parse_or(const std::string& text, F fn) -> decltype(fn(json{})) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return {};
  try {
    unwrap_bytes(j);
    return fn(j);
  } catch (const std::exception&) {  // a field missing or of another type: not a record of ours
    return {};
  }
}

}  // namespace

std::string device_record(const Device& d) {
  json j{{"i", d.ifindex}, {"n", d.name}, {"m", d.mtu}, {"u", d.up}, {"o", to_string(d.operstate)}};
  if (!d.kind.empty()) j["k"] = d.kind;
  if (!d.mac.empty()) j["a"] = d.mac;
  if (d.carrier) j["c"] = *d.carrier;
  if (d.master) j["M"] = *d.master;
  if (d.peer) j["p"] = link_json(*d.peer);
  if (d.lower) j["l"] = link_json(*d.lower);
  return dump(j);
}

std::optional<Device> device_from_record(const std::string& text) {
  return parse_or(text, [](const json& j) -> std::optional<Device> {
    Device d;
    d.ifindex = j.at("i").get<std::uint32_t>();
    d.name = j.at("n").get<std::string>();
    d.mtu = j.at("m").get<std::uint32_t>();
    d.up = j.at("u").get<bool>();
    auto state = operstate_from(j.at("o").get<std::string>());
    if (!state) return std::nullopt;
    d.operstate = *state;
    d.kind = j.value("k", "");
    d.mac = j.value("a", "");
    if (j.contains("c")) d.carrier = j["c"].get<bool>();
    if (j.contains("M")) d.master = j["M"].get<std::uint32_t>();
    if (j.contains("p")) d.peer = link_from(j["p"]);
    if (j.contains("l")) d.lower = link_from(j["l"]);
    return d;
  });
}

std::string address_record(const Address& a) {
  json j{{"f", a.family}, {"p", a.prefix_len}, {"s", a.scope}, {"F", a.flags}, {"a", bytes_text(a.family, a.local)}};
  if (a.peer) j["P"] = bytes_text(a.family, *a.peer);
  if (!a.label.empty()) j["l"] = a.label;
  return dump(j);
}

std::optional<Address> address_from_record(const std::string& text) {
  return parse_or(text, [](const json& j) -> std::optional<Address> {
    Address a;
    a.family = j.at("f").get<std::uint8_t>();
    if (a.family != AF_INET && a.family != AF_INET6) return std::nullopt;
    a.prefix_len = j.at("p").get<std::uint8_t>();
    a.scope = j.at("s").get<std::uint8_t>();
    a.flags = j.at("F").get<std::uint32_t>();
    auto local = text_bytes(a.family, j.at("a").get<std::string>());
    if (!local) return std::nullopt;
    a.local = *local;
    if (j.contains("P")) {
      a.peer = text_bytes(a.family, j["P"].get<std::string>());
      if (!a.peer) return std::nullopt;
    }
    a.label = j.value("l", "");
    return a;
  });
}

std::string names_record(const std::vector<std::string>& names) {
  return dump(json(names));
}

std::vector<std::string> names_from_record(const std::string& text) {
  return parse_or(text, [](const json& j) { return j.get<std::vector<std::string>>(); });
}

std::string containers_record(const std::vector<ContainerRef>& containers) {
  json out = json::array();
  for (const ContainerRef& c : containers) {
    json j{{"r", c.runtime}, {"i", c.id}};
    if (!c.pod_uid.empty()) j["u"] = c.pod_uid;
    if (c.cgroup_owner) j["o"] = *c.cgroup_owner;
    if (!c.name.empty()) j["n"] = c.name;
    if (!c.pod_name.empty()) j["p"] = c.pod_name;
    if (!c.pod_namespace.empty()) j["s"] = c.pod_namespace;
    out.push_back(std::move(j));
  }
  return dump(out);
}

std::vector<ContainerRef> containers_from_record(const std::string& text) {
  return parse_or(text, [](const json& list) {
    std::vector<ContainerRef> out;
    for (const json& j : list) {
      ContainerRef c;
      c.runtime = j.at("r").get<std::string>();
      c.id = j.at("i").get<std::string>();
      c.pod_uid = j.value("u", "");
      if (j.contains("o")) c.cgroup_owner = j["o"].get<std::uint32_t>();
      c.name = j.value("n", "");
      c.pod_name = j.value("p", "");
      c.pod_namespace = j.value("s", "");
      out.push_back(std::move(c));
    }
    return out;
  });
}

std::string processes_record(const std::vector<ProcessInfo>& processes) {
  json out = json::array();
  for (const ProcessInfo& p : processes) {
    json j{{"p", p.pid}, {"c", p.comm}};
    if (p.container) j["i"] = p.container->id;
    out.push_back(std::move(j));
  }
  return dump(out);
}

std::vector<ProcessInfo> processes_from_record(const std::string& text, const std::vector<ContainerRef>& containers) {
  return parse_or(text, [&](const json& list) {
    std::vector<ProcessInfo> out;
    for (const json& j : list) {
      ProcessInfo p;
      p.pid = j.at("p").get<std::uint32_t>();
      p.comm = j.at("c").get<std::string>();
      if (j.contains("i")) {
        const std::string id = j["i"].get<std::string>();
        auto c = std::find_if(containers.begin(), containers.end(), [&](const ContainerRef& r) { return r.id == id; });
        if (c != containers.end()) {
          p.container = *c;
        } else {
          p.container = ContainerRef{};
          p.container->id = id;
        }
      }
      out.push_back(std::move(p));
    }
    return out;
  });
}

std::optional<Source> source_from_text(const std::string& text) {
  for (auto s : {Source::procfs, Source::bind_mount, Source::ebpf, Source::netlink}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

std::int64_t to_micros(WallTime t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

WallTime from_micros(std::int64_t us) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::microseconds(us)));
}

}  // namespace netnsd::history
