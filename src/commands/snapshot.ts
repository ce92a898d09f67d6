// `flapwatch snapshot`: the daemon's node sources for --duration seconds, then one report (report/snapshot.ts).
import type { SnapshotConfig } from '../config';
import { aggregateConntrack, UNREPLIED } from '../kernel/conntrack';
import { createLogger } from '../log';
import { nodeSources } from '../node/sources';
import { formatJson, formatTable } from '../report/snapshot-format';
import { SnapshotSummary } from '../report/snapshot-summary';
import { attributeGroup } from '../services/attribute';

/** Runs the command; resolves to the exit code. */
export async function runSnapshot(config: SnapshotConfig): Promise<number> {
  // No samples: a snapshot reports the aggregation only (4096 is the smallest ring the addon takes); the flows
  // still unreplied are read once, at the end.
  const logger = createLogger(config.logLevel, 2, config.logFormat);
  const node = nodeSources({ ...config, unrepliedIntervalMs: 0, samplesPerSecond: 0, ringBytes: 4096, keepBenign: true, logger });
  await Promise.all(node.all.map((s) => s.start()));
  const down = node.drops.stats().find((s) => s.source === 'drops' && !s.up);
  if (down) {
    await Promise.all(node.all.map((s) => s.stop()));
    process.stderr.write(`flapwatch: cannot watch drops: ${down.reason}\n`);
    return 1;
  }
  for (const s of node.all.flatMap((x) => x.stats())) if (!s.up && s.source !== 'drops') logger.warn(`${s.source}: ${s.reason}`);
  await node.intervals.collect(); // primes the stat and counter deltas: what came before the watch is not counted
  const summary = new SnapshotSummary();
  node.intervals.onInterval((list) => list.forEach((iv) => summary.addInterval(iv)));
  const started = Date.now();
  node.intervals.start();
  // Ctrl-C ends the watch early and still prints what was seen.
  await new Promise<void>((done) => {
    const finish = () => {
      clearTimeout(timer);
      process.off('SIGINT', finish);
      done();
    };
    const timer = setTimeout(finish, config.durationMs);
    process.once('SIGINT', finish);
  });
  await node.intervals.stop();
  await node.intervals.collect();
  if (node.conntrack.stats()[0]?.up) {
    const unreplied = await aggregateConntrack({ status: UNREPLIED }).catch(() => []);
    summary.setUnreplied(unreplied.map((g) => attributeGroup(node.index, g)));
  }
  await Promise.all(node.all.map((s) => s.stop()));
  const { dropFlowsEvicted, dropMapFull, retransmitFlowsEvicted, retransmitMapFull } = node.drops.losses();
  const lost = { dropFlowsEvicted, dropMapFull, retransmitFlowsEvicted, retransmitMapFull };
  const report = summary.report(Math.round((Date.now() - started) / 100) / 10, lost, node.drops.timeWaitSegments());
  process.stdout.write(config.json ? formatJson(report) : formatTable(report));
  return 0;
}
