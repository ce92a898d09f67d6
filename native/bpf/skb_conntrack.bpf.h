/* The skb's conntrack entry and its direction, read with CO-RE. */
#ifndef FLAPWATCH_SKB_CONNTRACK_BPF_H
#define FLAPWATCH_SKB_CONNTRACK_BPF_H

#include <bpf/bpf_core_read.h>

/* skb->_nfct holds the nf_conn pointer with ctinfo in its low 3 bits (include/linux/skbuff.h). It exists since
 * v4.11, long before tp_btf (v5.5), which this tracer needs anyway. */
#define NFCT_INFOMASK 7UL
#define NFCT_PTRMASK (~NFCT_INFOMASK)

static __always_inline struct nf_conn *skb_nf_conn(const struct sk_buff *skb)
{
	return (struct nf_conn *)(skb->_nfct & NFCT_PTRMASK);
}

static __always_inline __u8 skb_ctinfo(const struct sk_buff *skb)
{
	return skb->_nfct & NFCT_INFOMASK;
}

#endif
