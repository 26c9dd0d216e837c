// Whether this build runs under AddressSanitizer: GCC defines
// __SANITIZE_ADDRESS__, clang answers __has_feature(address_sanitizer).
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define NETNSD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NETNSD_ASAN 1
#endif
#endif
