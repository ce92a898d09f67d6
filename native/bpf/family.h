/* Address families as every BPF program and user space write them: IPv4 in the first 4 of 16 address bytes. */
#ifndef FLAPWATCH_FAMILY_H
#define FLAPWATCH_FAMILY_H

#define FW_AF_INET 4
#define FW_AF_INET6 6

#endif
