/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Tracepoint programs that tell netnsd when a task enters a network namespace.
 *
 * Tracepoints only: kprobes and fentry are unavailable on the target kernels,
 * and tracepoints are a stable interface, so we never name kernel-internal
 * functions.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "netns_events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space before load: netnsd's own process. What netnsd itself
 * causes (its setns() calls into cached namespaces, anything it spawns) is
 * not reported back to it. 0 = report all. */
const volatile __u32 ignored_tgid = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NETNS_COUNTER_MAX);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 slot) {
  __u64 *value = bpf_map_lookup_elem(&counters, &slot);
  if (value) *value += 1;
}

static __always_inline __u32 task_netns(struct task_struct *task) {
  /* nsproxy is NULL for a task past exit_task_namespaces(); the CO-RE read
   * then yields 0, which callers treat as "unknown". */
  return BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
}

static __always_inline void submit(__u32 kind, struct task_struct *task, __u32 netns,
                                   __u32 prev_netns) {
  struct netns_event *event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
  if (!event) {
    /* The ring buffer has no lost-event callback: counting here is the only
     * way user space learns it missed something and must rescan. */
    count(NETNS_COUNTER_RINGBUF_DROPS);
    return;
  }
  event->timestamp_ns = bpf_ktime_get_ns();
  event->kind = kind;
  event->tgid = BPF_CORE_READ(task, tgid);
  event->tid = BPF_CORE_READ(task, pid);
  event->netns = netns;
  event->prev_netns = prev_netns;
  event->pad = 0;
  bpf_ringbuf_submit(event, 0);
  count(NETNS_COUNTER_EVENTS);
}

/* A new task whose network namespace differs from its parent's was created
 * with CLONE_NEWNET (or by a parent that setns()'d its children's nsproxy). */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(netns_on_fork, struct task_struct *parent, struct task_struct *child) {
  __u32 child_netns = task_netns(child);
  __u32 parent_netns = task_netns(parent);

  if (child_netns == 0 || child_netns == parent_netns) return 0;
  if (ignored_tgid && BPF_CORE_READ(parent, tgid) == ignored_tgid) return 0;
  submit(NETNS_EVENT_FORK, child, child_netns, parent_netns);
  return 0;
}
