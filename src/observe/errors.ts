// Errors in words an operator can act on: one way to say what went wrong, for every room.

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
 * e.g. 'loading BPF'; `needs` names the capabilities it takes.
 */
export function describeSystemError(err: unknown, doing: string, needs = 'CAP_BPF and CAP_PERFMON'): string {
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
