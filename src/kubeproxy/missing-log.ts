// What the rules source tells of missing pieces: one log line per kind, the first time a read misses one (a layout
// stays as it is: the line would repeat every interval), and the counts of the last read for the metric.
import type { Logger } from 'pino';
import { byKind, type MissingPiece, type PieceKind } from './missing';

export class MissingPieces {
  private last = new Map<PieceKind, number>();
  private readonly told = new Set<PieceKind>();

  constructor(private readonly log: Logger) {}

  /** One read's missing pieces. */
  note(pieces: readonly MissingPiece[]): void {
    const now = new Map<PieceKind, number>();
    for (const [kind, list] of byKind(pieces)) {
      now.set(kind, list.length);
      if (this.told.has(kind)) continue;
      this.told.add(kind);
      const names = list.map((p) => p.name);
      this.log.info({ kind, missing: names },
        `kube-proxy rules: no ${kind} ${names.join(', ')} on this node (another kube-proxy version or IP family); read without it`);
    }
    this.last = now;
  }

  counts(): ReadonlyMap<string, number> {
    return this.last;
  }
}
