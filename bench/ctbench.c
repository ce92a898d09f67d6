/* ctbench: fills a conntrack table and times a raw ctnetlink dump, for bench/conntrack.ts. One JSON line out.
 *   ctbench udp DST_IPV4 ADDRS PORTS FIRST_PORT [SOURCES]
 *                                   one UDP datagram from each of SOURCES sockets (1) to each of ADDRS x PORTS
 *                                   destinations
 *   ctbench tcp PORT COUNT                        COUNT TCP connections over 127.0.0.1, then closed
 *   ctbench dump [STATUS MASK]                    a ctnetlink dump that parses nothing: the kernel's own cost */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
	perror(what);
	return 1;
}

/* One datagram from fd to each of addrs x ports destinations; ports cycle fastest. */
static void send_all(int fd, struct in_addr base, long addrs, long ports, long first_port, long *sent, long *errors)
{
	enum { BATCH = 256 };
	struct sockaddr_in to[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	memset(msgs, 0, sizeof(msgs));
	for (long next = 0, total = addrs * ports; next < total;) {
		int n = 0;
		for (; n < BATCH && next < total; n++, next++) {
			to[n] = (struct sockaddr_in){ .sin_family = AF_INET,
						      .sin_port = htons((unsigned short)(first_port + next % ports)),
						      .sin_addr.s_addr = htonl(ntohl(base.s_addr) + (unsigned)(next / ports)) };
			msgs[n].msg_hdr = (struct msghdr){ .msg_name = &to[n], .msg_namelen = sizeof(to[n]),
							   .msg_iov = &iov, .msg_iovlen = 1 };
		}
		/* sendmmsg stops at a failing message: count it, go on with the next */
		for (int off = 0; off < n;) {
			int r = sendmmsg(fd, msgs + off, n - off, 0);
			if (r < 0) {
				++*errors;
				off++;
			} else {
				*sent += r;
				off += r;
			}
		}
	}
}

static int udp(const char *dst, long addrs, long ports, long first_port, long sources)
{
	struct in_addr base;
	if (inet_pton(AF_INET, dst, &base) != 1)
		return fail("inet_pton");
	long sent = 0, errors = 0;
	double start = now();
	/* every socket stays open to the end: a closed one's port could come back and repeat a flow */
	for (long s = 0; s < sources; s++) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0)
			return fail("socket");
		send_all(fd, base, addrs, ports, first_port, &sent, &errors);
	}
	printf("{\"sent\":%ld,\"errors\":%ld,\"seconds\":%.6f}\n", sent, errors, now() - start);
	return 0;
}

static int tcp(long port, long count)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) || listen(listener, (int)count))
		return fail("listen");
	for (long i = 0; i < count; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&addr, sizeof(addr)))
			return fail("connect");
		int a = accept(listener, NULL, NULL);
		if (a < 0)
			return fail("accept");
		close(c);
		close(a);
	}
	printf("{\"connections\":%ld}\n", count);
	return 0;
}

static int dump(int filter, unsigned status, unsigned mask)
{
	static char buf[64 * 1024];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return fail("netlink");
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = 1;
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	if (filter) {
		mnl_attr_put_u32(nlh, CTA_STATUS, htonl(status));
		mnl_attr_put_u32(nlh, CTA_STATUS_MASK, htonl(mask));
	}
	double start = now();
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return fail("sendto");
	long messages = 0, bytes = 0;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return fail("recvmsg");
		bytes += n;
		/* only the headers: how many entries, and where the dump ends */
		for (struct nlmsghdr *m = (struct nlmsghdr *)buf; mnl_nlmsg_ok(m, (int)n); m = mnl_nlmsg_next(m, (int *)&n)) {
			if (m->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
				fprintf(stderr, "dump: %s\n", strerror(-e->error));
				return 1;
			}
			if (m->nlmsg_type == NLMSG_DONE) {
				printf("{\"entries\":%ld,\"bytes\":%ld,\"seconds\":%.6f}\n", messages, bytes, now() - start);
				mnl_socket_close(nl);
				return 0;
			}
			messages++;
		}
	}
}

int main(int argc, char **argv)
{
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "udp"))
		return udp(argv[2], atol(argv[3]), atol(argv[4]), atol(argv[5]), argc == 7 ? atol(argv[6]) : 1);
	if (argc == 4 && !strcmp(argv[1], "tcp"))
		return tcp(atol(argv[2]), atol(argv[3]));
	if ((argc == 2 || argc == 4) && !strcmp(argv[1], "dump"))
		return dump(argc == 4, strtoul(argc == 4 ? argv[2] : "0", NULL, 0), strtoul(argc == 4 ? argv[3] : "0", NULL, 0));
	fprintf(stderr, "usage: ctbench udp DST ADDRS PORTS FIRST_PORT [SOURCES] | tcp PORT COUNT | dump [STATUS MASK]\n");
	return 2;
}
