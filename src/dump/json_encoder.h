// JSON encodings of the dump: netnsd's own schema (version 1) and the seed
// agent's ("datadog") layout. Written straight to text (JsonWriter): these
// are the large documents.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dump/document.h"
#include "resolver/stats.h"
#include "util/json_writer.h"

namespace netnsd {

// A container: runtime, id, pod, names (null when unknown), cgroup owner.
void write_container(JsonWriter& out, const ContainerRef& container);
// An address of device `device_name` (whose name an IPv4 label repeats unless
// it is an alias).
void write_address(JsonWriter& out, const Address& address, const std::string& device_name);
// A device; "stats" only when it carries counters (live listings).
void write_device(JsonWriter& out, const Device& device);
// One namespace; `snapshot` may be null (then "snapshot": null). With
// `counters_error`, says why its devices carry no counters.
// `extra` adds fields at its end.
void write_namespace(JsonWriter& out, const NamespaceView& ns, const InterfaceSnapshot* snapshot,
                     const std::optional<std::string>& counters_error = std::nullopt,
                     const std::function<void(JsonWriter&)>& extra = nullptr);
void write_resolver(JsonWriter& out, const ResolverStats& stats);
// The namespace part of a whois match: "netns", "netns_names", "host"
// (whether it is the host's, `host`), "containers", "processes".
void write_whereabouts(JsonWriter& out, const NamespaceView& ns, NetnsId host);
// [{"pid", "comm", "container": id|null}]
void write_processes(JsonWriter& out, const std::vector<ProcessInfo>& processes);
// The instant a dump describes: "at", "observed", "from_history" and "gap"
// (null, or its from, to and reason).
void write_dump_instant(JsonWriter& out, const DumpDocument& doc);

// The whole document in the netnsd schema, compact.
std::string dump_to_json(const DumpDocument& doc);

// The seed agent's layout: an array of
// {NsID, HandleFD, HandlePath, LonelyTimeout, Devices, DevicesInQueue}, with
// Go's encoding rules (empty lists are null, times RFC 3339, the zero time
// "0001-01-01T00:00:00Z"). Devices are the live ones when the document holds
// a snapshot, else the cached ones.
std::string dump_to_datadog_json(const DumpDocument& doc, std::int64_t lonely_timeout_s);

// GET /v1/namespaces and GET /v1/namespaces/{netns} (whose devices carry
// counters read for the answer, or `counters_error`), compact.
std::string namespaces_to_json(const std::vector<NamespaceView>& namespaces, const ResolverStats& stats);
std::string namespace_to_json(const NamespaceView& ns, const std::optional<std::string>& counters_error = std::nullopt,
                              const std::function<void(JsonWriter&)>& extra = nullptr);

// Small documents (errors, answers): compact, with a trailing newline.
// Invalid UTF-8 is replaced with U+FFFD so the output is always valid JSON.
std::string to_text(const nlohmann::ordered_json& value);

}  // namespace netnsd
