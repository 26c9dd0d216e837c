#include "diff/document_diff.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace netnsd {
namespace {

using json = nlohmann::json;
using ordered = nlohmann::ordered_json;

// A document reduced to what is compared. Fields are JSON objects so that
// the two schemas can carry different sets of them.
struct DeviceFacts {
  std::string name;
  json fields = json::object();
  std::map<std::string, json> addresses;  // "10.0.0.1/24" -> {scope, flags}
};

struct NamespaceFacts {
  std::uint64_t netns = 0;
  std::optional<std::uint64_t> cookie;
  std::vector<std::string> names;
  std::vector<std::string> label;  // the names to show: these, or the other side's when these are none
  json fields = json::object();
  std::map<std::uint32_t, DeviceFacts> devices;
  std::optional<std::map<std::string, json>> containers;  // unset: the schema has none
};

struct Facts {
  ordered instant;
  bool addresses = true;  // the schema carries addresses (datadog's does not)
  std::map<std::uint64_t, NamespaceFacts> namespaces;
};

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// A value of an expected type, or nullopt.
std::optional<std::uint64_t> unsigned_of(const json* v) {
  if (!v || !v->is_number_integer()) return std::nullopt;
  if (v->is_number_unsigned()) return v->get<std::uint64_t>();
  const auto n = v->get<std::int64_t>();
  if (n < 0) return std::nullopt;
  return static_cast<std::uint64_t>(n);
}

std::string text_of(const json* v) {
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

json copy_or_null(const json* v) {
  return v ? *v : json();
}

// peer and lower: where the other end is, without the nsid (a number local
// to the namespace that reads it).
json link_of(const json* v) {
  if (!v || !v->is_object()) return json();
  return json{{"ifindex", copy_or_null(member(*v, "ifindex"))}, {"netns", copy_or_null(member(*v, "netns"))}};
}

Result<Facts> netnsd_facts(const json& doc) {
  Facts facts;
  const json* at = member(doc, "at");
  if (!at) at = member(doc, "generated_at");
  const json* host = member(doc, "host");
  facts.instant = ordered{{"at", copy_or_null(at)},
                          {"observed", member(doc, "observed") ? *member(doc, "observed") : json(true)},
                          {"gap", copy_or_null(member(doc, "gap"))},
                          {"schema", "netnsd"},
                          {"hostname", host ? copy_or_null(member(*host, "hostname")) : json()}};
  const json* list = member(doc, "namespaces");
  if (!list || !list->is_array()) return Error::logic("the document has no \"namespaces\" array");
  for (const json& ns : *list) {
    auto inode = unsigned_of(member(ns, "netns"));
    if (!inode) return Error::logic("a namespace without a numeric \"netns\"");
    NamespaceFacts f;
    f.netns = *inode;
    f.cookie = unsigned_of(member(ns, "netns_cookie"));
    if (const json* names = member(ns, "names"); names && names->is_array()) {
      for (const json& n : *names) {
        if (n.is_string()) f.names.push_back(n.get<std::string>());
      }
      std::sort(f.names.begin(), f.names.end());
    }
    f.fields["names"] = f.names;
    f.fields["lonely"] = member(ns, "lonely_since") && !member(ns, "lonely_since")->is_null();
    for (const char* key : {"owner_uid", "host_owned", "userns", "devices_over_cap"}) {
      if (const json* v = member(ns, key)) f.fields[key] = *v;
    }
    if (const json* devices = member(ns, "devices"); devices && devices->is_array()) {
      for (const json& d : *devices) {
        auto ifindex = unsigned_of(member(d, "ifindex"));
        if (!ifindex || *ifindex > UINT32_MAX) return Error::logic("a device without a numeric \"ifindex\"");
        DeviceFacts dev;
        dev.name = text_of(member(d, "name"));
        dev.fields["name"] = dev.name;
        for (const char* key : {"kind", "mac", "mtu", "up", "operstate", "carrier", "master"}) {
          if (const json* v = member(d, key)) dev.fields[key] = *v;
        }
        dev.fields["peer"] = link_of(member(d, "peer"));
        dev.fields["lower"] = link_of(member(d, "lower"));
        if (const json* addresses = member(d, "addresses"); addresses && addresses->is_array()) {
          for (const json& a : *addresses) {
            const std::string key = text_of(member(a, "address")) + "/" + copy_or_null(member(a, "prefixlen")).dump();
            dev.addresses[key] = json{{"scope", copy_or_null(member(a, "scope"))},
                                      {"flags", copy_or_null(member(a, "flags"))},
                                      {"peer", copy_or_null(member(a, "peer"))}};
          }
        }
        f.devices[static_cast<std::uint32_t>(*ifindex)] = std::move(dev);
      }
    }
    if (const json* containers = member(ns, "containers"); containers && containers->is_array()) {
      f.containers.emplace();
      for (const json& c : *containers) {
        json fields = json::object();
        for (const char* key : {"runtime", "name", "pod_uid", "pod_name", "pod_namespace"}) {
          fields[key] = copy_or_null(member(c, key));
        }
        (*f.containers)[text_of(member(c, "id"))] = std::move(fields);
      }
    }
    facts.namespaces[f.netns] = std::move(f);
  }
  return facts;
}

// The seed's layout: NsID, LonelyTimeout (Go's zero time when not lonely),
// Devices [{IfName, IfIndex}] or null.
Result<Facts> datadog_facts(const json& doc) {
  Facts facts;
  facts.addresses = false;
  facts.instant =
      ordered{{"at", nullptr}, {"observed", nullptr}, {"gap", nullptr}, {"schema", "datadog"}, {"hostname", nullptr}};
  for (const json& ns : doc) {
    auto inode = unsigned_of(member(ns, "NsID"));
    if (!inode) return Error::logic("a namespace without a numeric \"NsID\"");
    NamespaceFacts f;
    f.netns = *inode;
    const std::string expiry = text_of(member(ns, "LonelyTimeout"));
    f.fields["lonely"] = !expiry.empty() && expiry.rfind("0001-", 0) != 0;
    if (const json* devices = member(ns, "Devices"); devices && devices->is_array()) {
      for (const json& d : *devices) {
        auto ifindex = unsigned_of(member(d, "IfIndex"));
        if (!ifindex || *ifindex > UINT32_MAX) return Error::logic("a device without a numeric \"IfIndex\"");
        DeviceFacts dev;
        dev.name = text_of(member(d, "IfName"));
        dev.fields["name"] = dev.name;
        f.devices[static_cast<std::uint32_t>(*ifindex)] = std::move(dev);
      }
    }
    facts.namespaces[f.netns] = std::move(f);
  }
  return facts;
}

Result<Facts> facts_of(const json& doc, const char* which) {
  Result<Facts> facts = doc.is_array()    ? datadog_facts(doc)
                        : doc.is_object() ? netnsd_facts(doc)
                                          : Result<Facts>(Error::logic("not a dump document"));
  if (!facts) return Error::logic(std::string("the ") + which + " document: " + facts.error().context);
  return facts;
}

// The fields both carry that differ, as {"field": {"old", "new"}}.
ordered changed_fields(const json& old_fields, const json& new_fields) {
  ordered out = ordered::object();
  for (auto it = old_fields.begin(); it != old_fields.end(); ++it) {
    auto other = new_fields.find(it.key());
    if (other == new_fields.end() || *other == it.value()) continue;
    out[it.key()] = ordered{{"old", it.value()}, {"new", *other}};
  }
  return out;
}

class Differ {
 public:
  bool addresses = true;  // both documents carry them

  ordered changes = ordered::array();
  std::map<std::string, std::map<std::string, int>> summary;

  void namespace_line(const char* change, const NamespaceFacts& ns, ordered fields = {}) {
    ordered line{{"subject", "namespace"}, {"change", change}, {"netns", ns.netns}};
    if (ns.cookie) line["netns_cookie"] = *ns.cookie;
    line["names"] = ns.label;
    if (!fields.is_null()) {
      line["fields"] = std::move(fields);
    } else {
      // What came or went with it.
      ordered devices = ordered::array();
      for (const auto& [ifindex, d] : ns.devices) {
        ordered device{{"ifindex", ifindex}, {"name", d.name}};
        if (!d.addresses.empty()) {
          ordered addresses = ordered::array();
          for (const auto& [address, facts] : d.addresses) addresses.push_back(address);
          device["addresses"] = std::move(addresses);
        }
        devices.push_back(std::move(device));
      }
      line["devices"] = std::move(devices);
      if (ns.containers) {
        ordered containers = ordered::array();
        for (const auto& [id, facts] : *ns.containers) containers.push_back(id);
        line["containers"] = std::move(containers);
      }
    }
    add("namespaces", change, std::move(line));
  }

  void device_line(const char* change, const NamespaceFacts& ns, std::uint32_t ifindex, const DeviceFacts& d,
                   ordered fields = {}) {
    ordered line{{"subject", "device"},     {"change", change},   {"netns", ns.netns},
                 {"netns_names", ns.label}, {"ifindex", ifindex}, {"name", d.name}};
    if (auto kind = d.fields.find("kind"); kind != d.fields.end()) line["kind"] = *kind;
    if (!fields.is_null()) line["fields"] = std::move(fields);
    if (std::string(change) == "appeared" && !d.addresses.empty()) {
      ordered addresses = ordered::array();
      for (const auto& [address, facts] : d.addresses) addresses.push_back(address);
      line["addresses"] = std::move(addresses);
    }
    add("devices", change, std::move(line));
  }

  void address_line(const char* change, const NamespaceFacts& ns, std::uint32_t ifindex, const DeviceFacts& d,
                    const std::string& address, ordered fields = {}) {
    ordered line{{"subject", "address"}, {"change", change}, {"netns", ns.netns}, {"netns_names", ns.label},
                 {"ifindex", ifindex},   {"device", d.name}, {"address", address}};
    if (!fields.is_null()) line["fields"] = std::move(fields);
    add("addresses", change, std::move(line));
  }

  void container_line(const char* change, const NamespaceFacts& ns, const std::string& id, const json& facts,
                      ordered fields = {}) {
    ordered line{
        {"subject", "container"}, {"change", change}, {"netns", ns.netns}, {"netns_names", ns.label}, {"id", id}};
    for (auto it = facts.begin(); it != facts.end(); ++it) line[it.key()] = it.value();
    if (!fields.is_null()) line["fields"] = std::move(fields);
    add("containers", change, std::move(line));
  }

  void compare(const NamespaceFacts& a, const NamespaceFacts& b) {
    if (ordered fields = changed_fields(a.fields, b.fields); !fields.empty()) {
      namespace_line("changed", b, std::move(fields));
    }
    if (a.containers && b.containers) {
      for (const auto& [id, facts] : *a.containers) {
        auto other = b.containers->find(id);
        if (other == b.containers->end()) {
          container_line("vanished", b, id, facts);
        } else if (ordered fields = changed_fields(facts, other->second); !fields.empty()) {
          container_line("changed", b, id, other->second, std::move(fields));
        }
      }
      for (const auto& [id, facts] : *b.containers) {
        if (!a.containers->count(id)) container_line("appeared", b, id, facts);
      }
    }
    for (const auto& [ifindex, d] : a.devices) {
      auto other = b.devices.find(ifindex);
      if (other == b.devices.end()) {
        device_line("vanished", a, ifindex, d);
        continue;
      }
      const DeviceFacts& e = other->second;
      if (ordered fields = changed_fields(d.fields, e.fields); !fields.empty()) {
        device_line("changed", b, ifindex, e, std::move(fields));
      }
      if (!addresses) continue;
      for (const auto& [address, facts] : d.addresses) {
        auto same = e.addresses.find(address);
        if (same == e.addresses.end()) {
          address_line("vanished", b, ifindex, e, address);
        } else if (ordered fields = changed_fields(facts, same->second); !fields.empty()) {
          address_line("changed", b, ifindex, e, address, std::move(fields));
        }
      }
      for (const auto& [address, facts] : e.addresses) {
        if (!d.addresses.count(address)) address_line("appeared", b, ifindex, e, address);
      }
    }
    for (const auto& [ifindex, d] : b.devices) {
      if (!a.devices.count(ifindex)) device_line("appeared", b, ifindex, d);
    }
  }

 private:
  void add(const char* subject, const char* change, ordered line) {
    ++summary[subject][change];
    changes.push_back(std::move(line));
  }
};

}  // namespace

Result<nlohmann::ordered_json> diff_documents(const nlohmann::json& from, const nlohmann::json& to) {
  auto a = facts_of(from, "first");
  if (!a) return a.error();
  auto b = facts_of(to, "second");
  if (!b) return b.error();
  Differ differ;
  differ.addresses = a->addresses && b->addresses;
  for (auto& [inode, ns] : a->namespaces) ns.label = ns.names;
  for (auto& [inode, ns] : b->namespaces) {
    ns.label = ns.names;
    auto before = a->namespaces.find(inode);
    if (ns.names.empty() && before != a->namespaces.end()) ns.label = before->second.names;
  }
  auto ai = a->namespaces.begin();
  auto bi = b->namespaces.begin();
  // Both sorted by inode: a merge.
  while (ai != a->namespaces.end() || bi != b->namespaces.end()) {
    if (bi == b->namespaces.end() || (ai != a->namespaces.end() && ai->first < bi->first)) {
      differ.namespace_line("vanished", (ai++)->second);
    } else if (ai == a->namespaces.end() || bi->first < ai->first) {
      differ.namespace_line("appeared", (bi++)->second);
    } else {
      const NamespaceFacts& x = (ai++)->second;
      const NamespaceFacts& y = (bi++)->second;
      if (x.cookie && y.cookie && *x.cookie != *y.cookie) {  // the inode was reused
        differ.namespace_line("vanished", x);
        differ.namespace_line("appeared", y);
      } else {
        differ.compare(x, y);
      }
    }
  }
  ordered summary = ordered::object();
  for (const char* subject : {"namespaces", "devices", "addresses", "containers"}) {
    auto& counts = differ.summary[subject];
    summary[subject] =
        ordered{{"appeared", counts["appeared"]}, {"vanished", counts["vanished"]}, {"changed", counts["changed"]}};
  }
  return ordered{{"from", a->instant},
                 {"to", b->instant},
                 {"summary", std::move(summary)},
                 {"changes", std::move(differ.changes)}};
}

namespace {

std::string compact(const ordered& v) {
  return v.dump(-1, ' ', false, ordered::error_handler_t::replace);
}

std::string text(const ordered& v) {
  return v.is_string() ? v.get<std::string>() : compact(v);
}

// "netns 4026532999 (blue, web)"
std::string netns_text(const ordered& line, const char* names_key) {
  std::string out = "netns " + compact(line["netns"]);
  const ordered& names = line[names_key];
  if (names.is_array() && !names.empty()) {
    std::string joined;
    for (const ordered& n : names) joined.append(joined.empty() ? "" : ", ").append(text(n));
    out += " (" + joined + ")";
  }
  return out;
}

std::string fields_text(const ordered& fields) {
  std::string out;
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    out.append(out.empty() ? "" : "; ").append(it.key()).append(" ").append(compact(it.value()["old"]));
    out.append(" -> ").append(compact(it.value()["new"]));
  }
  return out;
}

}  // namespace

