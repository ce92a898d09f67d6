// SPDX-License-Identifier: GPL-2.0
/* DNS over UDP and TCP port 53, each query followed to its answer in the kernel, for every socket of the host: the
 * node's own and every pod's, in any network namespace. A query waits in an LRU hash until its answer comes (latency
 * by rcode) or a sweep, which user space runs before each drain, counts it late (1 s) and unanswered (5 s, glibc's
 * retry) and lets it go. Counts are kept per client netns × client address × server (before DNAT) × rcode.
 *
 * Two sets of hooks, one loaded (docs/kernel.md has the measurements, `npm run bench -- dns` makes them):
 * - cgroup_skb on the cgroup v2 root (kernels with bpf_cast_to_kern_ctx, 6.3+): runs when a socket sends a packet
 *   (after OUTPUT and POSTROUTING; the skb's conntrack entry still names the destination before DNAT) and when a
 *   socket receives one (NAT undone: the socket's own view), so both ends of a query are seen once, in the client's
 *   terms, and forwarded packets never run it. It costs less per packet than the tracepoints.
 * - tp_btf/net_dev_start_xmit and tp_btf/netif_receive_skb otherwise: they fire for every packet on every device of
 *   every namespace, forwarded ones included (a pod's packet crosses four devices), and see a host client's answer
 *   before NAT is undone, so queries and answers are matched on the wire; a TCP payload outside the skb's linear
 *   data (most of them on send) cannot be read there. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "dns.h"
#define FW_STATS_COUNT FW_DNS_STAT_MAX
#include "aggregate.bpf.h"
#include "tuple.h"
#include "skb_conntrack.bpf.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IP_OFFSET 0x1fff
#define IP_CT_IS_REPLY 3
#define DNS_QR 0x8000
#define DNS_HEADER 12
#define EEXIST 17
/* messages read from one TCP segment: glibc writes a query pair (A and AAAA) in one */
#define TCP_MESSAGES 2

/* 6.3+: the kernel's sk_buff behind a cgroup_skb context. Weak: without it the tracepoints are loaded instead. */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

/* Not an LRU: it would evict the oldest queries, the unanswered ones this map is for. Full, it refuses new ones
 * (counted); answers and the sweep make room. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* set from user space before load */
	__type(key, struct fw_dns_query_key);
	__type(value, struct fw_dns_pending);
} dns_pending SEC(".maps");

FW_LRU_HASH(dns_counts, struct fw_dns_key, struct fw_dns_counts);

/* The aggregation row of a pending query's client and server, for `rcode`; created on first use. */
static __always_inline struct fw_dns_counts *row(const struct fw_dns_query_key *q, const struct fw_dns_pending *p, __u8 rcode)
{
	struct fw_dns_counts zero = {};
	struct fw_dns_key k = {};

	__builtin_memcpy(k.client, p->client, sizeof(k.client));
	__builtin_memcpy(k.server, p->server, sizeof(k.server));
	k.netns = q->netns;
	k.server_port = p->server_port;
	k.family = q->family;
	k.proto = q->proto;
	k.rcode = rcode;
	return entry_of(&dns_counts, &k, &zero, FW_DNS_STAT_FLOWS, FW_DNS_STAT_MAP_FULL);
}

static __always_inline __u32 bucket_of(__u64 ns)
{
	__u32 i = 0;

#define FW_DNS_ABOVE(us) i += ns > (us) * 1000ULL;
	FW_DNS_BOUNDS(FW_DNS_ABOVE)
#undef FW_DNS_ABOVE
	return i < FW_DNS_BUCKETS ? i : FW_DNS_BUCKETS - 1;
}

/* Where a packet's bytes are read from, by offset from its IP header. */
struct source {
	struct __sk_buff *ctx;        /* cgroup_skb: bpf_skb_load_bytes */
	unsigned char *base, *limit;  /* tracepoints: the IP header and the end of the skb's linear data */
};

/* Each program passes a constant ctx or none: the compiler keeps one branch (tracing programs cannot call the
 * first helper, cgroup_skb programs have no kernel pointers for the second). */
static __always_inline int load(const struct source *s, __u32 off, void *to, __u32 n)
{
	if (s->ctx) {
		/* headers are in the linear data: read directly, which costs far less than the helper */
		unsigned char *data = (void *)(long)s->ctx->data;

		if (off < 256 && data + off + n <= (unsigned char *)(long)s->ctx->data_end) {
			__builtin_memcpy(to, data + off, n);
			return 0;
		}
		return bpf_skb_load_bytes(s->ctx, off, to, n);
	}
	if (s->base + off + n > s->limit)
		return -1;
	return bpf_probe_read_kernel(to, n, s->base + off);
}

