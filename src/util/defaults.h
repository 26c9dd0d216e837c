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
// Namespaces held (LRU): 10,000 and room to spare inside the shipped unit's
// LimitNOFILE=16384 at one descriptor each (kFdsPerNamespace).
inline constexpr std::size_t kCapacity = 12000;
inline constexpr std::chrono::milliseconds kLonelyTimeout{30000};
inline constexpr std::size_t kMaxDevices = 4096;  // devices kept per namespace
// Namespaces of user namespaces other than the host's, per owner uid: this
// divisor of the capacity unless configured (--max-per-owner).
inline constexpr std::size_t kOwnerShareDivisor = 4;

// Descriptors: each cached namespace holds 1, the rtnetlink socket that
// pins it, answers its requests and carries its notifications
// (kernel/namespace_socket.h; it was 3 in 0.2). The rest of the process needs a reserve: what the
// HTTP servers' clients can hold (ConnectionLimits::max_descriptors(), all
// connections and the lines of accepted ones, for each server), plus this
// much for everything else: the listeners and the servers' epoll and
// eventfd, dumps (a directory and two files each), the render child's
// pipes, /proc and mountinfo walks, the BPF programs, maps and links, the
// event loop, exit watches, stdio and the journal.
inline constexpr std::size_t kFdsPerNamespace = 1;
inline constexpr std::size_t kFdFixedReserve = 64;

// The tracker.
inline constexpr std::chrono::milliseconds kResyncInterval{30000};  // 0: no periodic rescan
inline constexpr std::chrono::milliseconds kFlushPeriod{10000};
// The heap is given back after a gathered pass at most this often (and at
// each flush period).
inline constexpr std::chrono::milliseconds kPassTrimInterval{1000};
// How long presence-check requests are gathered before one pass runs, and
// the least time between two passes (each walks all of /proc).
inline constexpr std::chrono::milliseconds kPresenceDelay{20};
inline constexpr std::chrono::milliseconds kPresenceMinInterval{250};
// Receive buffer of each namespace's link monitor: a burst past it is an
// overflow, answered by listing that namespace again.
inline constexpr int kLinkReceiveBuffer = 1 << 20;
// Exits waited for at once (a descriptor each); past that, an exit is left
// to a presence pass this long after it.
inline constexpr std::size_t kMaxExitWatches = 64;
inline constexpr std::chrono::milliseconds kExitFallbackDelay{1000};

// Netlink requests (rtnl.cpp): what one read takes at most (a dump's
// messages come in several), and how often a dump interrupted by a change
// (NLM_F_DUMP_INTR) is tried before its partial answer is refused.
inline constexpr std::size_t kNetlinkReadBuffer = 64 * 1024;
inline constexpr int kNetlinkDumpAttempts = 5;
// How long a request waits for each part of its reply (the kernel answers
// at once; this bounds a wait on a socket shared with a monitor).
inline constexpr std::chrono::seconds kNetlinkReplyTimeout{5};
// Notifications a request on a namespace's socket takes in while it waits
// for its reply, kept for the monitor; past this they count as lost (the
// namespace is listed again).
inline constexpr std::size_t kHeldNotificationBytes = 256 * 1024;

// Distinct sets of policy rules kept for namespaces to share (FactStore):
// nearly every namespace has the kernel's five defaults.
inline constexpr std::size_t kInternedRuleSets = 16;

