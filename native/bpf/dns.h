/* What crosses the boundary between dns.bpf.c and user space: fixed-width types only. */
#ifndef FLAPWATCH_DNS_H
#define FLAPWATCH_DNS_H

#include "families.h"

#define FW_DNS_PORT 53
/* the rcode of a row that counts queries (sent, retried, late, unanswered) rather than answers */
#define FW_DNS_NO_RCODE 0xff
/* FW_DNS_LATE_NS: a query unanswered this long is late; FW_DNS_GIVEN_UP_NS: unanswered (glibc's 5 s retry) */
#define FW_DNS_LATE_NS 1000000000ULL
#define FW_DNS_GIVEN_UP_NS 5000000000ULL

/* Upper bounds of the latency buckets in microseconds, in order; one more bucket counts what lies above the
 * last. DNS_LATENCY_BOUNDS_US in src/native.ts is the same list. */
#define FW_DNS_BOUNDS(X) \
	X(250) X(500) X(1000) X(2500) X(5000) X(10000) X(25000) X(50000) X(100000) X(250000) X(500000) X(1000000) \
	X(2500000) X(5000000)
#define FW_DNS_ONE(us) +1
#define FW_DNS_BUCKETS (0 FW_DNS_BOUNDS(FW_DNS_ONE) + 1)

/* Addresses are 16 bytes; IPv4 sits in the first 4. Ports in host order. What matches an answer to its query: the
 * client's address and port, the server's, the query's id, in the terms of the hook that sees both (the socket's
 * own view for cgroup_skb; the wire for the device tracepoints, where a host client's query is already DNATed). */
struct fw_dns_query_key {
	__u8 client[16];
	__u8 server[16];
	__u32 netns;
	__u16 client_port;
	__u16 server_port;
	__u16 id;
	__u8 family;
	__u8 proto;
};

#define FW_DNS_PENDING_LATE (1 << 0) /* counted late */

/* A query waiting for its answer, and what it is counted under: its client and server as the socket sent it
 * (before SNAT and DNAT, from the conntrack entry when the packet had one). */
struct fw_dns_pending {
	__u8 client[16];
	__u8 server[16];
	__u64 sent_ns; /* CLOCK_MONOTONIC, when first sent */
	__u16 server_port;
	__u16 pad;
	__u32 flags;
};

/* The aggregation: client network namespace × client address × server (the original destination) × rcode. */
struct fw_dns_key {
	__u8 client[16];
	__u8 server[16];
	__u32 netns;
	__u16 server_port;
	__u8 family;
	__u8 proto;
	__u8 rcode; /* the answers' header rcode, or FW_DNS_NO_RCODE */
	__u8 pad[3];
};

struct fw_dns_counts {
	/* rows of FW_DNS_NO_RCODE */
	__u64 queries;    /* sent the first time */
	__u64 retries;    /* sent again (same id, port and server) while still unanswered */
	__u64 late;       /* unanswered after FW_DNS_LATE_NS (some are answered later) */
	__u64 unanswered; /* unanswered after FW_DNS_GIVEN_UP_NS: no longer waited for */
	__u64 pending;    /* in flight at the sweep before the drain: a level, not a count */
	/* rows of an rcode */
	__u64 answers;
	__u64 latency_ns; /* sum, from the first send */
	__u64 buckets[FW_DNS_BUCKETS];
};

/* The per-CPU stats array, in index order: X(index, name user space reports it by). The names are
 * DNS_COUNTERS in src/native.ts, in the same order. */
#define FW_DNS_STATS(X) \
	X(FW_DNS_STAT_QUERIES, queries)               /* queries seen (first sends and retries) */ \
	X(FW_DNS_STAT_ANSWERS, answers)               /* answers matched to their query */ \
	X(FW_DNS_STAT_ORPHANS, orphanAnswers)         /* answers with no query waiting: late, duplicate, or sent before start */ \
	X(FW_DNS_STAT_PENDING_ADDED, pendingAdded)    /* queries entered in the pending map */ \
	X(FW_DNS_STAT_PENDING_FULL, pendingFull)      /* the pending map was full: the query is not followed */ \
	X(FW_DNS_STAT_EXPIRED, expired)               /* pending queries swept out unanswered */ \
	X(FW_DNS_STAT_FLOWS, flows)                   /* new keys inserted in the aggregation map */ \
	X(FW_DNS_STAT_MAP_FULL, mapFull)              /* insert refused: not aggregated */ \
	X(FW_DNS_STAT_TRUNCATED, truncated)           /* a port-53 packet too short for a DNS header */

enum fw_dns_stat {
#define FW_DNS_STAT_INDEX(index, name) index,
	FW_DNS_STATS(FW_DNS_STAT_INDEX)
#undef FW_DNS_STAT_INDEX
	FW_DNS_STAT_MAX,
};

#endif
