// Pieces of the Prometheus text exposition format (0.0.4), for series rendered without prom-client's per-series
// objects: escaping, values, a family's HELP and TYPE lines.

/** A label value as the format quotes it: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** `a="x",b="y"`: the inside of a series' braces, values escaped. */
export function labelText(names: readonly string[], values: readonly string[]): string {
  return names.map((n, i) => `${n}="${escapeLabelValue(values[i]!)}"`).join(',');
}

/** A sample value: JavaScript's shortest form of a finite number (as prom-client writes it), else +Inf, -Inf, NaN. */
export function sampleValue(v: number): string {
  if (Number.isFinite(v)) return `${v}`;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
}

/** A family's HELP (backslash and newline escaped) and TYPE lines. */
export function familyHeader(name: string, help: string, type: 'counter' | 'histogram'): string {
  return `# HELP ${name} ${help.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'))}\n# TYPE ${name} ${type}\n`;
}