/* What a port-53 packet says in wire terms, and where its first DNS message starts (TCP: its 2-byte length). */
struct wire {
	struct fw_tuple t;
	__u16 dns_off;
};

/* The start of a transport header: ports, and for TCP the data offset in byte 12's high nibble. */
struct l4_start {
	__u16 sport;
	__u16 dport;
	__u8 tcp[8];
	__u8 doff;
} __attribute__((packed));

/* False for anything that is not UDP or TCP to port 53 (a query: `out`) or from it (an answer): the cost every
 * other packet pays, one read of its first bytes (a packet too short for them holds no DNS message). `proto` is the
 * skb's protocol field, network order. */
static __always_inline bool parse(const struct source *s, __u16 proto, bool out, __u32 len, struct wire *w)
{
	struct l4_start l4;
	__u32 l4_off;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct {
			struct iphdr ip;
			struct l4_start l4;
		} __attribute__((packed)) h;

		if (load(s, 0, &h, sizeof(h)) || h.ip.version != 4)
			return false;
		if (h.ip.protocol != IPPROTO_UDP && h.ip.protocol != IPPROTO_TCP)
			return false;
		if (h.ip.frag_off & bpf_htons(IP_OFFSET)) /* a later fragment: no ports */
			return false;
		l4_off = h.ip.ihl * 4;
		l4 = h.l4;
		if (l4_off != sizeof(h.ip) && load(s, l4_off, &l4, sizeof(l4))) /* IP options */
			return false;
		w->t.family = FW_AF_INET;
		w->t.proto = h.ip.protocol;
		__builtin_memcpy(w->t.saddr, &h.ip.saddr, 4);
		__builtin_memcpy(w->t.daddr, &h.ip.daddr, 4);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct {
			struct ipv6hdr ip6;
			struct l4_start l4;
		} __attribute__((packed)) h;

		/* extension headers are not walked: DNS does not use them */
		if (load(s, 0, &h, sizeof(h)) || h.ip6.version != 6)
			return false;
		if (h.ip6.nexthdr != IPPROTO_UDP && h.ip6.nexthdr != IPPROTO_TCP)
			return false;
		l4_off = sizeof(h.ip6);
		l4 = h.l4;
		w->t.family = FW_AF_INET6;
		w->t.proto = h.ip6.nexthdr;
		__builtin_memcpy(w->t.saddr, &h.ip6.saddr, 16);
		__builtin_memcpy(w->t.daddr, &h.ip6.daddr, 16);
	} else {
		return false;
	}
	if ((out ? l4.dport : l4.sport) != bpf_htons(FW_DNS_PORT))
		return false;
	w->t.sport = bpf_ntohs(l4.sport);
	w->t.dport = bpf_ntohs(l4.dport);
	w->dns_off = l4_off + (w->t.proto == IPPROTO_UDP ? sizeof(struct udphdr) : (l4.doff >> 4) * 4);
	/* a segment without a payload (SYN, ACK, FIN) ends here */
	return len >= w->dns_off + DNS_HEADER;
}

/* A query: counted under its original client and server, kept until its answer or the sweep. */
static __always_inline void note_query(const struct fw_dns_query_key *k, struct fw_dns_pending *v)
{
	struct fw_dns_counts *c = row(k, v, FW_DNS_NO_RCODE);
	long err;

	stat_add(FW_DNS_STAT_QUERIES, 1);
	v->sent_ns = bpf_ktime_get_ns();
	err = bpf_map_update_elem(&dns_pending, k, v, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* the resolver sent it again: the first send stays the one it waits from */
		if (c)
			__sync_fetch_and_add(&c->retries, 1);
		return;
	}
	stat_add(err ? FW_DNS_STAT_PENDING_FULL : FW_DNS_STAT_PENDING_ADDED, 1);
	if (c)
		__sync_fetch_and_add(&c->queries, 1);
}

