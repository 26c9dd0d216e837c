// How the journal stores what the cache holds: a device (without its
// addresses and counters), an address, a namespace's names and containers,
// each as a compact JSON text that reads back to the same value. The
// encoding is the journal's own (schema version 1), not the API's: the API's
// may change without a migration.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "resolver/model.h"

namespace netnsd::history {

std::string device_record(const Device& device);
std::optional<Device> device_from_record(const std::string& text);

std::string address_record(const Address& address);
std::optional<Address> address_from_record(const std::string& text);

std::string names_record(const std::vector<std::string>& names);
std::vector<std::string> names_from_record(const std::string& text);

std::string containers_record(const std::vector<ContainerRef>& containers);
std::vector<ContainerRef> containers_from_record(const std::string& text);

// Each process's pid, comm and container id (the container itself is in
// the namespace's containers).
std::string processes_record(const std::vector<ProcessInfo>& processes);
std::vector<ProcessInfo> processes_from_record(const std::string& text, const std::vector<ContainerRef>& containers);

std::optional<Source> source_from_text(const std::string& text);

// Microseconds since the epoch: how the journal stores every time.
std::int64_t to_micros(WallTime t);
WallTime from_micros(std::int64_t us);

}  // namespace netnsd::history
