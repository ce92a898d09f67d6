// SPDX-License-Identifier: GPL-2.0
/* TCP connects per client address × destination, from sock:inet_sock_set_state: attempted, established and
 * failed, and how long the handshake took, aggregated in an LRU hash that user space drains. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "connections.h"
#define FW_STATS_COUNT FW_CONN_STAT_MAX
#include "aggregate.bpf.h"

#define AF_INET6 10

FW_LRU_HASH(connections, struct fw_conn_key, struct fw_conn_counts);

/* When each socket in SYN_SENT sent its SYN (CLOCK_MONOTONIC ns), by socket address; an entry goes when its
 * handshake ends. LRU: a flood of connects that never end evicts the oldest instead of refusing new ones. */
FW_LRU_HASH(syn_sent, __u64, __u64);

/* floor(log2(v)), v > 0; 0 for 0 */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	return r | (v >> 1);
}

/* An IPv6 socket connected to ::ffff:a.b.c.d: tcp_v6_connect hands it to tcp_v4_connect, which sets the IPv4
 * addresses too (one key per edge, whichever socket family the client used). */
static __always_inline bool v4_mapped(const struct sock_common *c)
{
	const __u32 *a = c->skc_v6_daddr.in6_u.u6_addr32;

	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

/* tp_btf arguments are BTF pointers: plain loads (checked by the verifier) are cheaper than probe-read helpers.
 * The addresses are set before the socket enters SYN_SENT (tcp_v4_connect, tcp_v6_connect) and kept after. */
static __always_inline void key_of(const struct sock *sk, struct fw_conn_key *k)
{
	const struct sock_common *c = &sk->__sk_common;

	k->netns = c->skc_net.net->ns.inum;
	k->dport = bpf_ntohs(c->skc_dport);
	if (c->skc_family == AF_INET6 && !v4_mapped(c)) {
		k->family = FW_AF_INET6;
		__builtin_memcpy(k->saddr, c->skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
		__builtin_memcpy(k->daddr, c->skc_v6_daddr.in6_u.u6_addr8, 16);
	} else {
		k->family = FW_AF_INET;
		*(__u32 *)k->saddr = c->skc_rcv_saddr;
		*(__u32 *)k->daddr = c->skc_daddr;
	}
}

static __always_inline struct fw_conn_counts *counts_of(const struct sock *sk)
{
	struct fw_conn_counts zero = {};
	struct fw_conn_key k = {};

	key_of(sk, &k);
	return entry_of(&connections, &k, &zero, FW_CONN_STAT_KEYS, FW_CONN_STAT_MAP_FULL);
}

/* sk_protocol is a plain u16 since v5.6 (bf9765145b85), before CAP_BPF (v5.8), which this tracer needs. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(conn_state, const struct sock *sk, const int oldstate, const int newstate)
{
	/* most transitions are none of ours: decided on the arguments alone, before any read */
	bool start = newstate == TCP_SYN_SENT;
	bool end = oldstate == TCP_SYN_SENT && (newstate == TCP_ESTABLISHED || newstate == TCP_CLOSE);
	struct fw_conn_counts *c;
	__u64 id = (__u64)sk, now, *sent;

	if ((!start && !end) || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	now = bpf_ktime_get_ns();
	c = counts_of(sk);
	if (start) {
		stat_add(FW_CONN_STAT_CONNECTS, 1);
		if (c)
			__sync_fetch_and_add(&c->attempted, 1);
		bpf_map_update_elem(&syn_sent, &id, &now, BPF_ANY);
		return 0;
	}
	sent = bpf_map_lookup_elem(&syn_sent, &id);
	if (newstate == TCP_ESTABLISHED && c) {
		__sync_fetch_and_add(&c->established, 1);
		if (sent && now > *sent) {
			__u64 us = (now - *sent) / 1000;
			__u32 slot = log2_u64(us);

			if (slot >= FW_CONN_LATENCY_SLOTS)
				slot = FW_CONN_LATENCY_SLOTS - 1;
			__sync_fetch_and_add(&c->latency[slot], 1);
			__sync_fetch_and_add(&c->latency_sum_us, us);
		}
	} else if (c) {
		__sync_fetch_and_add(&c->failed, 1);
	}
	if (!sent) {
		stat_add(FW_CONN_STAT_UNTIMED, 1);
		return 0;
	}
	bpf_map_delete_elem(&syn_sent, &id);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
