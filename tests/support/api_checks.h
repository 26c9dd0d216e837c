// Checks shared by the API tests of both tiers: raw exchanges over the Unix
// socket, the JSON error contract, and "the service still serves".
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "service.h"

namespace netnsd::testing {

// Sends raw bytes and returns whatever the server answers within `timeout`;
// *answered_in_time says whether a complete answer arrived.
std::string raw_exchange(const std::string& socket_path, const std::string& request, std::chrono::milliseconds timeout,
                         bool* answered_in_time);

// A JSON error with this status and code, and a sentence.
void expect_error(const httplib::Result& res, int status, const std::string& code);

// The service must still dump successfully, with the same namespaces.
void expect_still_serving(LiveService& service);

}  // namespace netnsd::testing
