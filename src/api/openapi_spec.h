// The API contract, openapi/openapi.yaml, compiled into the binary and
// served at GET /openapi.yaml.
#pragma once

#include <string_view>

namespace netnsd {
std::string_view openapi_yaml();
}  // namespace netnsd
