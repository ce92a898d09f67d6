// kernel.bpf_stats_enabled for the length of a measurement, and what it counts for loaded programs.
import { readFileSync, writeFileSync } from 'node:fs';
import { run } from '../test/lab/netns';

const STATS = '/proc/sys/kernel/bpf_stats_enabled';

export interface ProgStats {
  id: number;
  name: string;
  run_cnt?: number;
  run_time_ns?: number;
  recursion_misses?: number;
}

/** Runs `fn` with the kernel timing every BPF program run; the setting found is put back after. */
export async function withBpfStats<T>(fn: () => Promise<T>): Promise<T> {
  const before = readFileSync(STATS, 'utf8').trim();
  writeFileSync(STATS, '1');
  try {
    return await fn();
  } finally {
    writeFileSync(STATS, before);
  }
}

/** Every loaded program, by id, as bpftool shows it (the run counts are there while stats are on). */
export async function loadedPrograms(): Promise<Map<number, ProgStats>> {
  const all = JSON.parse((await run('bpftool', ['-j', 'prog', 'show'])).stdout) as ProgStats[];
  return new Map(all.map((p) => [p.id, p]));
}
