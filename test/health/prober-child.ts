// An ActiveProber run inside the network namespace it was started in (`ip netns exec NS node prober-child.js`), as
// the daemon runs in a node's host namespace. Steered over the IPC channel by test/health/netns-prober.ts.
import pino from 'pino';
import { ActiveProber, type ActiveProberOptions } from '../../src/health/active';
import type { HealthObservation } from '../../src/observe/health';
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
    prober.onObservations((items) => void Promise.all(items.map(settled)).then((done) => process.send?.({ type: 'observations', items: done })));
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

// The prober hands a failure on before its immediate retry ends and fills the retry in on the same object later;
// an observation crosses this channel once, so a failure crosses with its retry.
function settled(o: HealthObservation): Promise<HealthObservation> {
  const end = Date.now() + 10_000;
  return new Promise((resolve) => {
    const check = (): void => {
      if (o.ok || o.retry || Date.now() > end) resolve(o);
      else setTimeout(check, 10);
    };
    check();
  });
}
