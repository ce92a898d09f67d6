import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { startHttp } from '../../src/report/http';

test('/metrics, /healthz, /readyz and 404', async () => {
  const registry = new Registry();
  new Counter({ name: 'x_total', help: 'x', registers: [registry] }).inc(2);
  let ready = false;
  const server = await startHttp({ host: '127.0.0.1', port: 0, registry, ready: () => ready, logger: pino({ level: 'silent' }) });
  const get = (p: string) => fetch(`http://127.0.0.1:${server.port}${p}`);
  try {
    const metrics = await get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(await metrics.text(), /^x_total 2$/m);
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/readyz')).status, 503);
    ready = true;
    assert.equal((await get('/readyz')).status, 200);
    assert.equal((await get('/nope')).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: 'POST' })).status, 405);
  } finally {
    await server.close();
  }
});

test('a port in use is an error at start', async () => {
  const logger = pino({ level: 'silent' });
  const first = await startHttp({ host: '127.0.0.1', port: 0, registry: new Registry(), ready: () => true, logger });
  try {
    await assert.rejects(startHttp({ host: '127.0.0.1', port: first.port, registry: new Registry(), ready: () => true, logger }), /EADDRINUSE/);
  } finally {
    await first.close();
  }
});
