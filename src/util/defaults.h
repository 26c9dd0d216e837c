// netnsd's defaults, each written once. The daemon's configuration, the
// resolver, the tracker, the HTTP layer, netnsctl and the usage text all take
// them from here, so a default cannot differ between what runs and what the
// help says.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace netnsd::defaults {

inline constexpr const char* kSocketPath = "/run/netnsd/netnsd.sock";
inline constexpr const char* kDumpDir = "/var/lib/netnsd/dumps";
inline constexpr const char* kLogLevel = "info";

// The resolver.
inline constexpr std::size_t kCapacity = 4096;  // namespaces held (LRU)
inline constexpr std::chrono::milliseconds kLonelyTimeout{30000};
inline constexpr std::size_t kMaxDevices = 4096;  // devices kept per namespace
// Namespaces of user namespaces other than the host's, per owner uid: this
// divisor of the capacity unless configured (--max-per-owner).
inline constexpr std::size_t kOwnerShareDivisor = 4;

// Descriptors: each cached namespace holds 3 (its handle, its link monitor,
// its request socket). The rest of the process needs a reserve: what the
// HTTP servers' clients can hold (ConnectionLimits::max_descriptors(), all
// connections and the lines of accepted ones, for each server), plus this
// much for everything else: the listeners and the servers' epoll and
// eventfd, dumps (a directory and two files each), the render child's
// pipes, /proc and mountinfo walks, the BPF programs, maps and links, the
// event loop, exit watches, stdio and the journal.
inline constexpr std::size_t kFdsPerNamespace = 3;
inline constexpr std::size_t kFdFixedReserve = 64;

// The tracker.
inline constexpr std::chrono::milliseconds kResyncInterval{30000};  // 0: no periodic rescan
inline constexpr std::chrono::milliseconds kFlushPeriod{10000};

// Dumps on disk.
inline constexpr std::size_t kMaxDumps = 100;  // pairs kept, newest first
inline constexpr std::uint64_t kDumpMinFreeBytes = 64ull << 20;
inline constexpr std::size_t kMaxConcurrentDumps = 2;
inline constexpr std::size_t kDumpQueue = 8;
inline constexpr std::chrono::milliseconds kReadyWait{10000};  // a dump asked for before the initial scan

// Graphs rendered to an image by the service (SVG, PNG; in a child process,
// one at a time): at most this many nodes, some 500 containers. dot's layout grows faster than the graph: on
// 2 cores 2000 nodes take 2.5 s (SVG) to 3.5 s (PNG), 3000 about 10 s, 4000
// 17 to 24 s and 300 MiB (tests/bench/render_bench.cpp). Larger graphs are
// for format=dot, rendered offline.
inline constexpr std::size_t kMaxRenderedNodes = 2000;

// Who lives in a namespace: the processes listed per namespace (the lowest
// pids; the count covers them all), and where the container runtimes keep
// their state (names of containers and pods are read there).
inline constexpr std::size_t kProcessesListed = 8;
inline constexpr const char* kRuntimeRoot = "/";

// The change stream (GET /v1/events): changes held per subscriber (past
// them it loses changes, counted), the history kept for ?since=, how many
// may follow at once (each holds a worker of the events lane while it does,
// never one another request needs), how long a quiet
// stream waits before it says it is alive, and how long a stream's reader
// may take nothing (while its writes wait, or its heartbeats pile up in the
// socket, and it loses changes, counted) before the stream is closed.
inline constexpr std::size_t kEventQueue = 1024;
inline constexpr std::size_t kEventHistory = 1024;
inline constexpr std::size_t kMaxEventSubscribers = 8;
inline constexpr std::chrono::milliseconds kEventHeartbeat{15000};
inline constexpr std::chrono::milliseconds kEventStallLimit{300000};

// The HTTP layer: every wait bounded. What a client can hold, and for how
// long (connections.h has the mechanism, HttpApi the lane table):
//
//   connections   kMaxConnections within the cap; kMaxOverflowConnections past
//                 it, read only to find probes (200 ms); accepted ones waiting
//                 for the reader: 3 x kMaxPendingConnections at most
//   a request     head 16 KiB, body kMaxRequestBody, whole within 5 s of its
//                 first byte (408); a kept-alive connection idles 2 s
//   lanes         workers of their own per kind of request; a full lane
//                 answers 503 with Retry-After at once:
//     probe       GET|HEAD /healthz, /readyz   kProbeWorkers, a line of
//                 kProbeQueue waiting at most kProbeQueueWait
//     metrics     GET|HEAD /metrics            kMetricsWorkers, a line of
//                 kMetricsQueue waiting at most kMetricsQueueWait
//     dump        POST /dump, /v1/dump         kMaxConcurrentDumps, a line of
//                 kDumpQueue waiting at most kDumpQueueWait (503 too_many_dumps)
//     events      GET /v1/events               kMaxEventSubscribers, no line
//                 (503 too_many_subscribers)
//     api         everything else              kApiWorkers, no line (503 busy)
//   an answer     each write must make progress within kWriteTimeout, and the
//                 whole answer be taken within kReadGrace + size / kMinReadRate
//                 (cut, counted as slow_reader); a change stream instead may
//                 take nothing for at most kEventStallLimit
inline constexpr std::size_t kMaxRequestBody = 64 * 1024;  // larger bodies get 413
inline constexpr std::size_t kMaxConnections = 192;
inline constexpr std::size_t kMaxOverflowConnections = 32;
inline constexpr std::size_t kMaxPendingConnections = 64;
inline constexpr std::chrono::milliseconds kWriteTimeout{10000};
inline constexpr std::size_t kMinReadRate = 256 * 1024;  // bytes per second, after the grace
inline constexpr std::size_t kMinReadRateFloor = 1024;   // the lowest that may be configured
inline constexpr std::chrono::milliseconds kReadGrace{10000};
inline constexpr std::chrono::milliseconds kDumpQueueWait{10000};
inline constexpr std::size_t kProbeWorkers = 2;
inline constexpr std::size_t kProbeQueue = 64;
inline constexpr std::chrono::milliseconds kProbeQueueWait{1000};
inline constexpr std::size_t kMetricsWorkers = 1;
inline constexpr std::size_t kMetricsQueue = 8;
inline constexpr std::chrono::milliseconds kMetricsQueueWait{5000};
inline constexpr std::size_t kApiWorkers = 8;

}  // namespace netnsd::defaults
