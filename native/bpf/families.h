/* Address families as flapwatch's records carry them (user space reads them as 4 and 6), shared by every
 * program's boundary header. Addresses are 16 bytes; IPv4 sits in the first 4. */
#ifndef FLAPWATCH_FAMILIES_H
#define FLAPWATCH_FAMILIES_H

#define FW_AF_INET 4
#define FW_AF_INET6 6

#endif
