// Privileged tests need root. They skip with a clear message when run
// without it, except under CI=true, where a skip would hide an untested
// tier: there the test fails instead.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace netnsd::testing {

inline bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::strcmp(ci, "true") == 0;
}

}  // namespace netnsd::testing

#define NETNSD_REQUIRE_ROOT()                                                                 \
  do {                                                                                        \
    if (::geteuid() != 0) {                                                                   \
      if (::netnsd::testing::under_ci()) {                                                    \
        FAIL() << "privileged test run without root under CI=true: it must not be skipped";   \
      }                                                                                       \
      GTEST_SKIP() << "needs root (real namespaces, devices and BPF); run the suite as root"; \
    }                                                                                         \
  } while (0)
