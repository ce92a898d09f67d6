// A kernel source that cannot start for want of BTF, in words an operator can act on.
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