// The history journal (src/history): where it is, what it keeps, how it
// writes. Changes reach it through a queue of its own; a batch is written
// when the queue goes quiet for the flush period or holds a batch, and at
// least every heartbeat (which bounds what a crash can hide).
inline constexpr const char* kJournalPath = "/var/lib/netnsd/journal.db";
inline constexpr std::chrono::hours kJournalMaxAge{7 * 24};
inline constexpr std::uint64_t kJournalMaxBytes = 256ull << 20;  // database, WAL and shared memory together
inline constexpr std::size_t kJournalQueue = 1 << 16;            // changes waiting for the writer
inline constexpr std::size_t kJournalBatch = 4096;               // changes per transaction
inline constexpr std::chrono::milliseconds kJournalFlushPeriod{200};
inline constexpr std::chrono::milliseconds kJournalHeartbeat{1000};
inline constexpr std::chrono::milliseconds kJournalRetry{5000};  // an unwritable journal is tried again
inline constexpr std::chrono::milliseconds kJournalBusyWait{2000};
inline constexpr int kJournalNice = 10;  // the writer thread's: background work
// SQLite's page cache per connection (its default is 2 MiB): the writer's,
// and each of the readers' (up to kHistoryReaders kept between questions).
inline constexpr std::size_t kJournalWriterCacheKiB = 1024;
inline constexpr std::size_t kJournalReaderCacheKiB = 256;
// A flapping device: at most this many versions recorded per device and
// minute; the others are counted, and the last one is written when the
// minute allows.
inline constexpr int kJournalDeviceChangesPerMinute = 60;
// Readers: what one read transaction takes at most, so that a slow client
// never holds a snapshot that stops checkpoints.
inline constexpr std::size_t kHistoryPage = 512;
inline constexpr std::size_t kHistoryReaders = 4;  // connections kept open for queries

// Dumps on disk.
inline constexpr std::size_t kMaxDumps = 100;  // pairs kept, newest first
inline constexpr std::uint64_t kDumpMinFreeBytes = 64ull << 20;
inline constexpr std::size_t kMaxConcurrentDumps = 2;
// Threads listing the namespaces of one snapshot (snapshot_interfaces=true),
// the dump's own included: at most kMaxConcurrentDumps x this at once.
inline constexpr std::size_t kSnapshotListers = 2;
inline constexpr std::size_t kDumpQueue = 8;
inline constexpr std::chrono::milliseconds kReadyWait{10000};  // a dump asked for before the initial scan

// Graphs rendered to an image by the service (SVG, PNG; in a child process,
// one at a time): at most this many nodes, some 500 containers. dot's layout grows faster than the graph: on
// 2 cores 2000 nodes take 2.5 s (SVG) to 3.5 s (PNG), 3000 about 10 s, 4000
// 17 to 24 s and 300 MiB (tests/bench/render_bench.cpp). Larger graphs are
// for format=dot, rendered offline.
inline constexpr std::size_t kMaxRenderedNodes = 2000;
// A render's other bounds: its time (the renderer is killed past it; dot at
// the node limit takes a few seconds), its CPU time, the size of its image,
// what a renderer of its own reads (the DOT of the largest graph rendered
// is a few MiB), and a PNG's bitmap (4 bytes a pixel: past it, the drawing
// is made at a lower resolution).
inline constexpr std::chrono::milliseconds kRenderTimeout{30000};
inline constexpr std::uint64_t kRenderCpuSeconds = 60;
inline constexpr std::size_t kMaxRenderedBytes = 256u << 20;
inline constexpr std::size_t kMaxRenderInput = 64u << 20;
inline constexpr double kMaxPngPixels = 8e6;  // 32 MiB of bitmap
// A renderer's address space (RLIMIT_AS, in the forked child and in
// netnsd-render): at the node limit (1980 nodes: 990 namespaces, each with
// lo) a render takes 5.5 s and peaks at 410 MiB of address space (SVG) or
// 420 MiB (PNG, cairo and pango mapped), 250 MiB resident. A layout that
// runs away is stopped here rather than by the OOM killer.
inline constexpr std::uint64_t kRenderMemoryBytes = 768ull << 20;

// Who lives in a namespace: the processes listed per namespace (the lowest
// pids; the count covers them all), and where the container runtimes keep
// their state (names of containers and pods are read there).
inline constexpr std::size_t kProcessesListed = 8;
inline constexpr const char* kRuntimeRoot = "/";

