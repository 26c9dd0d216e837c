/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Tracepoint programs that tell netnsd when a task enters a network namespace
 * (and when a process outside the host namespace exits, so netnsd knows when
 * to check whether a namespace has become lonely).
 *
 * Tracepoints only: kprobes and fentry are unavailable on the target kernels,
 * and tracepoints are a stable interface, so we never name kernel-internal
 * functions. Everything is BTF-enabled (tp_btf), which needs no tracefs.
 */
// clang-format off: vmlinux.h defines the kernel types every other header needs.
#include "vmlinux.h"
// clang-format on

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "netns_events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space before load (rodata). */
/* netnsd's own process, as its pid namespace (dev, inode) numbers it: what it
 * causes itself (its setns() calls into cached namespaces, anything it
 * spawns) is not reported back to it. 0 = report all. task->tgid would only
 * match when netnsd runs in the initial pid namespace. */
const volatile __u32 ignored_tgid = 0;
const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;
/* The host's namespace: exits there are never interesting (it is never lonely). */
const volatile __u32 host_netns = 0;
/* This architecture's syscall numbers for unshare(2) and setns(2). */
const volatile long nr_unshare = -1;
const volatile long nr_setns = -1;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1024 * 1024);
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NETNS_COUNTER_MAX);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

/* An unshare()/setns() in flight: the caller's netns at entry. */
struct inflight_call {
  __u32 netns;
  __u32 kind; /* NETNS_EVENT_UNSHARE or NETNS_EVENT_SETNS */
};

/* tid -> call in flight. A thread runs one syscall at a time, so the entry
 * made at sys_enter is the one found at its sys_exit. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, struct inflight_call);
} inflight SEC(".maps");

static __always_inline void count(__u32 slot) {
  __u64* value = bpf_map_lookup_elem(&counters, &slot);
  if (value) *value += 1;
}

/* Is the current task netnsd itself? */
static __always_inline bool current_is_ignored(void) {
  if (!ignored_tgid) return false;
  struct bpf_pidns_info ns = {};
  /* Fails when the current task is not in netnsd's pid namespace at all. */
  if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)) != 0) return false;
  return ns.tgid == ignored_tgid;
}

static __always_inline __u32 task_netns(struct task_struct* task) {
  /* nsproxy is NULL for a task past exit_task_namespaces(); the CO-RE read
   * then yields 0, which callers treat as "unknown". */
  return BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
}

static __always_inline void submit(__u32 kind, struct task_struct* task, __u32 netns, __u32 prev_netns) {
  struct netns_event* event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
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
 * with CLONE_NEWNET. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(netns_on_fork, struct task_struct* parent, struct task_struct* child) {
  __u32 child_netns = task_netns(child);
  __u32 parent_netns = task_netns(parent);

  if (child_netns == 0 || child_netns == parent_netns) return 0;
  if (current_is_ignored()) return 0; /* the fork runs in the parent's context */
  submit(NETNS_EVENT_FORK, child, child_netns, parent_netns);
  return 0;
}

/* unshare() and setns() change the caller's namespaces in place: remember
 * the network namespace at entry, compare at exit. Comparing, rather than
 * decoding flags, means unshare(CLONE_NEWNS) alone, a setns() into another
 * namespace type, or a failed call are never reported. The syscall-number
 * test comes first: these programs run on every system call. */
SEC("tp_btf/sys_enter")
int BPF_PROG(netns_on_sys_enter, struct pt_regs* regs, long id) {
  if (id != nr_unshare && id != nr_setns) return 0;
  if (current_is_ignored()) return 0;
  struct task_struct* task = bpf_get_current_task_btf();
  __u32 tid = BPF_CORE_READ(task, pid);
  struct inflight_call call = {
      .netns = task_netns(task),
      .kind = id == nr_unshare ? NETNS_EVENT_UNSHARE : NETNS_EVENT_SETNS,
  };
  if (bpf_map_update_elem(&inflight, &tid, &call, BPF_ANY) != 0) count(NETNS_COUNTER_INFLIGHT_DROPS);
  return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(netns_on_sys_exit, struct pt_regs* regs, long ret) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  struct inflight_call* call = bpf_map_lookup_elem(&inflight, &tid);
  if (!call) return 0;
  struct inflight_call before = *call;
  bpf_map_delete_elem(&inflight, &tid);

  struct task_struct* task = bpf_get_current_task_btf();
  __u32 now = task_netns(task);
  if (now == 0 || now == before.netns) return 0;
  submit(before.kind, task, now, before.netns);
  return 0;
}

/* A task outside the host namespace exits: its namespace may now have no
 * task left. A thread in the same namespace as its group leader is skipped
 * (the process still holds the namespace); one that setns()'d elsewhere, or
 * that outlives a leader already gone (whose nsproxy reads as 0), is not. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(netns_on_exit, struct task_struct* task) {
  __u32 netns = task_netns(task);
  if (netns == 0 || netns == host_netns) return 0;
  if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid) &&
      netns == BPF_CORE_READ(task, group_leader, nsproxy, net_ns, ns.inum)) {
    return 0;
  }
  submit(NETNS_EVENT_EXIT, task, netns, 0);
  return 0;
}
