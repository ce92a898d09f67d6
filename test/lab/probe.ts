// Probes from inside a netns (run by the lab with `ip netns exec NS node probe.js …`). One probe prints one JSON line:
//   probe.js http IP PORT PATH TIMEOUT_MS  → {status, body, ms} | {error, ms}
//   probe.js tcp IP PORT TIMEOUT_MS        → {ms} | {error, ms}
//   probe.js udp IP PORT COUNT             → {sent, errors}
//   probe.js echo IP PORT BYTES TIMEOUT_MS → {status, bytes, same, ms} | {error, ms}: POSTs BYTES random bytes to
//                                            /echo and compares what comes back
// `probe.js serve` stays up and answers {id, args} messages on its IPC channel with {id, result}: a node's
// kubelet-style prober, without a process per probe.
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as net from 'node:net';

type Result = Record<string, unknown>;

function timeout(ms: number, abort: (err: Error) => void): void {
  setTimeout(() => abort(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), ms).unref();
}

const failure = (err: NodeJS.ErrnoException): Result => ({ error: err.code ?? err.message });

function httpProbe(host: string, port: number, path: string, ms: number, body?: Buffer): Promise<Result> {
  return new Promise((resolve) => {
    const req = http.request({ host, port, path, agent: false, method: body ? 'POST' : 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const got = Buffer.concat(chunks);
        resolve(body ? { status: res.statusCode, bytes: got.length, same: got.equals(body) } : { status: res.statusCode, body: got.toString('utf8') });
      });
      res.on('error', (err) => resolve(failure(err)));
    });
    req.on('error', (err) => resolve(failure(err)));
    timeout(ms, (err) => req.destroy(err));
    req.end(body);
  });
}

function tcpProbe(host: string, port: number, ms: number): Promise<Result> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    sock.on('connect', () => { sock.destroy(); resolve({}); });
    sock.on('error', (err) => resolve(failure(err)));
    timeout(ms, (err) => sock.destroy(err));
  });
}

function udpProbe(host: string, port: number, count: number): Promise<Result> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    let sent = 0;
    let errors = 0;
    const next = (): void => {
      if (sent + errors === count) {
        sock.close();
        resolve({ sent, errors });
        return;
      }
      sock.send(`flapwatch ${sent + errors}`, port, host, (err) => { if (err) errors++; else sent++; next(); });
    };
    next();
  });
}

async function probe(args: readonly string[]): Promise<Result> {
  const [mode = '', host = '', portArg = '', ...rest] = args;
  const port = Number(portArg);
  const start = Date.now();
  let result: Result;
  if (mode === 'http') result = await httpProbe(host, port, rest[0] ?? '/', Number(rest[1] ?? 2000));
  else if (mode === 'tcp') result = await tcpProbe(host, port, Number(rest[0] ?? 2000));
  else if (mode === 'udp') result = await udpProbe(host, port, Number(rest[0] ?? 1));
  else if (mode === 'echo') result = await httpProbe(host, port, '/echo', Number(rest[1] ?? 10_000), randomBytes(Number(rest[0] ?? 0)));
  else throw new Error(`probe: unknown mode ${JSON.stringify(mode)}`);
  return { ...result, ms: Date.now() - start };
}

if (process.argv[2] === 'serve') {
  process.on('message', (message) => {
    const { id, args } = message as { id: number; args: string[] };
    probe(args).then((result) => process.send?.({ id, result }), (err: Error) => process.send?.({ id, result: { error: err.message } }));
  });
  // The lab's process is gone (even by SIGKILL): nobody will ask again.
  process.on('disconnect', () => process.exit(0));
} else {
  probe(process.argv.slice(2)).then((result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  }, (err: Error) => {
    console.error(err.message);
    process.exit(2);
  });
}
