// A pod's HTTP server: `GET /health` answers 200 or 503; the lab steers it over the IPC channel it was spawned with.
// With --depends NAME=URL (repeatable), /health first calls each URL (a dependency's /health, through its ClusterIP,
// on a new connection each time, as an application's health check does) and fails with the dependencies' errors,
// its payload's checks naming each. With --resolve NAME, /health first resolves NAME through the system resolver
// (getaddrinfo: glibc, the namespace's resolv.conf, A and AAAA in parallel) and fails, as `dns`, when that does not
// work within the dependency's timeout. The lab can make /health spend CPU time first (health-cpu), as a handler
// that computes does. `POST /echo` answers with the request's body.
// Usage: node pod-server.js --port P --name POD [--depends NAME=URL ...] [--resolve NAME] [--depends-timeout MS]
import * as dns from 'node:dns';
import * as http from 'node:http';
import { Worker } from 'node:worker_threads';

export type Command = { cmd: 'health'; ok: boolean } | { cmd: 'accept'; on: boolean } | { cmd: 'health-cpu'; ms: number };
export type Control = Command & { id: number };

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`pod-server: --${name} is required`);
  return v;
}

const port = Number(arg('port'));
const pod = arg('name');
const depends = process.argv.flatMap((a, i) => (a === '--depends' ? [process.argv[i + 1] ?? ''] : [])).map((d) => {
  const eq = d.indexOf('=');
  return { name: d.slice(0, eq), url: d.slice(eq + 1) };
});
const resolveName = arg('resolve', '');
const dependsTimeout = Number(arg('depends-timeout', '800'));
let healthy = true;
let healthCpuMs = 0;

/** Spends `ms` of this process's CPU time in slices, the event loop served between them. */
async function spendCpu(ms: number): Promise<void> {
  const start = process.cpuUsage();
  const spent = () => {
    const u = process.cpuUsage(start);
    return (u.user + u.system) / 1000;
  };
  for (let next = 5; spent() < ms; next += 5) {
    while (spent() < Math.min(next, ms));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** '' when the dependency answered 200, else what went wrong. */
function checkDependency(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: dependsTimeout }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? '' : `HTTP ${res.statusCode}`);
    });
    req.once('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** '' when the name resolved, else the resolver's error (EAI_AGAIN, ENOTFOUND, …) or ETIMEOUT. */
function checkName(): Promise<string> {
  if (!resolveName) return Promise.resolve('');
  return new Promise((resolve) => {
    // the lookup cannot be cancelled: it goes on in libuv's pool, its answer unheard
    const timer = setTimeout(() => resolve('ETIMEOUT'), dependsTimeout);
    dns.lookup(resolveName, { all: true }, (err) => {
      clearTimeout(timer);
      resolve(err ? (err.code ?? err.message) : '');
    });
  });
}

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/echo') {
    req.pipe(res); // large bodies both ways, for the overlay's MTU
    return;
  }
  if (req.method !== 'GET' || req.url !== '/health') {
    res.writeHead(404).end();
    return;
  }
  void spendCpu(healthCpuMs).then(() => Promise.all([checkName(), ...depends.map((d) => checkDependency(d.url))])).then(([dnsError, ...errors]) => {
    const ok = healthy && !dnsError && errors.every((e) => !e);
    // without dependencies, failHealth is the application saying its own database is down
    const checks = {
      ...(depends.length
        ? Object.fromEntries(depends.map((d, i) => [d.name, errors[i] ? { status: 'down', error: errors[i] } : { status: healthy ? 'up' : 'down' }]))
        : { db: { status: healthy ? 'up' : 'down' } }),
      ...(resolveName && { dns: dnsError ? { status: 'down', name: resolveName, error: dnsError } : { status: 'up', name: resolveName } }),
    };
    const body = ok ? { status: 'ok', pod, ...((depends.length || resolveName) && { checks }) } : { status: 'fail', pod, checks };
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
});

function listen(): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => { server.off('error', reject); resolve(); });
  });
}

// Node accepts every connection as soon as it can, so "not accepting" is a worker that listens with backlog 1
// and then blocks its own event loop: the kernel queues two connections and drops later SYNs (ListenOverflows).
const BLOCKER = `
const { workerData, parentPort } = require('node:worker_threads');
const server = require('node:net').createServer();
server.listen({ port: workerData.port, backlog: 1 }, () => {
  parentPort.postMessage('listening');
  Atomics.wait(new Int32Array(workerData.wake), 0, 0);
  server.close(() => process.exit(0));
});`;

let blocker: { worker: Worker; wake: Int32Array } | undefined;

async function stopAccepting(): Promise<void> {
  if (blocker) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
  const wake = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(BLOCKER, { eval: true, workerData: { port, wake: wake.buffer } });
  await new Promise<void>((resolve, reject) => { worker.once('message', () => resolve()); worker.once('error', reject); });
  blocker = { worker, wake };
}

async function resumeAccepting(): Promise<void> {
  if (!blocker) return;
  const { worker, wake } = blocker;
  blocker = undefined;
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  Atomics.store(wake, 0, 1);
  Atomics.notify(wake, 0);
  await exited;
  await listen();
}

async function control(m: Control): Promise<void> {
  if (m.cmd === 'health') healthy = m.ok;
  else if (m.cmd === 'health-cpu') healthCpuMs = m.ms;
  else if (m.on) await resumeAccepting();
  else await stopAccepting();
}

process.on('message', (message) => {
  const m = message as Control;
  control(m).then(() => process.send?.({ id: m.id }), (err: Error) => process.send?.({ id: m.id, error: err.message }));
});
// The lab's process is gone (even by SIGKILL): nobody will ever stop us.
process.on('disconnect', () => process.exit(0));

// id 0 tells the lab we listen; its requests count from 1.
listen().then(() => process.send?.({ id: 0 }), (err: Error) => {
  console.error(`pod-server ${pod}: ${err.message}`);
  process.exit(1);
});
