// An ActiveProber run inside the network namespace it was started in (`ip netns exec NS node prober-child.js`), as
// the daemon runs in a node's host namespace. Steered over the IPC channel by test/health/netns-prober.ts.
import pino from 'pino';
import { ActiveProber, type ActiveProberOptions } from '../../src/health/active';
import type { ServicePort } from '../../src/observe/objects';

export type ChildCommand =
  | { cmd: 'start'; options: Omit<ActiveProberOptions, 'logger' | 'targets' | 'random'>; ports: ServicePort[] }
  | { cmd: 'ports'; ports: ServicePort[] }
  | { cmd: 'totals'; id: number }
  | { cmd: 'stop'; id: number };

let prober: ActiveProber | undefined;
let ports: ServicePort[] = [];

process.on('message', (message) => {
  const m = message as ChildCommand;
  if (m.cmd === 'start') {
    ports = m.ports;
    prober = new ActiveProber({ ...m.options, targets: () => ports, logger: pino({ level: 'silent' }) });
    prober.onObservations((items) => process.send?.({ type: 'observations', items }));
    prober.start();
  } else if (m.cmd === 'ports') {
    ports = m.ports;
    prober?.refresh();
  } else if (m.cmd === 'totals') {
    process.send?.({ type: 'reply', id: m.id, totals: prober?.totals(), stats: prober?.stats() });
  } else {
    void prober?.stop().then(() => process.send?.({ type: 'reply', id: m.id }, () => process.exit(0)));
  }
});
process.on('disconnect', () => process.exit(0));
