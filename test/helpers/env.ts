// What a kernel test needs, and why it skips when it cannot run here (never a silent pass).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Why a test that needs root (namespaces, rules, BPF, a sandbox) cannot run here: `npm run test:unit` (which sets
 * TEST_SCOPE=unit) skips them all on purpose, and a run without root cannot run them. undefined when it can.
 */
export const rootSkip: string | undefined =
  process.env.TEST_SCOPE === 'unit' ? 'unit run (npm run test:unit): needs root and the kernel; npm test runs it'
    : process.getuid?.() !== 0 ? 'needs root (network namespaces, rules, BPF): run the suite as root' : undefined;

function whyNot(): string | undefined {
  if (rootSkip) return rootSkip;
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

/** IDs of every BPF program loaded on the machine (bpftool prog show). */
export function loadedProgramIds(): Set<number> {
  const out = execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
  return new Set((JSON.parse(out) as { id: number }[]).map((p) => p.id));
}

/** IDs of the BPF programs a process holds through its fds (program and link fds carry prog_id in fdinfo). */
export function programIdsHeldBy(pid: number): number[] {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const m = /^prog_id:\s+(\d+)$/m.exec(info);
    if (m) ids.add(Number(m[1]));
  }
  return [...ids];
}

/** Waits until none of `ids` is loaded any more (the kernel frees programs after an RCU grace period). */
export async function unloaded(ids: number[], what: string): Promise<void> {
  await eventually(() => {
    const loaded = loadedProgramIds();
    return ids.every((id) => !loaded.has(id));
  }, what);
}

/** A TCP port on 127.0.0.1 nothing listens on (now). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The reason a BPF load refused with EPERM gives: its wording depends on whether this process holds the capabilities. */
export const EPERM_LOADING = /^EPERM loading BPF \(bpf_object__load\)(: needs| although the process holds) CAP_BPF and CAP_PERFMON/;
