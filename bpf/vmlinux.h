/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Minimal CO-RE subset of the kernel types netnsd's BPF programs touch.
 *
 * Written by hand instead of dumping the build host's BTF, so the build does
 * not depend on the kernel it runs on. Every struct carries
 * preserve_access_index: libbpf relocates each field access against the
 * running kernel's BTF at load time, so only the fields named here matter and
 * their order/offsets below are irrelevant.
 */
#ifndef NETNSD_BPF_VMLINUX_H
#define NETNSD_BPF_VMLINUX_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short int __s16;
typedef short unsigned int __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long int __s64;
typedef long long unsigned int __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef __u16 __sum16;
typedef _Bool bool;
enum { false = 0, true = 1 };

/* UAPI values (include/uapi/linux/bpf.h); stable ABI, not relocated. */
enum bpf_map_type {
  BPF_MAP_TYPE_HASH = 1,
  BPF_MAP_TYPE_ARRAY = 2,
  BPF_MAP_TYPE_PERCPU_ARRAY = 6,
  BPF_MAP_TYPE_RINGBUF = 27,
};

/* UAPI: what bpf_get_ns_current_pid_tgid() fills in. */
struct bpf_pidns_info {
  __u32 pid;
  __u32 tgid;
};

enum {
  BPF_ANY = 0,
  BPF_NOEXIST = 1,
  BPF_EXIST = 2,
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/* include/linux/ns_common.h: inum is the nsfs inode number user space sees. */
struct ns_common {
  unsigned int inum;
};

struct net {
  struct ns_common ns;
};

struct nsproxy {
  struct net *net_ns;
};

struct task_struct {
  int pid;
  int tgid;
  struct task_struct *group_leader;
  struct nsproxy *nsproxy;
};

#pragma clang attribute pop

#endif /* NETNSD_BPF_VMLINUX_H */
