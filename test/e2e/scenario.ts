// One fault of an end-to-end run: inject it, wait for the incidents it should make, undo it, wait for quiet.
import { eventually } from '../helpers/env';
import type { Cluster, IncidentLine } from './cluster';

export type Done = ((i: IncidentLine) => boolean) | { all: (found: IncidentLine[]) => boolean };

/** Waits until `service`'s new incidents satisfy `done` (a predicate of one, or of them all), then for every probed pod to pass again after `undo`. */
export async function scenario(cluster: Cluster, inject: () => Promise<() => Promise<void>>, done: Done, what: string, service = 'web'): Promise<IncidentLine[]> {
  const seen = cluster.incidents().length;
  const from = Date.now();
  const undo = await inject();
  let found: IncidentLine[] = [];
  try {
    await eventually(() => {
      // a failure judged now may be the last fault's: its judgement can wait for late evidence
      found = cluster.incidents().slice(seen).filter((i) => i.service === service && Date.parse(i.at) >= from);
      return 'all' in done ? done.all(found) : found.some(done);
    }, what, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}; ${service}'s incidents: ${JSON.stringify(found.map((i) => [i.verdict, i.msg]), null, 1)}`);
    });
  } finally {
    await undo();
  }
  // quiet again: three kubelet rounds in a row pass for every probed pod
  await eventually(() => cluster.probeResults.every((r) => r.slice(-3).length === 3 && r.slice(-3).every(Boolean)), 'the probed pods to pass their probes again', 30_000);
  return found;
}
