// SPDX-License-Identifier: GPL-2.0
/* The costs that decided connections.bpf.c's shape, measured side by side on the same events (bench/hooks.ts):
 * reading a socket's key in tp_btf (plain loads) against raw_tp (probe reads), and the hash lookup a kernel-side
 * netns filter would add. Each program reads on every sock:inet_sock_set_state, so that the difference is the
 * reading alone. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "connections.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_conn_key);
} sink SEC(".maps"); /* where the reads go, so that none is optimised away */

/* A node's namespaces, as an in-kernel filter would hold them. Empty: every lookup misses and the reads go on,
 * as they would for a netns in scope. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} scope SEC(".maps");

static __always_inline struct fw_conn_key *slot(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sink, &zero);
}

/* tp_btf: the socket is a BTF pointer, its fields plain loads */
static __always_inline void read_plain(const struct sock *sk, struct fw_conn_key *k)
{
	const struct sock_common *c = &sk->__sk_common;

	k->netns = c->skc_net.net->ns.inum;
	k->dport = c->skc_dport;
	*(__u32 *)k->saddr = c->skc_rcv_saddr;
	*(__u32 *)k->daddr = c->skc_daddr;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_btf_read, const struct sock *sk, const int oldstate, const int newstate)
{
	struct fw_conn_key *k = slot();

	if (k)
		read_plain(sk, k);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_btf_read_scope, const struct sock *sk, const int oldstate, const int newstate)
{
	struct fw_conn_key *k = slot();
	__u32 netns = sk->__sk_common.skc_net.net->ns.inum;

	if (k && !bpf_map_lookup_elem(&scope, &netns))
		read_plain(sk, k);
	return 0;
}

/* raw_tp: the socket is a number, each field a probe read */
SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(raw_tp_read, const struct sock *sk, const int oldstate, const int newstate)
{
	struct fw_conn_key *k = slot();

	if (!k)
		return 0;
	k->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	k->dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	*(__u32 *)k->saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
	*(__u32 *)k->daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
