// README.md's headings under the anchors GitHub gives them (github-slugger's rules: lower case, punctuation
// other than - and _ removed, spaces to -, a -N suffix for repeats), so that the alerts' runbook_url anchors
// and the operator guide's examples can be checked.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEPLOY } from './manifests';

export const GUIDE = path.join(DEPLOY, '..', 'README.md');

export function githubAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
}

/** anchor → heading text, for every heading outside code blocks. */
export function guideAnchors(text = readFileSync(GUIDE, 'utf8')): Map<string, string> {
  const anchors = new Map<string, string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^(```|~~~)/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = githubAnchor(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.set(n ? `${base}-${n}` : base, m[1]!);
  }
  return anchors;
}

/** The guide's fenced code block whose first line is `firstLine` (e.g. `# prometheus.yml`), so its examples are tested. */
export function guideSnippet(firstLine: string, text = readFileSync(GUIDE, 'utf8')): string {
  const blocks = [...text.matchAll(/^```\w*\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  const hits = blocks.filter((b) => b.split('\n')[0]!.trim() === firstLine);
  if (hits.length !== 1) throw new Error(`${GUIDE}: expected one code block starting "${firstLine}", found ${hits.length}`);
  return hits[0]!;
}
