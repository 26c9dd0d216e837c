/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one definition of what netnsd's BPF programs and user space exchange.
 * Included by the bpf/ programs and by src/kernel/bpf_events.cpp; never copy these
 * types. Fixed-width fields only, explicit padding, and user space
 * static_asserts the sizes (src/kernel/bpf_events.cpp).
 */
#ifndef NETNSD_BPF_NETNS_EVENTS_H
#define NETNSD_BPF_NETNS_EVENTS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Why a task was reported as having entered a network namespace. */
enum netns_event_kind {
  NETNS_EVENT_FORK = 1,    /* clone/fork created a child in another netns */
  NETNS_EVENT_UNSHARE = 2, /* unshare(CLONE_NEWNET) */
  NETNS_EVENT_SETNS = 3,   /* setns() into another netns */
  NETNS_EVENT_EXIT = 4,    /* a process outside the host netns exited; netns = where it was */
};

/* One ring-buffer record: 32 bytes. */
struct netns_event {
  __u64 timestamp_ns; /* bpf_ktime_get_ns() */
  __u32 kind;         /* enum netns_event_kind */
  __u32 tgid;         /* process id of the task */
  __u32 tid;          /* thread id of the task */
  __u32 netns;        /* inode of the namespace the task is now in (EXIT: was in) */
  __u32 prev_netns;   /* inode of the namespace it came from (the parent's, for a fork; 0 for EXIT) */
  __u32 pad;          /* explicit padding, always zero */
};

/* Slots of the per-CPU "counters" array map. */
enum netns_counter {
  NETNS_COUNTER_EVENTS = 0,         /* records submitted */
  NETNS_COUNTER_RINGBUF_DROPS = 1,  /* bpf_ringbuf_reserve() failed: ring buffer full */
  NETNS_COUNTER_INFLIGHT_DROPS = 2, /* a setns/unshare entry could not be remembered */
  NETNS_COUNTER_MAX = 3,
};

#endif /* NETNSD_BPF_NETNS_EVENTS_H */