std::string diff_to_text(const nlohmann::ordered_json& diff) {
  std::string out;
  for (const ordered& line : diff["changes"]) {
    const std::string change = text(line["change"]);
    const std::string subject = text(line["subject"]);
    out += change == "appeared" ? "+ " : change == "vanished" ? "- " : "~ ";
    if (subject == "namespace") {
      out += netns_text(line, "names");
      if (line.contains("fields")) {
        out += ": " + fields_text(line["fields"]);
      } else if (line.contains("devices")) {
        std::string devices;
        for (const ordered& d : line["devices"]) {
          devices.append(devices.empty() ? "" : ", ").append(text(d["name"]));
          if (d.contains("addresses")) {
            for (const ordered& a : d["addresses"]) devices.append(" ").append(text(a));
          }
        }
        if (!devices.empty()) out += ": " + devices;
      }
    } else if (subject == "device") {
      out += "device " + text(line["name"]) + " (" + compact(line["ifindex"]) + ")";
      if (line.contains("kind") && !text(line["kind"]).empty()) out += " " + text(line["kind"]);
      out += " in " + netns_text(line, "netns_names");
      if (line.contains("fields")) out += ": " + fields_text(line["fields"]);
    } else if (subject == "address") {
      out += "address " + text(line["address"]) + " on " + text(line["device"]) + " (" + compact(line["ifindex"]) +
             ") in " + netns_text(line, "netns_names");
      if (line.contains("fields")) out += ": " + fields_text(line["fields"]);
    } else {
      const std::string id = text(line["id"]);
      out += "container " + id.substr(0, 12);
      if (line["name"].is_string()) out += " " + text(line["name"]);
      if (line["pod_name"].is_string()) {
        out += " (pod " + (line["pod_namespace"].is_string() ? text(line["pod_namespace"]) + "/" : "") +
               text(line["pod_name"]) + ")";
      }
      out += " in " + netns_text(line, "netns_names");
      if (line.contains("fields")) out += ": " + fields_text(line["fields"]);
    }
    out += "\n";
  }
  auto when = [&](const ordered& instant) {
    std::string w = instant["at"].is_string() ? text(instant["at"]) : std::string("a datadog dump");
    if (instant["hostname"].is_string()) w += " on " + text(instant["hostname"]);
    if (instant["observed"] == false) w += " (not observed: the last state known before a gap)";
    return w;
  };
  std::string counts;
  for (const char* subject : {"namespaces", "devices", "addresses", "containers"}) {
    const ordered& c = diff["summary"][subject];
    std::string part;
    for (const char* change : {"appeared", "vanished", "changed"}) {
      if (c[change] != 0) part.append(part.empty() ? "" : ", ").append(compact(c[change])).append(" ").append(change);
    }
    if (!part.empty()) counts.append(counts.empty() ? "" : "; ").append(subject).append(": ").append(part);
  }
  out += "From " + when(diff["from"]) + " to " + when(diff["to"]) + ": " +
         (counts.empty() ? std::string("no differences") : counts) + "\n";
  return out;
}

}  // namespace netnsd
