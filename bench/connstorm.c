/* connstorm: short TCP connections as fast as a few processes make them, for bench/connect-storm.ts. One JSON
 * line out, with the CPU the client processes used (user + sys seconds, softirq work done on their time included).
 *   connstorm serve PORT                          accept and close, until killed
 *   connstorm connect IPV4 PORT SECONDS PROCS [RATE]
 *                                                 PROCS processes each connecting and closing in a loop for
 *                                                 SECONDS; RATE: connects per second for all of them together
 *                                                 (paced), 0 or absent = as fast as they go */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t, .tv_nsec = (long)((t - (time_t)t) * 1e9) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int serve(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) || bind(s, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(s, 4096)) {
		perror("connstorm serve");
		return 1;
	}
	printf("{\"listening\":%d}\n", port);
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c >= 0)
			close(c);
	}
}

/* One client process: connects until `end`, paced at one per `interval` seconds when it is > 0. */
static void client(const struct sockaddr_in *dst, double end, double interval, long out[2])
{
	double next = now();

	out[0] = out[1] = 0;
	for (double t = next; t < end; t = now()) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0 || connect(s, (const struct sockaddr *)dst, sizeof(*dst)))
			out[1]++;
		else
			out[0]++;
		if (s >= 0)
			close(s);
		if (interval > 0) {
			next += interval;
			sleep_until(next);
		}
	}
}

static int connect_loop(const char *ip, int port, double seconds, int procs, double rate)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) };
	long total[2] = { 0, 0 };
	int fds[2];
	double start, end;
	struct rusage ru;

	if (inet_pton(AF_INET, ip, &dst.sin_addr) != 1 || procs < 1 || pipe(fds)) {
		fprintf(stderr, "connstorm connect: bad arguments\n");
		return 2;
	}
	start = now();
	end = start + seconds;
	for (int i = 0; i < procs; i++) {
		if (fork() == 0) {
			long out[2];
			client(&dst, end, rate > 0 ? procs / rate : 0, out);
			if (write(fds[1], out, sizeof(out)) != sizeof(out))
				_exit(1);
			_exit(0);
		}
	}
	close(fds[1]);
	for (int i = 0; i < procs; i++) {
		long out[2];
		if (read(fds[0], out, sizeof(out)) == sizeof(out)) {
			total[0] += out[0];
			total[1] += out[1];
		}
	}
	while (wait(NULL) > 0)
		;
	seconds = now() - start;
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("{\"connects\":%ld,\"failed\":%ld,\"seconds\":%.3f,\"rate\":%.1f,\"cpu\":%.3f}\n", total[0], total[1], seconds,
	       total[0] / seconds, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "connect"))
		return connect_loop(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]), argc == 7 ? atof(argv[6]) : 0);
	fprintf(stderr, "usage: connstorm serve PORT | connstorm connect IPV4 PORT SECONDS PROCS [RATE]\n");
	return 2;
}
