#include "dump/event_encoder.h"

#include "dump/facts_encoder.h"
#include "dump/json_encoder.h"
#include "util/json_writer.h"

namespace netnsd {

namespace {

void write_strings(JsonWriter& out, const char* key, const std::vector<std::string>& list) {
  out.key(key).begin_array();
  for (const std::string& s : list) out.value(s);
  out.end_array();
}

}  // namespace

std::string change_to_ndjson(const Change& c) {
  JsonWriter out(/*pretty=*/false);
  out.begin_object()
      .field("seq", c.seq)
      .field("time", format_rfc3339_ms(c.at))
      .field("type", to_string(c.kind))
      .field("netns", c.netns);
  switch (c.kind) {
    case ChangeKind::netns_added:
    case ChangeKind::netns_changed:
    case ChangeKind::netns_removed:
      write_strings(out, "names", c.names);
      out.field("discovered_by", to_string(c.source)).key("lonely_since");
      if (c.lonely_since) {
        out.value(format_rfc3339_ms(*c.lonely_since));
      } else {
        out.null();
      }
      out.key("containers").begin_array();
      for (const ContainerRef& container : c.containers) write_container(out, container);
      out.end_array().key("processes");
      write_processes(out, c.processes);
      if (c.kind == ChangeKind::netns_changed) write_strings(out, "changed", c.changed);
      if (c.kind == ChangeKind::netns_removed) out.field("reason", c.reason);
      break;
    case ChangeKind::device_added:
    case ChangeKind::device_changed:
    case ChangeKind::device_removed:
      if (c.device) {
        out.key("device");
        write_device(out, *c.device);
      }
      if (c.kind == ChangeKind::device_changed) {
        write_strings(out, "changed", c.changed);
        if (c.old) {
          out.key("old");
          write_device(out, *c.old);
        }
      }
      if (c.kind == ChangeKind::device_removed && c.moved_to) {
        out.key("moved_to").begin_object().field("netns", c.moved_to->netns).field("nsid", c.moved_to->nsid);
        out.key("ifindex");
        if (c.moved_to->ifindex) {
          out.value(c.moved_to->ifindex);
        } else {
          out.null();
        }
        out.end_object();
      }
      break;
    case ChangeKind::address_added:
    case ChangeKind::address_changed:
    case ChangeKind::address_removed:
      out.key("device").begin_object().field("ifindex", c.ifindex).field("name", c.device_name).end_object();
      if (c.address) {
        out.key("address");
        write_address(out, *c.address, c.device_name);
      }
      break;
    case ChangeKind::route_added:
    case ChangeKind::route_changed:
    case ChangeKind::route_removed:
    case ChangeKind::rule_added:
    case ChangeKind::rule_removed:
    case ChangeKind::neighbour_added:
    case ChangeKind::neighbour_changed:
    case ChangeKind::neighbour_removed: {
      // The devices it names, as the cache knew them when it changed.
      NamespaceView names;
      for (const auto& [ifindex, name] : c.device_names) {
        Device d;
        d.ifindex = ifindex;
        d.name = name;
        names.devices.push_back(std::move(d));
      }
      if (c.route) {
        out.key("route");
        write_route(out, *c.route, names);
      }
      if (c.rule) {
        out.key("rule");
        write_rule(out, *c.rule);
      }
      if (c.neighbour) {
        out.key("neighbour");
        write_neighbour(out, *c.neighbour, names);
      }
      break;
    }
  }
  out.end_object();
  return out.take();  // with its newline
}

std::string lost_to_ndjson(std::uint64_t count, WallTime at) {
  JsonWriter out(/*pretty=*/false);
  out.begin_object().field("type", "lost").field("count", count).field("time", format_rfc3339_ms(at)).end_object();
  return out.take();  // with its newline
}

std::string marker_to_ndjson(std::string_view type, std::uint64_t last_seq, WallTime at) {
  JsonWriter out(/*pretty=*/false);
  out.begin_object().field("type", type).field("seq", last_seq).field("time", format_rfc3339_ms(at)).end_object();
  return out.take();  // with its newline
}

}  // namespace netnsd