// Routes, policy rules and neighbours, cached live per namespace (--no-routes
// turns them off). Budgets, not just caps: per namespace (a host with a full
// Internet table keeps its first 10,000 routes and counts the rest), per
// owner outside the host's user namespace (anybody can fill namespaces of
// their own with routes: 1000 of them cannot take more than this between
// them), and in total. A route costs about 200 bytes held (its map node and
// next hops); the totals keep all of it near 60 MiB, well inside the unit's
// MemoryMax (256M). Beyond a budget a namespace says it is truncated and
// how many the kernel has that the cache does not keep.
inline constexpr std::size_t kRoutesPerNamespace = 10000;
inline constexpr std::size_t kRoutesPerOwner = 50000;
inline constexpr std::size_t kRoutesTotal = 200000;
inline constexpr std::size_t kRulesPerNamespace = 1000;
inline constexpr std::size_t kRulesTotal = 50000;
inline constexpr std::size_t kNeighboursPerNamespace = 10000;
inline constexpr std::size_t kNeighboursPerOwner = 50000;
inline constexpr std::size_t kNeighboursTotal = 100000;
// Namespaces whose routes one round of the gatherer lists at most: the rest
// wait for the next round, so a burst of new namespaces (each listed when it
// is cached) never holds up the presence pass that releases the lonely.
inline constexpr std::size_t kFactListsPerRound = 32;
// A namespace's routes are listed at most this often: in a route storm every
// notification overtakes the listing before it, and listing 100,000 routes
// again and again would hold the kernel's rtnl lock against the storm
// itself (measured: 200,000 routes took 88 s to add instead of seconds).
inline constexpr std::chrono::milliseconds kFactListMinInterval{1000};
// Next hops of one multipath route read at most (the kernel allows more;
// nobody configures them).
inline constexpr std::size_t kMaxNextHops = 256;
// A namespace's monitor reads at most this many datagrams per turn of the
// event loop, so a route storm in one namespace cannot keep the loop from
// every other (the level-triggered loop comes back for the rest).
inline constexpr std::size_t kMonitorDatagramsPerTurn = 64;

// Sockets, read on demand (GET /v1/namespaces/{netns}/sockets, /v1/whois?port=):
// the processes listed per socket (the lowest pids; the count covers them
// all: a pre-forking server's workers all hold its listening socket), how
// long the walk over every process's descriptors may take, and how long a
// whois by port may spend listing every namespace's listeners before it
// answers with what it has (and says so).
inline constexpr std::size_t kSocketHoldersListed = 8;
inline constexpr std::chrono::milliseconds kSocketOwnersBudget{2000};
inline constexpr std::chrono::milliseconds kWhoisPortBudget{5000};
// Threads a whois by port lists namespaces with (entering a namespace and
// the kernel's dumps are most of it; this machine has 2 cores).
inline constexpr std::size_t kWhoisThreads = 2;

