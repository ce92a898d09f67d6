// The logger's two faces, seen from outside the process as a person or a log collector sees them: JSON lines on
// a pipe, pino-pretty's colored lines on a terminal (a pseudo-terminal from script(1)), and --log-format's
// choice over either.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';

const LOG = path.join(__dirname, '..', 'src', 'log.js');
const CLI = path.join(__dirname, '..', 'src', 'cli.js');
const ESC = '\u001b[';

/** Logs one warning the way the daemon logs a source down; `format` undefined leaves the choice to the logger. */
function program(format: string | undefined): string {
  return `require(${JSON.stringify(LOG)}).createLogger('info', 1, ${JSON.stringify(format)})`
    + `.warn({ source: 'drops', up: false }, 'drops source down: EPERM')`;
}

function onPipe(format: string | undefined): string {
  const r = spawnSync(process.execPath, ['-e', program(format)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const scriptSkip = spawnSync('script', ['--version']).error ? 'needs script(1) (util-linux) for a pseudo-terminal' : undefined;

/** Runs argv with stdout on a pseudo-terminal; what the terminal showed. */
function onTerminal(argv: string[]): string {
  const command = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('log lines', () => {
  test('JSON on a pipe, as a log collector wants them', () => {
    const line = JSON.parse(onPipe(undefined)) as Record<string, unknown>;
    assert.equal(line.msg, 'drops source down: EPERM');
    assert.equal(line.level, 40);
    assert.equal(line.source, 'drops');
  });

  test('pino-pretty on a terminal: time, level, message and fields on one colored line', { skip: scriptSkip }, () => {
    const shown = onTerminal([process.execPath, '-e', program(undefined)]);
    assert.ok(shown.includes(ESC), `colored: ${JSON.stringify(shown)}`);
    const plain = shown.replace(/\u001b\[[0-9;]*m/g, '');
    // one line per event, its fields after the message
    assert.match(plain, /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: drops source down: EPERM \{"source":"drops","up":false\}\r?\n$/);
    assert.throws(() => JSON.parse(plain));
  });

  test('--log-format json on a terminal, --log-format pretty on a pipe (uncolored)', { skip: scriptSkip }, () => {
    const json = onTerminal([process.execPath, '-e', program('json')]);
    assert.ok(!json.includes(ESC));
    assert.equal((JSON.parse(json) as { msg: string }).msg, 'drops source down: EPERM');
    const pretty = onPipe('pretty');
    assert.ok(!pretty.includes(ESC), 'no color codes into a file');
    assert.match(pretty, /^\[[\d:.]+\] WARN: drops source down: EPERM \{"source":"drops","up":false\}\n$/);
  });

  test('the CLI hands --log-format and FLAPWATCH_LOG_FORMAT to its logger', () => {
    // the daemon's first line, before any source starts: it cannot bind an address this host does not have
    const run = (env: Record<string, string>, ...args: string[]) => {
      const r = spawnSync(process.execPath, [CLI, 'run', '--listen', '192.0.2.1:9', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
      assert.equal(r.status, 1, r.stderr);
      return r.stdout;
    };
    assert.match((JSON.parse(run({}, '--log-format', 'json')) as { msg: string }).msg, /^cannot start: .*EADDRNOTAVAIL/);
    assert.match(run({ FLAPWATCH_LOG_FORMAT: 'pretty' }), /^\[[\d:.]+\] FATAL: cannot start: .*EADDRNOTAVAIL/);
  });
});
