// How long the three-node lab (test/lab/cluster-lab.ts) takes to build and to remove: the network (nodes, pods,
// kube-proxy's rules, the overlay), the Kubernetes side (API server, kubelets, probers), a daemon per node
// (until each is ready and has listed the API), Prometheus (until ready), and destroy() of it all.
import { ClusterLab, type ClusterLabOptions } from '../test/lab/cluster-lab';
import type { Bench } from './types';

const ROUNDS = 5;
const LAB: ClusterLabOptions = {
  nodes: [{ pods: ['shop/front-0', 'shop/api-0'] }, { pods: ['shop/api-1', 'shop/db-0'] }, { pods: ['shop/cache-0', 'shop/db-1'] }],
  services: [
    { namespace: 'shop', name: 'front', endpoints: ['shop/front-0'] },
    { namespace: 'shop', name: 'api', endpoints: ['shop/api-0', 'shop/api-1'] },
    { namespace: 'shop', name: 'db', endpoints: ['shop/db-0', 'shop/db-1'] },
    { namespace: 'shop', name: 'cache', endpoints: ['shop/cache-0'] },
  ],
};
const PHASES = ['network (3 nodes, 6 pods, overlay)', 'API server, kubelets, probers', 'a daemon per node, ready', 'Prometheus, ready', 'destroy()', 'all'] as const;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

export async function clusterLabBench(): Promise<Bench> {
  const times: number[][] = PHASES.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    let lab: ClusterLab | undefined;
    const phases = [
      await timed(async () => (lab = await ClusterLab.create(LAB))),
      await timed(() => lab!.startKube()),
      await timed(() => lab!.kube!.startDaemons()),
      await timed(() => lab!.kube!.startPrometheus()),
      await timed(() => lab!.destroy()),
    ];
    phases.forEach((t, i) => times[i]!.push(t));
    times[PHASES.length - 1]!.push(phases.reduce((a, b) => a + b, 0));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return {
    title: `The three-node lab: build and removal, ${ROUNDS} rounds`,
    header: ['phase', 'median (s)', 'min (s)', 'max (s)'],
    rows: PHASES.map((p, i) => [p, median(times[i]!).toFixed(2), Math.min(...times[i]!).toFixed(2), Math.max(...times[i]!).toFixed(2)]),
    floors: [],
    notes: [
      'Run under the lab lock (`flock /tmp/flapwatch-lab.lock npm run bench -- cluster`); the network phase builds the nodes in parallel, the daemons start in parallel and share the 2 CPUs.',
    ],
  };
}
