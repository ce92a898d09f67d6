// `flapwatch run` as a process: it serves, attaches, detaches on SIGTERM, and keeps serving when the kernel
// side cannot start (no BTF, no capability), saying why in a log line and in flapwatch_source_up.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { eventually, kernelSkip, programIdsHeldBy, unloaded } from './helpers/env';

const CLI = path.resolve(__dirname, '..', 'src', 'cli.js');

interface Daemon {
  child: ChildProcess;
  url: string;
  logs: () => Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

let nextPort = 19_700 + (process.pid % 200);

function start(args: string[], wrap: string[] = []): Daemon {
  const port = nextPort++;
  const argv = [...wrap, process.execPath, CLI, 'run', '--listen', `127.0.0.1:${port}`, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const logs = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, url: `http://127.0.0.1:${port}`, logs, exited };
}

async function metrics(d: Daemon): Promise<string> {
  const res = await fetch(`${d.url}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

async function ready(d: Daemon): Promise<void> {
  await eventually(async () => (await fetch(`${d.url}/readyz`).catch(() => null))?.status === 200, 'the daemon to be ready');
}

async function terminate(d: Daemon): Promise<number | null> {
  if (d.child.exitCode === null) d.child.kill('SIGTERM');
  return d.exited;
}

describe('flapwatch run', { skip: kernelSkip }, () => {
  test('serves metrics with the tracer up, and SIGTERM detaches every program and exits 0', async () => {
    const d = start([]);
    let ids: number[] = [];
    try {
      await ready(d);
      assert.match(await metrics(d), /^flapwatch_source_up\{source="drops"\} 1$/m);
      assert.match(await metrics(d), /^process_resident_memory_bytes /m);
      assert.equal((await fetch(`${d.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${d.url}/nope`)).status, 404);
      ids = programIdsHeldBy(d.child.pid!);
      assert.ok(ids.length >= 3, `programs held by the daemon: ${ids.join(', ')}`);
      const lines = d.logs().filter((l) => l.source === 'drops');
      assert.deepEqual(lines.map((l) => [l.msg, l.up]), [['drops source up', true]], 'one start-up line for the source');
    } finally {
      assert.equal(await terminate(d), 0);
    }
    await unloaded(ids, 'the daemon\'s programs to be unloaded after SIGTERM');
  });

  test('without BTF it keeps serving, with the drops source down and the reason logged', async () => {
    const d = start(['--btf-path', '/nonexistent/vmlinux']);
    try {
      await ready(d);
      const text = await metrics(d);
      assert.match(text, /^flapwatch_source_up\{source="drops"\} 0$/m);
      assert.match(text, /^flapwatch_source_errors_total\{source="drops"\} [1-9]/m);
      const line = d.logs().find((l) => l.source === 'drops');
      assert.equal(line?.up, false);
      assert.match(String(line?.msg), /drops source down: .*no BTF at \/nonexistent\/vmlinux/);
    } finally {
      assert.equal(await terminate(d), 0);
    }
  });

  test('without CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN it keeps serving and names the capability', async () => {
    // capsh runs bash with what follows --; exec hands the dropped bounding set to node
    const d = start([], ['capsh', '--drop=cap_bpf,cap_perfmon,cap_sys_admin', '--', '-c', 'exec "$0" "$@"']);
    try {
      await ready(d);
      assert.match(await metrics(d), /^flapwatch_source_up\{source="drops"\} 0$/m);
      const line = d.logs().find((l) => l.source === 'drops');
      assert.match(String(line?.msg), /drops source down: .*(EPERM|CAP_BPF)/);
    } finally {
      assert.equal(await terminate(d), 0);
    }
  });

  test('a bad flag is refused at start with exit code 2', async () => {
    const d = start(['--ring-bytes', '1000']);
    assert.equal(await d.exited, 2);
  });
});
