#pragma once

#include <malloc.h>

#include "util/sanitizers.h"

namespace netnsd {

// Gives the heap's free pages back to the system (malloc_trim), so RSS
// follows what is in use after a large answer or a scan. Under ASan the
// allocator is ASan's, not glibc's: glibc's arenas may never have been set
// up, and concurrent first calls race inside glibc (a dump handler crashed
// in mtrim in the sanitizer tier), so there is nothing to trim.
inline void trim_heap() {
#ifndef NETNSD_ASAN
  ::malloc_trim(0);
#endif
}

}  // namespace netnsd
