/* Kernel-layout differences, read with CO-RE (after libbpf-tools' core_fixes.bpf.h). */
#ifndef FLAPWATCH_CORE_FIXES_BPF_H
#define FLAPWATCH_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/* Since v4.11 (a9e419dc7be6) the skb's conntrack pointer is the _nfct word, ctinfo in its low 3 bits. */
struct sk_buff___old {
	struct nf_conntrack *nfct;
};

static __always_inline struct nf_conn *skb_nf_conn(const struct sk_buff *skb)
{
	unsigned long nfct;

	if (bpf_core_field_exists(skb->_nfct)) {
		nfct = skb->_nfct;
		return (struct nf_conn *)(nfct & ~7UL);
	}
	return (struct nf_conn *)BPF_CORE_READ((struct sk_buff___old *)skb, nfct);
}

static __always_inline __u8 skb_ctinfo(const struct sk_buff *skb)
{
	if (bpf_core_field_exists(skb->_nfct))
		return skb->_nfct & 7;
	return 0;
}

#endif
