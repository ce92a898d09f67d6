/* What crosses the boundary between drops.bpf.c and user space: fixed-width types only. */
#ifndef FLAPWATCH_DROPS_H
#define FLAPWATCH_DROPS_H

#include "tuple.h"

/* ct_flags: what the skb's conntrack entry said when the packet was dropped */
#define FW_CT_PRESENT (1 << 0)
#define FW_CT_CONFIRMED (1 << 1)
#define FW_CT_DNAT (1 << 2)
#define FW_CT_SNAT (1 << 3)
#define FW_CT_REPLY (1 << 4) /* the packet travelled in the reply direction */

struct fw_drop_key {
	struct fw_tuple t;
	__u8 orig_daddr[16]; /* the original (pre-DNAT) destination, when conntrack knows it */
	__u16 orig_dport;
	__u8 ct_flags;
	__u8 pad;
	__u32 netns;
	__u32 reason;
	__u64 location;
};

struct fw_retrans_key {
	struct fw_tuple t;
	__u32 netns;
	__u8 state; /* TCP state of the socket (2 = SYN_SENT) */
	__u8 synack; /* 1: tcp_retransmit_synack */
	__u16 pad;
};

struct fw_counter {
	__u64 packets;
	__u64 bytes;
};

struct fw_sample {
	struct fw_drop_key key;
	__u64 time_ns; /* CLOCK_MONOTONIC */
	__u32 len;
	__u32 ifindex;
};

/* The per-CPU stats array, in index order: X(index, name user space reports it by). The names are
 * TRACER_COUNTERS in src/native.ts, in the same order. */
#define FW_STATS(X) \
	X(FW_STAT_DROPS, drops)                           /* dropped packets seen */ \
	X(FW_STAT_DROP_FLOWS, dropFlows)                  /* new keys inserted in the drops map */ \
	X(FW_STAT_DROP_MAP_FULL, dropMapFull)             /* insert refused: packets not aggregated */ \
	X(FW_STAT_RETRANS, retransmits)                   /* retransmissions seen */ \
	X(FW_STAT_RETRANS_FLOWS, retransmitFlows)         /* new keys inserted in the retransmits map */ \
	X(FW_STAT_RETRANS_MAP_FULL, retransmitMapFull)    /* insert refused */ \
	X(FW_STAT_SAMPLES, samples)                       /* samples written to the ring buffer */ \
	X(FW_STAT_SAMPLES_LIMITED, samplesLimited)        /* samples skipped by the rate limit */ \
	X(FW_STAT_SAMPLES_LOST, samplesLost)              /* ring buffer full */ \
	X(FW_STAT_TIME_WAIT, timeWait)                    /* segments TIME_WAIT sockets took: not drops, not aggregated */ \
	X(FW_STAT_SKIPPED, skipped)                       /* frees of a reason user space skips: not aggregated */

enum fw_stat {
#define FW_STAT_INDEX(index, name) index,
	FW_STATS(FW_STAT_INDEX)
#undef FW_STAT_INDEX
	FW_STAT_MAX,
};

#endif
