#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1
// (A small young generation: V8 otherwise grows it under a burst and keeps it; two malloc arenas: glibc otherwise
// gives a worker thread its own, and the one that parsed BTF keeps it. The idle RSS in bench/RESULTS.md.)
// The flapwatch command line. Every flag also reads FLAPWATCH_<FLAG> (e.g. FLAPWATCH_LOG_LEVEL=debug).
import yargs, { type Argv, type Options } from 'yargs';
import { versionLine } from './build-info';
import {
  ConfigError, explainConfig, explainOptions, runConfig, runOptions, snapshotConfig, snapshotOptions, type ExplainConfig, type RunConfig,
  type SnapshotConfig,
} from './config';
import { describe } from './observe/errors';
import { graphConfig, graphOptions, rcaConfig, rcaOptions, type GraphConfig, type RcaConfig } from './prometheus-config';

export type Invocation =
  | { command: 'run'; config: RunConfig }
  | { command: 'snapshot'; config: SnapshotConfig }
  | { command: 'explain'; config: ExplainConfig }
  | { command: 'graph'; config: GraphConfig }
  | { command: 'rca'; config: RcaConfig };

const OPTIONS: Record<Invocation['command'], Record<string, Options>> = {
  run: runOptions, snapshot: snapshotOptions, explain: explainOptions, graph: graphOptions, rca: rcaOptions,
};

/**
 * The other commands' flags, hidden: one environment serves every command (`kubectl exec … flapwatch snapshot`
 * in the daemon's pod sees FLAPWATCH_LISTEN), so they are accepted from FLAPWATCH_* and refused on the
 * command line. Unknown FLAPWATCH_* names still fail: a typo there is loud.
 */
function withForeign(y: Argv, command: Invocation['command'], args: string[]): Argv {
  const own = OPTIONS[command];
  const other: Record<string, Options> = Object.assign({}, ...Object.values(OPTIONS).filter((o) => o !== own));
  const names = Object.keys(other).filter((k) => !(k in own));
  const given = args.map((a) => /^--(?:no-)?([^=]+)/.exec(a)?.[1]).filter((n) => n !== undefined && names.includes(n));
  if (given.length) throw new ConfigError(`Unknown argument: ${given.join(', ')}`);
  return y.options(own).options(Object.fromEntries(names.map((k) => [k, { type: other[k].type, hidden: true }])));
}

/** The parser; `exit` false leaves --help and errors to the caller (tests). */
export function parser(args: string[], exit = true): Argv {
  return yargs(args)
    .scriptName('flapwatch')
    .usage('$0 <command> [options]\n\nTells whether failed health checks coincided with packets the kernel dropped, and where.')
    .command(['run', '$0'], 'Run the monitor: kernel sources, /metrics, /healthz, /readyz (the default command)', (y) =>
      withForeign(y, 'run', args),
    )
    .command('snapshot', 'Watch for --duration seconds; print drops by reason, location and destination, per Service, and conntrack health', (y) =>
      withForeign(y, 'snapshot', args),
    )
    .command('explain <service>', "Ask the running daemon for a Service's recent incidents and evidence (NAMESPACE/SERVICE)", (y) =>
      withForeign(y, 'explain', args).positional('service', { type: 'string', describe: 'NAMESPACE/SERVICE' }),
    )
    .command('graph', 'Print the service graph from Prometheus (every node\'s edges summed), worst edges first', (y) => withForeign(y, 'graph', args))
    .command('rca', 'Rank the failing Services as the root of a cascade, cluster-wide, from Prometheus, with the evidence for each', (y) => withForeign(y, 'rca', args))
    .env('FLAPWATCH')
    .epilogue('Every flag can also be set as FLAPWATCH_<FLAG>, e.g. FLAPWATCH_LISTEN=127.0.0.1:9807 or FLAPWATCH_LOG_LEVEL=debug; an unknown FLAPWATCH_* variable is an error.')
    .strict()
    .help()
    .alias('help', 'h')
    .version('version', 'Show the version, the git revision it was built from and the Node.js running it', versionLine())
    .wrap(Math.min(120, process.stdout.columns || 100))
    .exitProcess(exit)
    .fail((msg, err) => {
      throw err ?? new ConfigError(msg);
    });
}

/** Parses and validates; throws ConfigError on a bad flag. Returns null when --help or --version was shown. */
export async function parseInvocation(args: string[], exit = true): Promise<Invocation | null> {
  const argv = await parser(args, exit).parseAsync();
  if (argv.help || argv.version) return null;
  if (argv._[0] === 'snapshot') return { command: 'snapshot', config: snapshotConfig(argv) };
  if (argv._[0] === 'explain') return { command: 'explain', config: explainConfig(argv) };
  if (argv._[0] === 'graph') return { command: 'graph', config: graphConfig(argv) };
  if (argv._[0] === 'rca') return { command: 'rca', config: rcaConfig(argv) };
  return { command: 'run', config: runConfig(argv) };
}

async function main(): Promise<void> {
  let invocation: Invocation | null;
  try {
    invocation = await parseInvocation(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`flapwatch: ${describe(err)}\nTry flapwatch --help.\n`);
    process.exit(2);
  }
  if (!invocation) return;
  // Loaded here so that parsing (and --help) never touches the kernel side.
  if (invocation.command === 'snapshot') {
    const { runSnapshot } = await import('./commands/snapshot');
    process.exitCode = await runSnapshot(invocation.config);
  } else if (invocation.command === 'explain') {
    const { runExplain } = await import('./commands/explain');
    process.exitCode = await runExplain(invocation.config);
  } else if (invocation.command === 'graph') {
    const { runGraph } = await import('./commands/graph');
    process.exitCode = await runGraph(invocation.config);
  } else if (invocation.command === 'rca') {
    const { runRca } = await import('./commands/rca');
    process.exitCode = await runRca(invocation.config);
  } else {
    const { runDaemon } = await import('./daemon/daemon');
    await runDaemon(invocation.config);
  }
}

if (require.main === module) void main();
