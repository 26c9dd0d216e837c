// JSON of a namespace's routes, policy rules and neighbours, in the terms
// `ip -j` uses where it has one (table and protocol names, "default",
// states), with device names from the cache's view of the namespace.
#pragma once

#include "resolver/facts.h"
#include "resolver/model.h"
#include "util/json_writer.h"

namespace netnsd {

// The fields "routes", "rules", "neighbours" (arrays; null each when
// `facts` is null: not kept) and "routing" (what was dropped over a budget).
void write_facts(JsonWriter& out, const NamespaceFacts* facts, const NamespaceView& ns);

// One route, rule or neighbour as an object (device names from `ns`).
void write_route(JsonWriter& out, const Route& route, const NamespaceView& ns);
void write_rule(JsonWriter& out, const Rule& rule);
void write_neighbour(JsonWriter& out, const Neighbour& neighbour, const NamespaceView& ns);

}  // namespace netnsd
