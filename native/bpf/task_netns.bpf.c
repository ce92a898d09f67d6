// SPDX-License-Identifier: GPL-2.0
/* The network namespace of every task in the reader's PID namespace: the kernel walks the tasks of the PID
 * namespace of whoever creates the iterator, so a daemon in a node's PID namespace sees that node's tasks
 * only, and it needs no ptrace access to them (readlink of /proc/PID/ns/net does). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "task_netns.h"

SEC("iter/task")
int task_netns(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct fw_task_netns rec;
	struct nsproxy *ns;

	if (!task)
		return 0;
	ns = task->nsproxy;
	if (!ns) /* an exiting task has let go of its namespaces */
		return 0;
	rec.netns = ns->net_ns->ns.inum;
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
