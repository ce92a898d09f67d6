// The iptables-save options the parser reads, recognised in the dump's bytes (no string per word): at 80,000
// rules a dump has half a million options.
import { equal } from './interner';

export const enum O {
  NotOption, Not, Unsupported, ShortOther, Other, Frag, Counters,
  Source, Destination, Protocol, InInterface, OutInterface, Match, Jump, Goto,
  DPort, SPort, Comment, CtState, Probability, Mark, SrcType, DstType, Nfacct,
  // target options last, so that one comparison tells them from match options
  ToDestination, RejectWith, SetXmark,
}

const SHORT: Record<number, O> = {
  115: O.Source, 100: O.Destination, 112: O.Protocol, 105: O.InInterface, 111: O.OutInterface,
  102: O.Frag, 109: O.Match, 106: O.Jump, 103: O.Goto, 99: O.Counters,
};

/** Which option l[s..e) is. */
export function optionCode(l: Buffer, s: number, e: number): O {
  const len = e - s;
  const c0 = l[s];
  if (c0 === 33) return len === 1 ? O.Not : O.NotOption; // !
  if (c0 === 91) return len === 12 && equal('[unsupported', l, s) ? O.Unsupported : O.NotOption;
  if (c0 !== 45 || len < 2) return O.NotOption;
  const c1 = l[s + 1]!;
  if (len === 2) return SHORT[c1] ?? O.ShortOther;
  if (c1 !== 45) return O.NotOption;
  const c2 = l[s + 2];
  const is = (name: string, code: O) => (equal(name, l, s) ? code : O.Other);
  switch (len) {
    case 5: return c2 === 115 ? is('--src', O.Source) : is('--dst', O.Destination);
    case 6: return c2 === 109 ? is('--mark', O.Mark) : c2 === 106 ? is('--jump', O.Jump) : is('--goto', O.Goto);
    case 7: return c2 === 100 ? is('--dport', O.DPort) : c2 === 115 ? is('--sport', O.SPort) : is('--match', O.Match);
    case 8: return is('--source', O.Source);
    case 9: return l[s + 3] === 111 ? is('--comment', O.Comment) : is('--ctstate', O.CtState);
    case 10: return c2 === 115 ? is('--src-type', O.SrcType) : c2 === 100 ? is('--dst-type', O.DstType) : is('--protocol', O.Protocol);
    case 11: return is('--set-xmark', O.SetXmark);
    case 13:
      switch (c2) {
        case 112: return is('--probability', O.Probability);
        case 110: return is('--nfacct-name', O.Nfacct);
        case 114: return is('--reject-with', O.RejectWith);
        case 100: return is('--destination', O.Destination);
        default: return is('--source-port', O.SPort);
      }
    case 14: return is('--in-interface', O.InInterface);
    case 15: return is('--out-interface', O.OutInterface);
    case 16: return is('--to-destination', O.ToDestination);
    case 18: return is('--destination-port', O.DPort);
    default: return O.Other;
  }
}
