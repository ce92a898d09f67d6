// SPDX-License-Identifier: GPL-2.0
/* Every dropped skb (tp_btf/kfree_skb) and every TCP retransmission, aggregated per flow in LRU hashes that
 * user space drains; a rate-limited ring buffer of samples for the logs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "drops.h"
#define FW_STATS_COUNT FW_STAT_MAX
#include "aggregate.bpf.h"
#include "skb_conntrack.bpf.h"

/* uapi and kernel constants that vmlinux.h (types and enums only) does not carry */
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define AF_INET6 10
#define IP_OFFSET 0x1fff /* iphdr.frag_off: the fragment offset bits */
#define IP_CT_IS_REPLY 3
#define NSEC_PER_SEC 1000000000ULL
/* skb->network_header / transport_header when the stack has not set them (skb_header_was_set()) */
#define SKB_HEADER_UNSET ((__u16)~0U)

/* the cap on samples per second, divided among CPUs by user space: no shared counter on the hot path */
const volatile __u32 samples_per_cpu_sec = 100;
/* reasons (below 256) user space never reads: a bit per reason, set before load */
const volatile __u64 skip_reasons[4] = {};

FW_LRU_HASH(drops, struct fw_drop_key, struct fw_counter);
FW_LRU_HASH(retransmits, struct fw_retrans_key, struct fw_counter);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} samples SEC(".maps");

struct rate_window {
	__u64 start_ns;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rate_window);
} sample_rate SEC(".maps");

static __always_inline void count(void *map, const void *key, __u32 bytes, __u32 stat_flows, __u32 stat_full)
{
	struct fw_counter zero = {};
	struct fw_counter *c = entry_of(map, key, &zero, stat_flows, stat_full);

	if (!c)
		return;
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, bytes);
}

/* tp_btf arguments are BTF pointers: plain loads (checked by the verifier) are cheaper than probe-read helpers */
static __always_inline __u32 netns_of(struct net_device *dev, const struct sock *sk)
{
	if (dev)
		return dev->nd_net.net->ns.inum;
	if (sk)
		return sk->__sk_common.skc_net.net->ns.inum;
	return 0;
}

/* Reads the IP and L4 headers at skb->head + network_header. False when the skb is not IP. */
static __always_inline bool parse_headers(struct sk_buff *skb, struct fw_tuple *t)
{
	__u16 proto = bpf_ntohs(skb->protocol);
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header;
	__u16 th = skb->transport_header;
	__u16 ports[2];

	if (nh == SKB_HEADER_UNSET)
		return false;

	if (proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh) || ip.version != 4)
			return false;
		t->family = FW_AF_INET;
		t->proto = ip.protocol;
		__builtin_memcpy(t->saddr, &ip.saddr, 4);
		__builtin_memcpy(t->daddr, &ip.daddr, 4);
		/* the transport header is not set yet on the receive path before IP has run */
		if (th == SKB_HEADER_UNSET || th <= nh)
			th = nh + ip.ihl * 4;
		if (ip.frag_off & bpf_htons(IP_OFFSET)) /* not the first fragment: no ports */
			return true;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh) || ip6.version != 6)
			return false;
		t->family = FW_AF_INET6;
		t->proto = ip6.nexthdr; /* extension headers are not walked: such packets keep no ports */
		__builtin_memcpy(t->saddr, &ip6.saddr, 16);
		__builtin_memcpy(t->daddr, &ip6.daddr, 16);
		if (th == SKB_HEADER_UNSET || th <= nh)
			th = nh + sizeof(ip6);
	} else {
		return false;
	}

	if (t->proto == IPPROTO_TCP || t->proto == IPPROTO_UDP || t->proto == IPPROTO_SCTP) {
		if (bpf_probe_read_kernel(ports, sizeof(ports), head + th) == 0) {
			t->sport = bpf_ntohs(ports[0]);
			t->dport = bpf_ntohs(ports[1]);
		}
	}
	return true;
}

/* The skb's conntrack entry: is there one, was it confirmed, was it NATed, and where was the flow first headed. */
static __always_inline void read_conntrack(struct sk_buff *skb, struct fw_drop_key *k)
{
	struct nf_conn *ct = skb_nf_conn(skb);
	struct nf_conntrack_tuple orig;
	unsigned long status;

	if (!ct)
		return;
	status = BPF_CORE_READ(ct, status);
	k->ct_flags = FW_CT_PRESENT;
	if (status & IPS_CONFIRMED)
		k->ct_flags |= FW_CT_CONFIRMED;
	if (status & IPS_DST_NAT)
		k->ct_flags |= FW_CT_DNAT;
	if (status & IPS_SRC_NAT)
		k->ct_flags |= FW_CT_SNAT;
	if (skb_ctinfo(skb) >= IP_CT_IS_REPLY)
		k->ct_flags |= FW_CT_REPLY;
	if (BPF_CORE_READ_INTO(&orig, ct, tuplehash[IP_CT_DIR_ORIGINAL].tuple))
		return;
	__builtin_memcpy(k->orig_daddr, &orig.dst.u3, sizeof(k->orig_daddr));
	k->orig_dport = bpf_ntohs(orig.dst.u.all);
}

