// The command-line tools the deploy checks run, and why a check skips when one is missing.
import { spawnSync } from 'node:child_process';

/** undefined when `cmd` runs here; otherwise the reason to give skip. */
export function toolSkip(cmd: string, versionArgs: readonly string[], pkg: string): string | undefined {
  const r = spawnSync(cmd, versionArgs, { encoding: 'utf8' });
  return r.error ? `needs ${cmd} (${pkg}; scripts/setup.sh installs it)` : undefined;
}

export interface Ran { code: number | null; stdout: string; stderr: string }

export function run(cmd: string, args: readonly string[], cwd?: string): Ran {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd, maxBuffer: 64 << 20, timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const promtoolSkip = toolSkip('promtool', ['--version'], "Debian's prometheus package");
/** A running Prometheus takes half a minute of a unit run's seconds: the full suite runs it. */
export const prometheusSkip = process.env.TEST_SCOPE === 'unit'
  ? 'unit run (npm run test:unit): starts a real Prometheus; npm test runs it'
  : toolSkip('prometheus', ['--version'], "Debian's prometheus package");
export const kubectlSkip = toolSkip('kubectl', ['version', '--client'], "the machine's kubectl or Debian's kubernetes-client");