// Conntrack and the firewall, read on demand (GET /v1/namespaces/{netns}/
// conntrack and /firewall, the hint of GET /v1/whois?port=): the nf_tables
// rules read per namespace before the count stops (kube-proxy's thousands
// fit; a flood is counted as far as it was read, and said), the rules that
// match a port kept per namespace, and the largest legacy table read (its
// entries are copied whole out of the kernel).
inline constexpr std::uint64_t kFirewallRulesRead = 200000;
inline constexpr std::size_t kFirewallPortRulesKept = 256;
inline constexpr std::uint32_t kLegacyTableBytesMax = 64u << 20;
// How long POST /dump include= may spend reading namespaces' sockets,
// conntrack counts and firewalls (routes and neighbours are copied, not
// read); the namespaces past it are written unread ("read": false).
inline constexpr std::chrono::milliseconds kDumpIncludeBudget{10000};
// How long a netfilter request waits for the kernel's next reply datagram.
inline constexpr std::chrono::seconds kNfnetlinkReplyTimeout{5};

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
//     api         everything else              kApiWorkers, no line (503 busy); on the
//                 metrics TCP listener 1 worker and a line of
//                 kProbesOnlyApiQueue waiting at most kProbesOnlyApiQueueWait
//   an answer     each write must make progress within kWriteTimeout, and the
//                 whole answer be taken within kReadGrace + size / kMinReadRate
//                 (cut, counted as slow_reader); a change stream instead may
//                 take nothing for at most kEventStallLimit
inline constexpr std::size_t kMaxRequestBody = 64 * 1024;  // larger bodies get 413
inline constexpr std::size_t kMaxRequestLine = 8 * 1024;   // the request line, and each header line (414, 431)
inline constexpr std::size_t kMaxRequestHead = 16 * 1024;  // request line and headers (431)
inline constexpr std::size_t kMaxRequestHeaders = 100;
inline constexpr std::chrono::milliseconds kRequestDeadline{5000};  // from a request's first byte to its last (408)
inline constexpr std::chrono::milliseconds kIdleTimeout{2000};      // between requests on a kept-alive connection
inline constexpr std::chrono::milliseconds kSlowAfter{500};         // a request still incomplete after this is slow
inline constexpr std::chrono::milliseconds kOverflowWait{200};      // a connection past the cap is read this long
inline constexpr std::size_t kMaxRequestsPerConnection = 1000;
// After an error answered by the reader, what the client still sends is
// read and dropped for a while, so that the answer is not lost to a reset.
inline constexpr std::chrono::milliseconds kLinger{500};
inline constexpr std::size_t kLingerBytes = 1 << 20;
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
// On the metrics TCP listener (probes and scrapes only) the api lane only
// answers 404s, with one worker: a short line, so that a client's next
// request is not refused while the worker is still letting go of its last.
inline constexpr std::size_t kProbesOnlyApiQueue = 8;
inline constexpr std::chrono::milliseconds kProbesOnlyApiQueueWait{1000};
inline constexpr std::size_t kApiWorkers = 8;

// Per-namespace metrics (--metrics-namespaces): the counters come from one
// link dump per cached namespace, taken at most every kMetricsMinInterval
// however many scrape (a scrape in between gets the last one); a scrape
// waits at most kMetricsRefreshWait for another's refresh, then gets the
// last one. At most kMetricsMaxSeries per-namespace series (the rest are
// dropped, namespaces owned outside the host's user namespace first, then
// the largest; never the host's own), counted.
inline constexpr std::chrono::milliseconds kMetricsMinInterval{10'000};
inline constexpr std::chrono::milliseconds kMetricsRefreshWait{4'000};
inline constexpr std::size_t kMetricsMaxSeries = 100'000;

// The event log (--event-log): kEventLogRate entries a second on average and
// kEventLogBurst at once (below journald's default limit of 10,000 per 30
// s, so that netnsd's limit is the one that acts); past them, changes are
// counted per type and namespace (at most kEventLogSummaryKeys pairs, then
// per type) and summarised every kEventLogSummaryPeriod. kEventLogQueue
// changes wait for its thread (past them, counted as lost and summarised);
// a write waits at most kEventLogSendTimeout. A file is rotated past
// kEventLogFileMaxBytes, keeping kEventLogFileKeep older ones.
inline constexpr std::size_t kEventLogRate = 200;
inline constexpr std::size_t kEventLogBurst = 1000;
inline constexpr std::chrono::milliseconds kEventLogSummaryPeriod{10'000};
inline constexpr std::size_t kEventLogSummaryKeys = 256;
inline constexpr std::size_t kEventLogQueue = 1 << 14;
inline constexpr std::chrono::milliseconds kEventLogSendTimeout{100};
inline constexpr std::uint64_t kEventLogFileMaxBytes = 64ull << 20;
inline constexpr std::size_t kEventLogFileKeep = 3;

}  // namespace netnsd::defaults
