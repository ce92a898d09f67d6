// What a kernel test needs, and why it skips when it cannot run here (never a silent pass).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (CAP_BPF, CAP_NET_ADMIN): run the suite as root';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'needs kernel BTF at /sys/kernel/btf/vmlinux';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'needs iproute2 with network namespaces';
  }
  return undefined;
}

/** undefined when kernel tests can run; otherwise the reason to give t.skip(). */
export const kernelSkip: string | undefined = whyNot();

/** Polls until check() is true; throws with `what` after ms. Not a timing assertion: a bound on waiting. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Names of loaded BPF programs (bpftool prog show). */
export function bpfProgramNames(): string[] {
  const out = execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
  return (JSON.parse(out) as { name?: string }[]).map((p) => p.name ?? '');
}

/** Our programs still loaded (the kernel keeps 15 characters of a program's name). */
export function tracerProgramsLoaded(): string[] {
  return bpfProgramNames().filter((n) => n.startsWith('kfree_skb_') || n.startsWith('tcp_retransmit_'));
}
