/* A flow's tuple as the programs' keys and user space share it. */
#ifndef FLAPWATCH_TUPLE_H
#define FLAPWATCH_TUPLE_H

#include "families.h"

/* Ports in host order. */
struct fw_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 proto;
	__u16 pad;
};

#endif
