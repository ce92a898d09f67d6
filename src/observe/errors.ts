// Errors in words an operator can act on: one way to say what went wrong, for every room.
import { readFileSync } from 'node:fs';

// capability(7) numbers
const BPF_CAPABILITIES = [38, 39]; // CAP_PERFMON, CAP_BPF
const CAPABILITY_NUMBERS: Record<string, number> = { CAP_NET_ADMIN: 12, CAP_PERFMON: 38, CAP_BPF: 39 };

/** Whether this process's effective capabilities include all of these (by number). */
export function hasCapabilities(caps: readonly number[], status = '/proc/self/status'): boolean {
  let text: string;
  try {
    text = readFileSync(status, 'utf8');
  } catch {
    return false;
  }
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(text)?.[1];
  if (!hex) return false;
  const eff = BigInt(`0x${hex}`);
  return caps.every((c) => (eff >> BigInt(c)) & 1n);
}

/** The message of anything thrown. */
export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  syscall?: unknown;
}

/**
 * A failed system call (the addon's errors carry errno's code and the call) in words: `doing` says what failed,
 * e.g. 'loading BPF'; `needs` names the capabilities it takes; `holds` says whether this process has capabilities.
 */
export function describeSystemError(err: unknown, doing: string, needs = 'CAP_BPF and CAP_PERFMON', holds: (caps: readonly number[]) => boolean = hasCapabilities): string {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ErrorLike;
  const message = String(e.message ?? '').split('\n')[0];
  const code = typeof e.code === 'string' ? e.code : '';
  const call = typeof e.syscall === 'string' && e.syscall ? ` (${e.syscall})` : '';
  // the runtime is to blame only when the process holds every capability the call needs (a cgroup attach: NET_ADMIN too)
  const needed = [...needs.matchAll(/CAP_\w+/g)].map((m) => CAPABILITY_NUMBERS[m[0]]).filter((n): n is number => n !== undefined);
  if (code === 'EPERM' && call.includes('bpf') && holds([...new Set([...BPF_CAPABILITIES, ...needed])])) {
    return `EPERM ${doing}${call} although the process holds ${needs}: the container runtime's seccomp `
      + "profile blocks bpf() (podman's and CRI-O's default did until containers-common 0.60): give the pod a seccomp profile that allows it (README: A missing capability)";
  }
  if (code === 'EPERM' || code === 'EACCES') {
    return `${code} ${doing}${call}: needs ${needs} (or root)`;
  }
  if (/No native build was found/.test(message)) {
    return `native addon not built: run npm run build (${message})`;
  }
  return `${code ? `${code} ` : ''}${message}${call}`.trim() || 'unknown error';
}
