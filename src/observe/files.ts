// Files the kernel and the host expose (/proc, /sys), which may be gone or unreadable by the time they are read.
import { readFileSync } from 'node:fs';

/** The file's text, or `fallback` when it cannot be read. */
export function readOr(file: string, fallback = ''): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}