static __always_inline bool sample_allowed(__u64 now)
{
	__u32 zero = 0;
	struct rate_window *w = bpf_map_lookup_elem(&sample_rate, &zero);

	if (!w || samples_per_cpu_sec == 0)
		return false;
	if (now - w->start_ns >= NSEC_PER_SEC) {
		w->start_ns = now;
		w->count = 0;
	}
	return w->count++ < samples_per_cpu_sec;
}

static __always_inline bool skipped(__u32 reason)
{
	__u32 word = reason >> 6;

	if (reason >= 256)
		return false;
	barrier_var(word); /* or clang drops the mask below, which the verifier needs to bound the index */
	return (skip_reasons[word & 3] >> (reason & 63)) & 1;
}

static __always_inline int on_drop(struct sk_buff *skb, void *location, __u32 reason)
{
	struct fw_drop_key k = {};
	struct net_device *dev;
	struct fw_sample *s;
	__u32 len;
	__u64 now;

	/* benign frees come with every closed socket: counted, never keyed by flow */
	if (skipped(reason)) {
		stat_add(FW_STAT_SKIPPED, 1);
		return 0;
	}
	if (!parse_headers(skb, &k.t))
		return 0;
	dev = skb->dev;
	k.netns = netns_of(dev, skb->sk);
	k.reason = reason;
	k.location = (__u64)location;
	read_conntrack(skb, &k);
	len = skb->len;

	stat_add(FW_STAT_DROPS, 1);
	count(&drops, &k, len, FW_STAT_DROP_FLOWS, FW_STAT_DROP_MAP_FULL);

	now = bpf_ktime_get_ns();
	if (!sample_allowed(now)) {
		stat_add(FW_STAT_SAMPLES_LIMITED, 1);
		return 0;
	}
	s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);
	if (!s) {
		stat_add(FW_STAT_SAMPLES_LOST, 1);
		return 0;
	}
	s->key = k;
	s->time_ns = now;
	s->len = len;
	s->ifindex = dev ? dev->ifindex : 0;
	bpf_ringbuf_submit(s, 0);
	stat_add(FW_STAT_SAMPLES, 1);
	return 0;
}

/* Since v6.11 kfree_skb names the socket that received the packet. A segment a TIME_WAIT socket took (a late
 * FIN or ACK of a closed connection, answered or ignored) is freed with no reason named: housekeeping, not loss,
 * and a new tuple with every short connection. It is counted apart, never aggregated: a storm of short
 * connections would otherwise fill the map and user space with one key per closed connection. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(kfree_skb_rx_sk, struct sk_buff *skb, void *location, enum skb_drop_reason reason, struct sock *rx_sk)
{
	if (reason == SKB_DROP_REASON_NOT_SPECIFIED && rx_sk && rx_sk->__sk_common.skc_state == TCP_TIME_WAIT) {
		stat_add(FW_STAT_TIME_WAIT, 1);
		return 0;
	}
	return on_drop(skb, location, reason);
}

/* v5.17 (c504e5c2f964) to v6.10: the reason, no socket. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(kfree_skb_reason, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	return on_drop(skb, location, reason);
}

/* Before v5.17: no reason; user space disables the program above and loads this one. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(kfree_skb_noreason, struct sk_buff *skb, void *location)
{
	return on_drop(skb, location, 0);
}

/* A socket's tuple, from the part every socket and request socket shares (struct sock_common), read once per
 * field; its own family decides (a request to a dual-stack listener may be IPv4). */
static __always_inline void common_tuple(const struct sock_common *c, struct fw_tuple *t)
{
	t->proto = IPPROTO_TCP;
	t->sport = BPF_CORE_READ(c, skc_num);
	t->dport = bpf_ntohs(BPF_CORE_READ(c, skc_dport));
	if (BPF_CORE_READ(c, skc_family) == AF_INET6) {
		t->family = FW_AF_INET6;
		BPF_CORE_READ_INTO(&t->saddr, c, skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&t->daddr, c, skc_v6_daddr.in6_u.u6_addr8);
	} else {
		t->family = FW_AF_INET;
		BPF_CORE_READ_INTO((__u32 *)t->saddr, c, skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->daddr, c, skc_daddr);
	}
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit_skb, const struct sock *sk, const struct sk_buff *skb)
{
	struct fw_retrans_key k = {};

	common_tuple(&sk->__sk_common, &k.t);
	k.netns = netns_of(NULL, sk);
	k.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	stat_add(FW_STAT_RETRANS, 1);
	count(&retransmits, &k, skb ? BPF_CORE_READ(skb, len) : 0, FW_STAT_RETRANS_FLOWS, FW_STAT_RETRANS_MAP_FULL);
	return 0;
}

/* The listener's SYN-ACK was not answered: the tuple comes from the request sock, not the listener. */
SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(tcp_retransmit_synack, const struct sock *sk, const struct request_sock *req)
{
	struct fw_retrans_key k = {};

	common_tuple(&req->__req_common, &k.t);
	k.netns = netns_of(NULL, sk);
	k.state = TCP_SYN_RECV;
	k.synack = 1;
	stat_add(FW_STAT_RETRANS, 1);
	count(&retransmits, &k, 0, FW_STAT_RETRANS_FLOWS, FW_STAT_RETRANS_MAP_FULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
