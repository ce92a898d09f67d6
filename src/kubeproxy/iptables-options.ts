// The iptables-save options the parser reads, recognised in the dump's bytes (no string per word): at 80,000
// rules a dump has half a million options.
import { decode, equal } from './interner';

export const enum O {
  NotOption, Not, Unsupported, ShortOther, Other, Frag, Counters,
  Source, Destination, Protocol, InInterface, OutInterface, Match, Jump, Goto,
  DPort, SPort, Comment, CtState, Probability, Mark, SrcType, DstType, Nfacct,
  // target options last, so that one comparison tells them from match options
  ToDestination, RejectWith, SetXmark,
}

// `-x` by its letter; a table, as an object keyed by number was a dictionary lookup
const SHORT = new Uint8Array(256).fill(O.ShortOther);
for (const [c, o] of [['s', O.Source], ['d', O.Destination], ['p', O.Protocol], ['i', O.InInterface], ['o', O.OutInterface],
  ['f', O.Frag], ['m', O.Match], ['j', O.Jump], ['g', O.Goto], ['c', O.Counters]] as const) SHORT[c.charCodeAt(0)] = o;

/** The option at l[s] is `name` (whose length the caller checked): `code`, else some other option. */
function is(l: Buffer, s: number, name: string, code: O): O {
  return equal(name, l, s) ? code : O.Other;
}

/** Which option l[s..e) is. */
export function optionCode(l: Buffer, s: number, e: number): O {
  const len = e - s;
  const c0 = l[s];
  if (c0 === 33) return len === 1 ? O.Not : O.NotOption; // !
  if (c0 === 91) return len === 12 && equal('[unsupported', l, s) ? O.Unsupported : O.NotOption;
  if (c0 !== 45 || len < 2) return O.NotOption;
  const c1 = l[s + 1]!;
  if (len === 2) return SHORT[c1] as O;
  if (c1 >= 0x80) return decode(l, s, e).length === 2 ? O.ShortOther : O.NotOption; // `-` and one character
  if (c1 !== 45) return O.NotOption;
  const c2 = l[s + 2];
  switch (len) {
    case 5: return c2 === 115 ? is(l, s, '--src', O.Source) : is(l, s, '--dst', O.Destination);
    case 6: return c2 === 109 ? is(l, s, '--mark', O.Mark) : c2 === 106 ? is(l, s, '--jump', O.Jump) : is(l, s, '--goto', O.Goto);
    case 7: return c2 === 100 ? is(l, s, '--dport', O.DPort) : c2 === 115 ? is(l, s, '--sport', O.SPort) : is(l, s, '--match', O.Match);
    case 8: return is(l, s, '--source', O.Source);
    case 9: return l[s + 3] === 111 ? is(l, s, '--comment', O.Comment) : is(l, s, '--ctstate', O.CtState);
    case 10: return c2 === 115 ? is(l, s, '--src-type', O.SrcType) : c2 === 100 ? is(l, s, '--dst-type', O.DstType) : is(l, s, '--protocol', O.Protocol);
    case 11: return is(l, s, '--set-xmark', O.SetXmark);
    case 13:
      switch (c2) {
        case 112: return is(l, s, '--probability', O.Probability);
        case 110: return is(l, s, '--nfacct-name', O.Nfacct);
        case 114: return is(l, s, '--reject-with', O.RejectWith);
        case 100: return is(l, s, '--destination', O.Destination);
        default: return is(l, s, '--source-port', O.SPort);
      }
    case 14: return is(l, s, '--in-interface', O.InInterface);
    case 15: return is(l, s, '--out-interface', O.OutInterface);
    case 16: return is(l, s, '--to-destination', O.ToDestination);
    case 18: return is(l, s, '--destination-port', O.DPort);
    default: return O.Other;
  }
}
