// Standalone mode (no Kubernetes API) is not second class: the real daemon in the lab's node namespace, probing
// --probe URLs, one of them a Service's ClusterIP in kube-proxy's rules. A pod whose accept queue is full is a
// listen-overflow (its netns is one of this host's), never loss beyond this node; the ClusterIP's URL is reported
// under the Service's name.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, kernelSkip } from '../helpers/env';
import { Lab } from '../lab/lab';
import type { IncidentLine } from './cluster';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli.js');

describe('standalone: --probe URLs on a host without the API', { skip: kernelSkip, timeout: 300_000 }, () => {
  let lab: Lab;
  let daemon: ChildProcess;
  let out = '';
  const logs = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const incidents = () => logs().filter((l) => typeof l.incident === 'number') as unknown as IncidentLine[];

  before(async () => {
    lab = await Lab.create({ pods: 1, services: [{ name: 'web', portName: 'http' }] });
    const web = lab.service('default/web');
    const env = { ...process.env };
    delete env.KUBERNETES_SERVICE_HOST; // standalone whatever the test runs in
    daemon = spawn('ip', [
      'netns', 'exec', lab.node, process.execPath, CLI, 'run', '--listen', '127.0.0.1:9807',
      '--probe', `http://${lab.podIp(0)}:${lab.podPort}/health`, '--probe', `http://${web.clusterIP}:${web.port}/health`,
      '--probe-interval', '1', '--probe-timeout', '1',
    ], { stdio: ['ignore', 'pipe', 'inherit'], env });
    daemon.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await eventually(() => logs().some((l) => l.source === 'active_probes' && l.up === true), 'the daemon to start its probes', 30_000);
  });

  after(async () => {
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('exit', r));
    }
    await lab?.destroy();
  });

  test('a pod that stops accepting: listen-overflow, and the ClusterIP URL under its Service', async () => {
    const undo = await lab.stopAccepting(0);
    try {
      const podUrl = `${lab.podIp(0)}:${lab.podPort}`;
      await eventually(() => incidents().some((i) => i.verdict === 'listen-overflow' && i.target === podUrl), 'a listen-overflow incident of the pod URL', 60_000);
      await eventually(() => incidents().some((i) => i.namespace === 'default' && i.service === 'web'), 'an incident of the ClusterIP URL under default/web', 60_000);
    } finally {
      await undo();
    }
    const overflow = incidents().find((i) => i.verdict === 'listen-overflow' && i.target === `${lab.podIp(0)}:${lab.podPort}`)!;
    assert.match(overflow.msg, /SYNs lost to a full accept queue/);
    // (the first failures of a stop may still find room in the backlog: the kernel answered, the application did not)
    for (const i of incidents()) assert.doesNotMatch(i.msg, /beyond this node/, 'nothing left this host');
    const lines = logs().filter((l) => l.source === 'listen_overflows' && typeof l.up === 'boolean');
    assert.equal(lines[0]?.up, true);
    assert.doesNotMatch(String(lines[0]?.reason), /without hostPID/, 'the daemon sees the host\'s PID namespace');
  });
});
