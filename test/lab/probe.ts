// One probe from inside a netns (run by the lab with `ip netns exec NS node probe.js …`); prints one JSON line.
//   probe.js http IP PORT PATH TIMEOUT_MS  → {status, body, ms} | {error, ms}
//   probe.js tcp IP PORT TIMEOUT_MS        → {ms} | {error, ms}
//   probe.js udp IP PORT COUNT             → {sent, errors}
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as net from 'node:net';

const [mode = '', host = '', portArg = '', ...rest] = process.argv.slice(2);
const port = Number(portArg);
const start = Date.now();

function print(result: object): void {
  process.stdout.write(`${JSON.stringify({ ...result, ms: Date.now() - start })}\n`);
  process.exit(0);
}

function timeout(ms: number, abort: (err: Error) => void): void {
  setTimeout(() => abort(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), ms).unref();
}

const fail = (err: NodeJS.ErrnoException) => print({ error: err.code ?? err.message });

if (mode === 'http') {
  const [path = '/', ms = '2000'] = rest;
  const req = http.get({ host, port, path, agent: false }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (body += chunk));
    res.on('end', () => print({ status: res.statusCode, body }));
    res.on('error', fail);
  });
  req.on('error', fail);
  timeout(Number(ms), (err) => req.destroy(err));
} else if (mode === 'tcp') {
  const sock = net.connect({ host, port });
  sock.on('connect', () => { sock.destroy(); print({}); });
  sock.on('error', fail);
  timeout(Number(rest[0] ?? 2000), (err) => sock.destroy(err));
} else if (mode === 'udp') {
  const sock = dgram.createSocket('udp4');
  const count = Number(rest[0] ?? 1);
  let sent = 0;
  let errors = 0;
  const next = (): void => {
    if (sent + errors === count) {
      sock.close();
      print({ sent, errors });
      return;
    }
    sock.send(`flapwatch ${sent + errors}`, port, host, (err) => { if (err) errors++; else sent++; next(); });
  };
  next();
} else {
  console.error(`probe: unknown mode ${JSON.stringify(mode)}`);
  process.exit(2);
}
