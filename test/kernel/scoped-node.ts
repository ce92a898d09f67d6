// A lab "node"'s kernel sources, for test/kernel/netns-scope.test.ts: started by the test inside a PID namespace
// of its own (unshare --pid --fork --mount-proc) and the node's netns, with the IPC channel it was spawned with.
// It starts a "pod" (a process in the pod's netns, in this PID namespace), then the scope and the tracers that
// keep only its records, and answers each drain request with what they counted, by netns.
// usage: node scoped-node.js POD_NETNS
import { spawn } from 'node:child_process';
import pino from 'pino';
import { ConnectionSource } from '../../src/kernel/connections';
import { DropSource } from '../../src/kernel/drops';
import { NetnsScope } from '../../src/kernel/netns-scope';
import { DEFAULT_BENIGN_REASONS } from '../../src/kernel/reasons';

export type NodeRequest = { cmd: 'drain' } | { cmd: 'stop' };
export interface NodeReport {
  /** the scope as the node sees it */
  scope: { all: boolean; namespaces: number[] };
  up: Record<string, boolean>;
  /** UDP packets dropped, connects failed, by netns inode (as strings: JSON keys) */
  drops: Record<string, number>;
  failedConnects: Record<string, number>;
  leftOut: number;
}

const [podNetns] = process.argv.slice(2);
if (!podNetns) throw new Error('usage: scoped-node.js POD_NETNS');
const logger = pino({ level: 'silent' });
const pod = spawn('ip', ['netns', 'exec', podNetns, 'sleep', '600'], { stdio: 'ignore' });

async function main(): Promise<void> {
  // refreshMs 0: a netns not listed yet (the pod's, should its sleep not have entered it by the first read) is
  // looked for again at every drain
  const scope = new NetnsScope({ btfPath: '', refreshMs: 0, maxAgeMs: 60_000, logger });
  const drops = new DropSource({
    btfPath: '', maxFlows: 4096, maxRetransmitFlows: 1024, samplesPerSecond: 0, ringBytes: 4096, benignReasons: DEFAULT_BENIGN_REASONS, scope, logger,
  });
  const connections = new ConnectionSource({ btfPath: '', maxKeys: 1024, scope, logger });
  const report: NodeReport = { scope: { all: true, namespaces: [] }, up: {}, drops: {}, failedConnects: {}, leftOut: 0 };
  drops.onDrops((list) => {
    for (const d of list) if (d.tuple.proto === 17) report.drops[d.netns] = (report.drops[d.netns] ?? 0) + d.packets;
  });
  connections.onConnections((list) => {
    for (const c of list) report.failedConnects[c.netns] = (report.failedConnects[c.netns] ?? 0) + c.failed;
  });
  const sources = [scope, drops, connections];
  await Promise.all(sources.map((s) => s.start()));
  const answer = () => process.send!({
    ...report,
    scope: scope.current(),
    up: Object.fromEntries(sources.flatMap((s) => s.stats()).map((s) => [s.source, s.up])),
    leftOut: scope.leftOut(),
  });
  process.on('message', (m: NodeRequest) => {
    if (m.cmd === 'stop') {
      void Promise.all(sources.map((s) => s.stop())).then(() => {
        pod.kill('SIGKILL');
        process.exit(0);
      });
      return;
    }
    void Promise.all([drops.drain(), connections.drain()]).then(answer);
  });
  answer();
}

process.on('disconnect', () => {
  pod.kill('SIGKILL');
  process.exit(0);
});
main().catch((err: unknown) => {
  console.error(err);
  pod.kill('SIGKILL');
  process.exit(1);
});
