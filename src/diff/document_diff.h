// What differs between two dump documents: the namespaces, devices,
// addresses and containers that appeared, vanished or changed, with the old
// and new value of each changed field. The server compares two instants of
// its journal with it (GET /v1/diff); netnsctl compares two dump files
// offline, from one host or two.
//
// Identity: a namespace is its inode, and its cookie where both documents
// carry one (an inode reused in between is one namespace vanishing and
// another appearing); a device is its namespace and ifindex; an address is
// its device and address/prefix length; a container is its namespace and
// id. What appears or vanishes with its namespace is listed in the
// namespace's line, not again on its own.
//
// Either document may be in either schema (netnsd: an object with
// "namespaces"; datadog: the seed's array). Where they differ, only the
// fields both carry are compared. Counters, descriptors, pids and first
// sighting are not facts about the wiring and are left out.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "util/result.h"

namespace netnsd {

// {"from": instant, "to": instant, "summary": {...}, "changes": [...]}, each
// instant {"at", "observed", "gap", "schema", "hostname"} as its document
// says (null where it says nothing); an error when a document is in neither
// schema.
Result<nlohmann::ordered_json> diff_documents(const nlohmann::json& from, const nlohmann::json& to);

// The diff for people: one line per change ("+" appeared, "-" vanished, "~"
// changed), then a summary line.
std::string diff_to_text(const nlohmann::ordered_json& diff);

}  // namespace netnsd
