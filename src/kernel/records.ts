// The addon's records → normalized observations: reason names, location symbols, decoded conntrack bits.
import { CT_CONFIRMED, CT_DNAT, CT_PRESENT, CT_REPLY, CT_SNAT } from '../native';
import type { DropRecord, DropSample, RetransmitRecord } from '../native';
import type { CtFlags, DropObservation, DropSampleObservation, RetransmitObservation } from '../observe/kernel';
import type { FlowTuple } from '../observe/net';
import type { SymbolResolver } from './kallsyms';
import type { DropReasons } from './reasons';

export interface Resolvers {
  reasons: DropReasons;
  symbols: SymbolResolver;
}

// include/net/tcp_states.h
const TCP_STATES = [
  '', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT',
  'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV', 'BOUND_INACTIVE',
];

export function tcpStateName(state: number): string {
  return TCP_STATES[state] || `state_${state}`;
}

export function ctFlags(bits: number): CtFlags {
  return {
    present: (bits & CT_PRESENT) !== 0,
    confirmed: (bits & CT_CONFIRMED) !== 0,
    dnat: (bits & CT_DNAT) !== 0,
    snat: (bits & CT_SNAT) !== 0,
    reply: (bits & CT_REPLY) !== 0,
  };
}

/** The record's tuple alone: a record carries more fields, which the observation keeps elsewhere. */
function tuple(r: FlowTuple): FlowTuple {
  return { family: r.family, proto: r.proto, saddr: r.saddr, daddr: r.daddr, sport: r.sport, dport: r.dport };
}

function dropFields(r: Omit<DropRecord, 'packets' | 'bytes'>, res: Resolvers): Omit<DropObservation, 'packets' | 'bytes'> {
  const location = res.symbols.resolve(r.location);
  return {
    tuple: tuple(r),
    netns: r.netns,
    reason: r.reason,
    reasonName: res.reasons.name(r.reason),
    location,
    origDst: r.origDaddr === null ? null : { ip: r.origDaddr, port: r.origDport },
    ct: ctFlags(r.ct),
    loss: res.reasons.isLoss(r.reason, location, r.daddr),
  };
}

export function toDrop(r: DropRecord, res: Resolvers): DropObservation {
  return { ...dropFields(r, res), packets: r.packets, bytes: r.bytes };
}

/** `at`: the sample's time as ms since the epoch (kernel/drop-samples.ts converts it). */
export function toSample(s: DropSample, at: number, res: Resolvers): DropSampleObservation {
  return { ...dropFields(s, res), at, len: s.len, ifindex: s.ifindex };
}

export function toRetransmit(r: RetransmitRecord): RetransmitObservation {
  return { tuple: tuple(r), netns: r.netns, state: tcpStateName(r.state), synack: r.synack, packets: r.packets };
}
