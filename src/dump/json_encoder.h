// JSON encodings of the dump: netnsd's own schema (version 1) and the seed
// agent's ("datadog") layout.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "dump/document.h"

namespace netnsd {

nlohmann::ordered_json device_to_json(const Device& device);
// One namespace; `snapshot` may be null (then "snapshot": null).
nlohmann::ordered_json namespace_to_json(const NamespaceView& ns, const InterfaceSnapshot* snapshot);
nlohmann::ordered_json resolver_to_json(const ResolverStats& stats);

// The whole document in the netnsd schema.
nlohmann::ordered_json dump_to_json(const DumpDocument& doc);

// The seed agent's layout: an array of
// {NsID, HandleFD, HandlePath, LonelyTimeout, Devices, DevicesInQueue}, with
// Go's encoding rules (empty lists are null, times RFC 3339, the zero time
// "0001-01-01T00:00:00Z"). Devices are the live ones when the document holds
// a snapshot, else the cached ones.
nlohmann::ordered_json dump_to_datadog_json(const DumpDocument& doc, std::int64_t lonely_timeout_s);

// Serialises with 2-space indentation and a trailing newline. Interface names
// are arbitrary bytes; invalid UTF-8 is replaced with U+FFFD so the output is
// always valid JSON.
std::string to_text(const nlohmann::ordered_json& value, bool pretty = true);

}  // namespace netnsd
