/* What crosses the boundary between connections.bpf.c and user space: fixed-width types only. */
#ifndef FLAPWATCH_CONNECTIONS_H
#define FLAPWATCH_CONNECTIONS_H

#include "families.h"

/* Connect latency (SYN sent → established) in log2 slots of microseconds: slot i counts handshakes of
 * [2^i, 2^(i+1)) µs; slot 0 also the shorter ones, the last also the longer (2^26 µs is 67 s: past the
 * last SYN retry of the default tcp_syn_retries). */
#define FW_CONN_LATENCY_SLOTS 27

/* A client socket's connect: its own address and where it connected, as the socket sees it — a Service's
 * ClusterIP, never the endpoint kube-proxy's DNAT chose. Port in host order. */
struct fw_conn_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 netns;
	__u16 dport;
	__u8 family;
	__u8 pad;
};

struct fw_conn_counts {
	__u64 attempted;   /* → SYN_SENT */
	__u64 established; /* SYN_SENT → ESTABLISHED */
	__u64 failed;      /* SYN_SENT → CLOSE: refused, reset, timed out, or given up by the application */
	__u64 latency_sum_us;
	__u64 latency[FW_CONN_LATENCY_SLOTS]; /* of the established ones whose SYN_SENT was seen */
};

/* The per-CPU stats array, in index order: X(index, name user space reports it by). The names are
 * CONNECTION_COUNTERS in src/native.ts, in the same order. */
#define FW_CONN_STATS(X) \
	X(FW_CONN_STAT_CONNECTS, connects)          /* connects seen (→ SYN_SENT) */ \
	X(FW_CONN_STAT_KEYS, connectionKeys)        /* new keys inserted in the connections map */ \
	X(FW_CONN_STAT_MAP_FULL, connectionMapFull) /* insert refused: a transition not counted */ \
	X(FW_CONN_STAT_UNTIMED, untimed)            /* a handshake's end without its start: begun before the tracer, or evicted */

enum fw_conn_stat {
#define FW_CONN_STAT_INDEX(index, name) index,
	FW_CONN_STATS(FW_CONN_STAT_INDEX)
#undef FW_CONN_STAT_INDEX
	FW_CONN_STAT_MAX,
};

#endif
