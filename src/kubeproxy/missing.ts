// A table or map that this node's layout does not have is skipped and counted, not an outage: kube-proxy
// versions differ in their maps (1.29's nftables mode had no firewall-ips map), a node in nftables mode has no
// iptables filter table, an IPv6-only node no IPv4 one.
import { CommandError } from './command';

// chains are never looked up one by one: a chain a layout lacks is simply not in the listing
export type PieceKind = 'table' | 'map';

export interface MissingPiece {
  kind: PieceKind;
  /** as nft names it: `ip filter`, `ip kube-proxy firewall-ips` */
  name: string;
}

// nft's own line for an object the kernel does not have; `ip netns exec` says "Cannot open network namespace …:
// No such file or directory" for a namespace that is gone, which is a failure, not a missing piece.
const NFT_ENOENT = /^Error: No such file or directory$/m;

/** The error is nft saying that the object it was asked to list does not exist. */
function isMissing(err: unknown): boolean {
  return err instanceof CommandError && NFT_ENOENT.test(err.stderr);
}

/** `read()`, or null with `piece` added to `missing` when the piece does not exist; any other failure rejects. */
export async function unlessMissing<T>(missing: MissingPiece[], piece: MissingPiece, read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (err) {
    if (!isMissing(err)) throw err;
    missing.push(piece);
    return null;
  }
}

/** The pieces of each kind. */
export function byKind(pieces: readonly MissingPiece[]): Map<PieceKind, MissingPiece[]> {
  const out = new Map<PieceKind, MissingPiece[]>();
  for (const p of pieces) out.set(p.kind, [...(out.get(p.kind) ?? []), p]);
  return out;
}
