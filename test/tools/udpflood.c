/* udpflood: sends UDP datagrams fast to many distinct tuples (dst IP x dst port) and prints one JSON line.
 *   udpflood -d IPv4 -p FIRST_PORT [-n PORTS] [-a ADDRS] (-c PACKETS | -t SECONDS) [-s PAYLOAD_BYTES]
 * Ports cycle fastest, then the -a consecutive addresses. Send errors (EPERM from a netfilter drop,
 * ENOBUFS, ...) are counted, not fatal, so the tool measures loss instead of stopping at the first one.
 * pps counts both: behind an OUTPUT DROP rule every packet comes back EPERM, yet each reached the rule. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: udpflood -d IPv4 -p FIRST_PORT [-n PORTS] [-a ADDRS] (-c PACKETS | -t SECONDS) [-s BYTES]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct in_addr dst = { 0 };
	long first_port = 0, ports = 1, addrs = 1, count = 0, size = 64;
	double seconds = 0;
	int opt;

	while ((opt = getopt(argc, argv, "d:p:n:a:c:t:s:")) != -1) {
		switch (opt) {
		case 'd': if (inet_pton(AF_INET, optarg, &dst) != 1) usage(); break;
		case 'p': first_port = atol(optarg); break;
		case 'n': ports = atol(optarg); break;
		case 'a': addrs = atol(optarg); break;
		case 'c': count = atol(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 's': size = atol(optarg); break;
		default: usage();
		}
	}
	if (!dst.s_addr || first_port < 1 || ports < 1 || first_port + ports > 65536 || addrs < 1 ||
	    (count > 0) == (seconds > 0) || size < 0 || size > 65507)
		usage();

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	char *payload = calloc(1, size ? size : 1);
	struct sockaddr_in to[BATCH];
	struct iovec iov = { .iov_base = payload, .iov_len = size };
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_name = &to[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(to[i]);
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	long sent = 0, errors = 0, tuple = 0;
	double start = now(), deadline = start + seconds;
	for (;;) {
		long left = count ? count - sent - errors : BATCH;
		if (left <= 0 || (!count && now() >= deadline))
			break;
		int n = left < BATCH ? (int)left : BATCH;
		for (int i = 0; i < n; i++, tuple++) {
			to[i].sin_family = AF_INET;
			to[i].sin_port = htons((unsigned short)(first_port + tuple % ports));
			to[i].sin_addr.s_addr = htonl(ntohl(dst.s_addr) + (unsigned)(tuple / ports % addrs));
		}
		/* sendmmsg stops at the first failing message: count it and go on with the next. */
		for (int off = 0; off < n;) {
			int r = sendmmsg(fd, msgs + off, n - off, 0);
			if (r < 0) {
				errors++;
				off++;
			} else {
				sent += r;
				off += r;
			}
		}
	}
	double elapsed = now() - start;
	printf("{\"sent\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"pps\":%.0f}\n", sent, errors, elapsed,
	       elapsed > 0 ? (sent + errors) / elapsed : 0);
	close(fd);
	free(payload);
	return 0;
}
