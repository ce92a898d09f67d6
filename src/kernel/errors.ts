// Why a kernel source failed, in words an operator can act on.
import { existsSync } from 'node:fs';

const KERNEL_BTF = '/sys/kernel/btf/vmlinux';

/** The reason no BTF is available, or null when the file is there. '' means the running kernel's. */
export function missingBtf(btfPath: string): string | null {
  const file = btfPath || KERNEL_BTF;
  if (existsSync(file)) return null;
  return btfPath
    ? `no BTF at ${file}: check --btf-path`
    : `no BTF at ${file}: the kernel needs CONFIG_DEBUG_INFO_BTF`;
}

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  syscall?: unknown;
}

/** `doing` says what failed, e.g. 'loading BPF'; `needs` names the capabilities it takes. */
export function describeKernelError(err: unknown, doing: string, needs = 'CAP_BPF and CAP_PERFMON'): string {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ErrorLike;
  const message = String(e.message ?? '').split('\n')[0];
  const code = typeof e.code === 'string' ? e.code : '';
  const call = typeof e.syscall === 'string' && e.syscall ? ` (${e.syscall})` : '';
  if (code === 'EPERM' || code === 'EACCES') {
    return `${code} ${doing}${call}: needs ${needs} (or root)`;
  }
  if (/No native build was found/.test(message)) {
    return `native addon not built: run npm run build (${message})`;
  }
  return `${code ? `${code} ` : ''}${message}${call}`.trim() || 'unknown error';
}
