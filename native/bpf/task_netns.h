/* What crosses the boundary between task_netns.bpf.c and user space: the iterator's output is one record per
 * task, nothing else. */
#ifndef FLAPWATCH_TASK_NETNS_H
#define FLAPWATCH_TASK_NETNS_H

struct fw_task_netns {
	__u32 netns; /* the inode of the task's network namespace (readlink /proc/PID/ns/net) */
};

#endif