static __always_inline void note_answer(const struct fw_dns_query_key *k, __u8 rcode)
{
	struct fw_dns_pending *p = bpf_map_lookup_elem(&dns_pending, k);
	struct fw_dns_pending v;
	struct fw_dns_counts *c;
	__u64 latency;

	if (!p) {
		stat_add(FW_DNS_STAT_ORPHANS, 1);
		return;
	}
	v = *p;
	latency = bpf_ktime_get_ns() - v.sent_ns;
	/* whoever deletes the entry counts it: a duplicate answer on another CPU, or the sweep, finds it gone */
	if (bpf_map_delete_elem(&dns_pending, k)) {
		stat_add(FW_DNS_STAT_ORPHANS, 1);
		return;
	}
	stat_add(FW_DNS_STAT_ANSWERS, 1);
	/* late whether or not a sweep saw it waiting: the sweeps come once per drain */
	if (latency >= FW_DNS_LATE_NS && !(v.flags & FW_DNS_PENDING_LATE)) {
		c = row(k, &v, FW_DNS_NO_RCODE);
		if (c)
			__sync_fetch_and_add(&c->late, 1);
	}
	c = row(k, &v, rcode);
	if (!c)
		return;
	__sync_fetch_and_add(&c->answers, 1);
	__sync_fetch_and_add(&c->latency_ns, latency);
	__sync_fetch_and_add(&c->buckets[bucket_of(latency)], 1);
}

/* The query's client and server as its socket sent them: the conntrack entry's original tuple when the skb has one
 * (a host client's query is DNATed at OUTPUT, maybe SNATed at POSTROUTING, before either hook), else the wire
 * (a pod's query leaves its namespace before kube-proxy's DNAT). Returns the client's port. */
static __always_inline __u16 original(const struct sk_buff *kskb, const struct wire *w, struct fw_dns_pending *v)
{
	struct nf_conn *ct = skb_nf_conn(kskb);
	struct nf_conntrack_tuple orig;

	if (ct && skb_ctinfo(kskb) < IP_CT_IS_REPLY && BPF_CORE_READ_INTO(&orig, ct, tuplehash[IP_CT_DIR_ORIGINAL].tuple) == 0) {
		__builtin_memcpy(v->client, &orig.src.u3, sizeof(v->client));
		__builtin_memcpy(v->server, &orig.dst.u3, sizeof(v->server));
		v->server_port = bpf_ntohs(orig.dst.u.all);
		return bpf_ntohs(orig.src.u.all);
	}
	__builtin_memcpy(v->client, w->t.saddr, sizeof(v->client));
	__builtin_memcpy(v->server, w->t.daddr, sizeof(v->server));
	v->server_port = w->t.dport;
	return w->t.sport;
}

/* Every DNS message the packet starts (one over UDP, up to TCP_MESSAGES over TCP), matched in the hook's terms:
 * `socket_view` (cgroup_skb) keys a query by its original addresses, which is how its answer arrives; the
 * tracepoints key both on the wire. A TCP segment that continues a message is read as one only by accident (its
 * bytes at a message's place then match no query: an orphan). */
static __always_inline void on_dns(const struct source *s, const struct sk_buff *kskb, __u32 netns, const struct wire *wp,
				   __u32 len, bool out, bool socket_view)
{
	struct fw_dns_query_key k = {};
	struct fw_dns_pending v = {};
	struct wire w = *wp;
	__u32 off;
	__u16 client_port;
	int i;

	k.netns = netns;
	k.family = w.t.family;
	k.proto = w.t.proto;
	if (out) {
		client_port = original(kskb, &w, &v);
		if (socket_view) {
			__builtin_memcpy(k.client, v.client, sizeof(k.client));
			__builtin_memcpy(k.server, v.server, sizeof(k.server));
			k.client_port = client_port;
			k.server_port = v.server_port;
		} else {
			__builtin_memcpy(k.client, w.t.saddr, sizeof(k.client));
			__builtin_memcpy(k.server, w.t.daddr, sizeof(k.server));
			k.client_port = w.t.sport;
			k.server_port = w.t.dport;
		}
	} else {
		__builtin_memcpy(k.client, w.t.daddr, sizeof(k.client));
		__builtin_memcpy(k.server, w.t.saddr, sizeof(k.server));
		k.client_port = w.t.dport;
		k.server_port = w.t.sport;
	}
	off = w.dns_off;
	for (i = 0; i < (w.t.proto == IPPROTO_TCP ? TCP_MESSAGES : 1); i++) {
		__u16 m[3]; /* TCP: length, id, flags; UDP: id, flags */
		__u16 *hdr = m;
		__u16 flags;

		if (w.t.proto == IPPROTO_TCP) {
			if (off + 2 + DNS_HEADER > len || load(s, off, m, sizeof(m)))
				break;
			hdr = &m[1];
		} else if (load(s, off, m, 2 * sizeof(__u16))) {
			stat_add(FW_DNS_STAT_TRUNCATED, 1);
			break;
		}
		flags = bpf_ntohs(hdr[1]);
		k.id = bpf_ntohs(hdr[0]);
		if (out && !(flags & DNS_QR))
			note_query(&k, &v);
		else if (!out && (flags & DNS_QR))
			note_answer(&k, flags & 0xf);
		off += 2 + bpf_ntohs(m[0]);
	}
}

