// The change stream's lines (GET /v1/events): one compact JSON object per
// line (NDJSON), each with a "type" and a "time".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "resolver/changes.h"
#include "util/clock.h"

namespace netnsd {

// {"seq", "time", "type", "netns", ...}: see the Event schema in openapi.yaml.
std::string change_to_ndjson(const Change& change);
// {"type":"lost","count":N,"time"}: N changes this subscriber did not get.
std::string lost_to_ndjson(std::uint64_t count, WallTime at);
// {"type":TYPE,"seq":last,"time"}: "subscribed" (where a stream starts),
// "heartbeat" (a quiet stream is still alive).
std::string marker_to_ndjson(std::string_view type, std::uint64_t last_seq, WallTime at);

}  // namespace netnsd
