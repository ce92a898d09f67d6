// deploy/Dockerfile as data: its global ARGs and stages, what each stage installs with apt and copies. Read by
// the Dockerfile's checks and by the package test, whose root filesystem holds the runtime stage's packages.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEPLOY } from './manifests';

export interface Instruction { op: string; args: string }
export interface Stage { from: string; name?: string; steps: Instruction[] }

/** Global ARGs (before the first FROM) and the instructions of each stage; continuation lines joined, comments dropped. */
function stages(text: string): { args: Record<string, string>; stages: Stage[] } {
  const args: Record<string, string> = {};
  const out: Stage[] = [];
  for (const line of text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))) {
    const [, op, rest] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (!op || rest === undefined) throw new Error(`cannot read Dockerfile line: ${line}`);
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      out.push({ from: m[1]!, name: m[2], steps: [] });
    } else if (!out.length) {
      const m = /^ARG\s+(\w+)=(\S+)$/i.exec(line);
      if (!m) throw new Error(`before the first FROM only ARG NAME=default is read: ${line}`);
      args[m[1]!] = m[2]!;
    } else {
      out.at(-1)!.steps.push({ op: op.toUpperCase(), args: rest });
    }
  }
  return { args, stages: out };
}

const parsed = stages(readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8'));
export const dockerfile: readonly Stage[] = parsed.stages;

/** A stage's base image as built by default: its FROM with the global ARGs' defaults. */
export const base = (s: Stage) => s.from.replace(/^\$\{(\w+)\}$/, (whole, k: string) => parsed.args[k] ?? whole);

export const aptPackages = (s: Stage) => s.steps.filter((i) => i.op === 'RUN')
  .flatMap((i) => /apt-get install [^&]*?--no-install-recommends ((?:[\w.+-]+ ?)+)/.exec(i.args)?.[1]!.trim().split(/\s+/) ?? []);

export const copies = (s: Stage) => s.steps.filter((i) => i.op === 'COPY').map((i) => {
  const words = i.args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice(7);
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
});

/** What the image's runtime stage installs with apt: the libraries and tools flapwatch needs to run. */
export const runtimePackages = () => aptPackages(dockerfile.at(-1)!);
