// npm run bench [-- NAME...]: runs the benchmarks and rewrites their sections of bench/RESULTS.md.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { campaignBench } from './campaign';
import { cascadeBench } from './cascade';
import { clusterLabBench } from './cluster-lab';
import { connectStorm } from './connect-storm';
import { benchConntrack } from './conntrack';
import { cpuBench } from './cpu';
import { dnsBench } from './dns';
import { dropStorm } from './drop-storm';
import { edgesBench } from './edges';
import { handmadeBench } from './handmade';
import { hooksBench } from './hooks';
import { imageSizeBench } from './image-size';
import { kubeScaleBench } from './kube-scale';
import { quietNode } from './quiet-node';
import { rcaSyntheticBench } from './rca-synthetic';
import { rulesBench } from './kubeproxy-rules';
import type { Bench } from './types';

const BENCHES: Record<string, () => Promise<Bench>> = {
  drops: dropStorm,
  connect: connectStorm,
  hooks: hooksBench,
  edges: edgesBench,
  rules: rulesBench,
  conntrack: benchConntrack,
  campaign: campaignBench,
  cascade: cascadeBench,
  kube: kubeScaleBench,
  quiet: quietNode,
  cpu: cpuBench,
  dns: dnsBench,
  image: imageSizeBench,
  cluster: clusterLabBench,
  rca: rcaSyntheticBench,
  handmade: handmadeBench,
};
const RESULTS = path.resolve(__dirname, '..', '..', 'bench', 'RESULTS.md');

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function section(name: string, b: Bench): string {
  const floors = b.floors.map((f) => `- ${f.ok ? 'met' : 'NOT MET'}: ${f.what} — measured ${f.value}`);
  return [
    `<!-- bench:${name} -->`,
    `## ${b.title}`,
    '',
    `\`npm run bench -- ${name}\` on ${new Date().toISOString().slice(0, 10)}, kernel ${os.release()}, ${os.cpus().length} CPUs`,
    '',
    table(b.header, b.rows),
    '',
    ...floors,
    ...(b.notes ?? []).map((n) => `- ${n}`),
    `<!-- /bench:${name} -->`,
  ].join('\n');
}

function merge(doc: string, name: string, text: string): string {
  const re = new RegExp(`<!-- bench:${name} -->[\\s\\S]*?<!-- /bench:${name} -->`);
  return re.test(doc) ? doc.replace(re, text) : `${doc.trimEnd()}\n\n${text}\n`;
}

async function main(): Promise<void> {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(BENCHES);
  let doc: string;
  try {
    doc = readFileSync(RESULTS, 'utf8');
  } catch {
    doc = '# Benchmarks\n\nEach section is rewritten by the command it names; run as root on an otherwise idle machine.\n';
  }
  let failed = false;
  for (const name of names) {
    const bench = BENCHES[name];
    if (!bench) throw new Error(`unknown benchmark ${name}: one of ${Object.keys(BENCHES).join(', ')}`);
    const result = await bench();
    const text = section(name, result);
    console.log(text);
    doc = merge(doc, name, text);
    failed ||= result.floors.some((f) => !f.ok);
  }
  writeFileSync(RESULTS, doc);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