static __always_inline __u32 sock_netns(const struct sock *sk)
{
	return sk ? sk->__sk_common.skc_net.net->ns.inum : 0;
}

/* cgroup_skb: return 1, these programs watch and never drop. */
static __always_inline void on_socket(struct __sk_buff *skb, bool out)
{
	struct source s = { .ctx = skb };
	struct sk_buff *kskb;
	struct wire w = {};

	if (!parse(&s, skb->protocol, out, skb->len, &w))
		return;
	kskb = bpf_cast_to_kern_ctx(skb);
	on_dns(&s, kskb, sock_netns(kskb->sk), &w, skb->len, out, true);
}

SEC("cgroup_skb/egress")
int dns_egress(struct __sk_buff *skb)
{
	on_socket(skb, true);
	return 1;
}

SEC("cgroup_skb/ingress")
int dns_ingress(struct __sk_buff *skb)
{
	on_socket(skb, false);
	return 1;
}

/* Tracepoints: a packet a socket of this namespace sends (a forwarded one has no socket by now). */
SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(dns_xmit, struct sk_buff *skb, struct net_device *dev)
{
	unsigned char *head = skb->head;
	struct source s = { .base = head + skb->network_header, .limit = head + skb->tail };
	/* skb->len counts from skb->data, here the link-layer header */
	__u32 len = skb->len - (s.base - skb->data);

	struct wire w = {};

	if (!skb->sk || !parse(&s, skb->protocol, true, len, &w))
		return 0;
	on_dns(&s, skb, dev->nd_net.net->ns.inum, &w, len, true, false);
	return 0;
}

/* Every packet a device receives, before IP: its data starts at the IP header. */
SEC("tp_btf/netif_receive_skb")
int BPF_PROG(dns_receive, struct sk_buff *skb)
{
	unsigned char *data = skb->data;
	struct source s = { .base = data, .limit = skb->head + skb->tail };
	struct wire w = {};

	if (parse(&s, skb->protocol, false, skb->len, &w))
		on_dns(&s, skb, skb->dev->nd_net.net->ns.inum, &w, skb->len, false, false);
	return 0;
}

static long sweep_one(struct bpf_map *map, struct fw_dns_query_key *k, struct fw_dns_pending *p, __u64 *now)
{
	/* a query sent after the sweep began is younger than zero */
	__u64 age = *now > p->sent_ns ? *now - p->sent_ns : 0;
	bool counted_late = p->flags & FW_DNS_PENDING_LATE;
	struct fw_dns_pending v = *p;
	struct fw_dns_counts *c;

	if (age >= FW_DNS_GIVEN_UP_NS) {
		if (bpf_map_delete_elem(map, k)) /* answered meanwhile */
			return 0;
		stat_add(FW_DNS_STAT_EXPIRED, 1);
		c = row(k, &v, FW_DNS_NO_RCODE);
		if (!c)
			return 0;
		if (!counted_late)
			__sync_fetch_and_add(&c->late, 1);
		__sync_fetch_and_add(&c->unanswered, 1);
		return 0;
	}
	c = row(k, &v, FW_DNS_NO_RCODE);
	if (!c)
		return 0;
	if (age >= FW_DNS_LATE_NS && !counted_late) {
		p->flags |= FW_DNS_PENDING_LATE;
		__sync_fetch_and_add(&c->late, 1);
	}
	__sync_fetch_and_add(&c->pending, 1);
	return 0;
}

/* Run by user space (BPF_PROG_TEST_RUN) before each drain: pending queries age in the kernel, not in user space. */
SEC("syscall")
int dns_sweep(void *ctx)
{
	__u64 now = bpf_ktime_get_ns();

	bpf_for_each_map_elem(&dns_pending, sweep_one, &now, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
