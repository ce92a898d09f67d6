#include "iptables_save_print.h"

#include <arpa/inet.h>

#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_nfacct.h>
#include <linux/netfilter/xt_sctp.h>
#include <linux/netfilter/xt_statistic.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>
#include <linux/netfilter_ipv6/ip6t_REJECT.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

namespace flapwatch {
namespace {

const char *const kHooks[NF_INET_NUMHOOKS] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};

// Appends, not printf: a 10,000-Service nat table is 140,000 entries and half a million fields.
void U(std::string &out, uint64_t v) {
  char b[24];
  out.append(b, std::to_chars(b, b + sizeof(b), v).ptr);
}

void Hex(std::string &out, uint32_t v) {
  char b[16];
  out += "0x";
  out.append(b, std::to_chars(b, b + sizeof(b), v, 16).ptr);
}

std::string_view Name(const char *s, size_t max) { return {s, strnlen(s, max)}; }

// ` --opt value`, `!` first when inverted, as iptables-save writes it
void Opt(std::string &out, bool inverted, const char *opt) {
  if (inverted) out += " !";
  out += ' ';
  out += opt;
  out += ' ';
}

// xtables' quoting: bare when only [-_0-9A-Za-z], else in double quotes with " \ ' escaped
void Quoted(std::string &out, std::string_view s) {
  auto bare = [](char c) { return c == '-' || c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); };
  if (!s.empty() && std::all_of(s.begin(), s.end(), bare)) {
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  out += '"';
}

void Ports(std::string &out, const char *opt, const uint16_t p[2], bool inverted) {
  if (p[0] == 0 && p[1] == 0xffff) return;
  Opt(out, inverted, opt);
  U(out, p[0]);
  if (p[1] != p[0]) {
    out += ':';
    U(out, p[1]);
  }
}

using Named = std::pair<uint32_t, const char *>;

// The names of the bits set in `mask`, comma-joined in the table's order.
void Joined(std::string &out, uint32_t mask, const Named *names, size_t count) {
  bool first = true;
  for (size_t i = 0; i < count; i++) {
    if (!(mask & names[i].first)) continue;
    if (!first) out += ',';
    out += names[i].second;
    first = false;
  }
}

// `-m state --state` is conntrack's too, flagged as the alias, and printed as written
void CtState(std::string &out, uint16_t flags, uint16_t invert, uint16_t state) {
  if (!(flags & XT_CONNTRACK_STATE)) return;
  Opt(out, invert & XT_CONNTRACK_STATE, flags & XT_CONNTRACK_STATE_ALIAS ? "--state" : "--ctstate");
  // iptables' order
  static const Named names[] = {
      {XT_CONNTRACK_STATE_INVALID, "INVALID"},
      {XT_CONNTRACK_STATE_BIT(IP_CT_NEW), "NEW"},
      {XT_CONNTRACK_STATE_BIT(IP_CT_RELATED), "RELATED"},
      {XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED), "ESTABLISHED"},
      {XT_CONNTRACK_STATE_UNTRACKED, "UNTRACKED"},
      {XT_CONNTRACK_STATE_SNAT, "SNAT"},
      {XT_CONNTRACK_STATE_DNAT, "DNAT"}};
  Joined(out, state, names, sizeof(names) / sizeof(names[0]));
}

const Named kAddrTypes[] = {{XT_ADDRTYPE_UNSPEC, "UNSPEC"},       {XT_ADDRTYPE_UNICAST, "UNICAST"},
                            {XT_ADDRTYPE_LOCAL, "LOCAL"},         {XT_ADDRTYPE_BROADCAST, "BROADCAST"},
                            {XT_ADDRTYPE_ANYCAST, "ANYCAST"},     {XT_ADDRTYPE_MULTICAST, "MULTICAST"},
                            {XT_ADDRTYPE_BLACKHOLE, "BLACKHOLE"}, {XT_ADDRTYPE_UNREACHABLE, "UNREACHABLE"},
                            {XT_ADDRTYPE_PROHIBIT, "PROHIBIT"},   {XT_ADDRTYPE_THROW, "THROW"},
                            {XT_ADDRTYPE_NAT, "NAT"},             {XT_ADDRTYPE_XRESOLVE, "XRESOLVE"}};

void AddrType(std::string &out, uint16_t src, bool src_inv, uint16_t dst, bool dst_inv, uint32_t flags) {
  const size_t n = sizeof(kAddrTypes) / sizeof(kAddrTypes[0]);
  if (src) {
    Opt(out, src_inv, "--src-type");
    Joined(out, src, kAddrTypes, n);
  }
  if (dst) {
    Opt(out, dst_inv, "--dst-type");
    Joined(out, dst, kAddrTypes, n);
  }
  if (flags & XT_ADDRTYPE_LIMIT_IFACE_IN) out += " --limit-iface-in";
  if (flags & XT_ADDRTYPE_LIMIT_IFACE_OUT) out += " --limit-iface-out";
}

template <typename T>
const T *As(const unsigned char *data, size_t len) {
  return len >= sizeof(T) ? reinterpret_cast<const T *>(data) : nullptr;
}

// The options of the matches the parser reads; other matches by name only (the parser skips their options).
// A known match of a revision or size not understood says so, as iptables-save does.
void Match(std::string &out, const xt_entry_match &m) {
  std::string_view name = Name(m.u.user.name, sizeof(m.u.user.name));
  const unsigned char *d = m.data;
  size_t len = m.u.match_size - sizeof(xt_entry_match);
  unsigned rev = m.u.user.revision;
  auto *ct = rev >= 1 && name == "conntrack" ? As<xt_conntrack_mtinfo1>(d, len) : nullptr;
  out += " -m ";
  out += ct && (ct->match_flags & XT_CONNTRACK_STATE_ALIAS) ? "state" : name;
  bool understood = true;
  if (name == "comment") {
    if (auto *c = As<xt_comment_info>(d, len)) {
      out += " --comment ";
      Quoted(out, Name(c->comment, sizeof(c->comment)));
    } else understood = false;
  } else if (name == "tcp") {
    if (auto *t = As<xt_tcp>(d, len)) {
      Ports(out, "--sport", t->spts, t->invflags & XT_TCP_INV_SRCPT);
      Ports(out, "--dport", t->dpts, t->invflags & XT_TCP_INV_DSTPT);
    } else understood = false;
  } else if (name == "udp") {
    if (auto *u = As<xt_udp>(d, len)) {
      Ports(out, "--sport", u->spts, u->invflags & XT_UDP_INV_SRCPT);
      Ports(out, "--dport", u->dpts, u->invflags & XT_UDP_INV_DSTPT);
    } else understood = false;
  } else if (name == "sctp") {
    if (auto *s = As<xt_sctp_info>(d, len)) {
      if (s->flags & XT_SCTP_SRC_PORTS) Ports(out, "--sport", s->spts, s->invflags & XT_SCTP_SRC_PORTS);
      if (s->flags & XT_SCTP_DEST_PORTS) Ports(out, "--dport", s->dpts, s->invflags & XT_SCTP_DEST_PORTS);
    } else understood = false;
  } else if (name == "conntrack") {
    // 3 only adds port ranges after 2's fields
    auto *c = rev == 2 || rev == 3 ? As<xt_conntrack_mtinfo2>(d, len) : nullptr;
    if (rev == 1 && ct) CtState(out, ct->match_flags, ct->invert_flags, ct->state_mask);
    else if (c) CtState(out, c->match_flags, c->invert_flags, c->state_mask);
    else understood = false;
  } else if (name == "statistic") {
    if (auto *s = As<xt_statistic_info>(d, len)) {
      bool inv = s->flags & XT_STATISTIC_INVERT;
      if (s->mode == XT_STATISTIC_MODE_RANDOM) {
        char p[32];
        std::snprintf(p, sizeof(p), "%.11f", 1.0 * s->u.random.probability / 0x80000000);
        out += " --mode random";
        Opt(out, inv, "--probability");
        out += p;
      } else {
        out += " --mode nth";
        Opt(out, inv, "--every");
        U(out, s->u.nth.every + 1);
        if (s->u.nth.packet) {
          out += " --packet ";
          U(out, s->u.nth.packet);
        }
      }
    } else understood = false;
  } else if (name == "mark") {
    if (auto *k = rev == 1 ? As<xt_mark_mtinfo1>(d, len) : nullptr) {
      Opt(out, k->invert, "--mark");
      Hex(out, k->mark);
      if (k->mask != 0xffffffff) {
        out += '/';
        Hex(out, k->mask);
      }
    } else understood = false;
  } else if (name == "addrtype") {
    auto *v1 = rev == 1 ? As<xt_addrtype_info_v1>(d, len) : nullptr;
    auto *v0 = rev == 0 ? As<xt_addrtype_info>(d, len) : nullptr;
    if (v1) AddrType(out, v1->source, v1->flags & XT_ADDRTYPE_INVERT_SOURCE, v1->dest, v1->flags & XT_ADDRTYPE_INVERT_DEST, v1->flags);
    else if (v0) AddrType(out, v0->source, v0->invert_source, v0->dest, v0->invert_dest, 0);
    else understood = false;
  } else if (name == "nfacct") {
    if (auto *n = As<xt_nfacct_match_info>(d, len)) {
      out += " --nfacct-name ";
      Quoted(out, Name(n->name, sizeof(n->name)));
    } else understood = false;
  }
  if (!understood) out += " [unsupported revision]";
}

// Both families' interfaces and protocols are printed alike. The name as given, `+` of a wildcard included.
void Interface(std::string &out, const char *opt, const char *name, bool inv) {
  std::string_view n = Name(name, IFNAMSIZ);
  if (n.empty()) return;
  Opt(out, inv, opt);
  out += n;
}

template <typename IP>
void Interfaces(std::string &out, const IP &ip, bool in_inv, bool out_inv) {
  Interface(out, "-i", ip.iniface, in_inv);
  Interface(out, "-o", ip.outiface, out_inv);
}

void Protocol(std::string &out, unsigned proto, bool inv) {
  if (proto == 0) return;
  Opt(out, inv, "-p");
  switch (proto) {
    case IPPROTO_TCP: out += "tcp"; break;
    case IPPROTO_UDP: out += "udp"; break;
    case IPPROTO_SCTP: out += "sctp"; break;
    case IPPROTO_UDPLITE: out += "udplite"; break;
    case IPPROTO_ICMP: out += "icmp"; break;
    case IPPROTO_ICMPV6: out += "ipv6-icmp"; break;
    case IPPROTO_ESP: out += "esp"; break;
    case IPPROTO_AH: out += "ah"; break;
    default: U(out, proto);
  }
}

// The address families' differences in print: addresses, the header's fields, the names of REJECT's replies.
template <typename Kernel>
struct Printed;

template <>
struct Printed<Ipv4Tables> : Ipv4Tables {

  static bool Goto(const Entry &e) { return e.ip.flags & IPT_F_GOTO; }

  static void Address(std::string &out, const char *opt, const in_addr &addr, const in_addr &mask, bool inv) {
    if (mask.s_addr == 0 && !inv) return;
    Opt(out, inv, opt);
    Dotted(out, addr);
    out += '/';
    uint32_t m = ntohl(mask.s_addr);
    int bits = __builtin_popcount(m);
    if (m == (bits ? ~0u << (32 - bits) : 0)) U(out, bits);
    else Dotted(out, mask);
  }

  // inet_ntop formats through printf: a tenth of the read at 50,000 addresses
  static void Dotted(std::string &out, const in_addr &a) {
    const auto *b = reinterpret_cast<const uint8_t *>(&a.s_addr);
    for (int i = 0; i < 4; i++) {
      if (i) out += '.';
      U(out, b[i]);
    }
  }

  static void Text(std::string &out, const nf_inet_addr &a) { Dotted(out, a.in); }

  static void Header(std::string &out, const Entry &e) {
    const ipt_ip &ip = e.ip;
    Address(out, "-s", ip.src, ip.smsk, ip.invflags & IPT_INV_SRCIP);
    Address(out, "-d", ip.dst, ip.dmsk, ip.invflags & IPT_INV_DSTIP);
    Interfaces(out, ip, ip.invflags & IPT_INV_VIA_IN, ip.invflags & IPT_INV_VIA_OUT);
    Protocol(out, ip.proto, ip.invflags & IPT_INV_PROTO);
    if (ip.flags & IPT_F_FRAG) {
      if (ip.invflags & IPT_INV_FRAG) out += " !";
      out += " -f";
    }
  }

  static const char *Reject(const unsigned char *d, size_t len) {
    const char *const names[] = {"icmp-net-unreachable", "icmp-host-unreachable", "icmp-proto-unreachable",
                                 "icmp-port-unreachable", "icmp-echo-reply", "icmp-net-prohibited",
                                 "icmp-host-prohibited", "tcp-reset", "icmp-admin-prohibited"};
    auto *r = As<ipt_reject_info>(d, len);
    return r && unsigned(r->with) < sizeof(names) / sizeof(names[0]) ? names[r->with] : nullptr;
  }

  // DNAT as one range: revision 0 is IPv4's own compat struct
  static bool Range(const unsigned char *d, size_t len, unsigned rev, nf_nat_range &range) {
    if (rev != 0) return false;
    auto *c = As<nf_nat_ipv4_multi_range_compat>(d, len);
    if (!c || c->rangesize != 1) return false;
    range = {};
    range.flags = c->range[0].flags;
    range.min_addr.ip = c->range[0].min_ip;
    range.max_addr.ip = c->range[0].max_ip;
    range.min_proto = c->range[0].min;
    range.max_proto = c->range[0].max;
    return true;
  }
};

template <>
struct Printed<Ipv6Tables> : Ipv6Tables {

  static bool Goto(const Entry &e) { return e.ipv6.flags & IP6T_F_GOTO; }

  static void Address(std::string &out, const char *opt, const in6_addr &addr, const in6_addr &mask, bool inv) {
    int bits = 0;
    bool contiguous = true;
    for (int i = 0; i < 16; i++) {
      uint8_t b = mask.s6_addr[i];
      int ones = __builtin_popcount(b);
      if (b != uint8_t(0xff << (8 - ones)) || (ones && bits != 8 * i)) contiguous = false;
      bits += ones;
    }
    if (bits == 0 && !inv) return;
    char text[INET6_ADDRSTRLEN];
    Opt(out, inv, opt);
    out += inet_ntop(AF_INET6, &addr, text, sizeof(text));
    out += '/';
    if (contiguous) U(out, bits);
    else out += inet_ntop(AF_INET6, &mask, text, sizeof(text));
  }

  static void Text(std::string &out, const nf_inet_addr &a) {
    char text[INET6_ADDRSTRLEN];
    out += inet_ntop(AF_INET6, &a.in6, text, sizeof(text));
  }

  static void Header(std::string &out, const Entry &e) {
    const ip6t_ip6 &ip = e.ipv6;
    Address(out, "-s", ip.src, ip.smsk, ip.invflags & IP6T_INV_SRCIP);
    Address(out, "-d", ip.dst, ip.dmsk, ip.invflags & IP6T_INV_DSTIP);
    Interfaces(out, ip, ip.invflags & IP6T_INV_VIA_IN, ip.invflags & IP6T_INV_VIA_OUT);
    if (ip.flags & IP6T_F_PROTO) Protocol(out, ip.proto, ip.invflags & IP6T_INV_PROTO);
  }

  static const char *Reject(const unsigned char *d, size_t len) {
    const char *const names[] = {"icmp6-no-route", "icmp6-adm-prohibited", "icmp6-not-neighbour",
                                 "icmp6-addr-unreachable", "icmp6-port-unreachable", "icmp6-echo-reply",
                                 "tcp-reset", "icmp6-policy-fail", "icmp6-reject-route"};
    auto *r = As<ip6t_reject_info>(d, len);
    return r && r->with < sizeof(names) / sizeof(names[0]) ? names[r->with] : nullptr;
  }

  static bool Range(const unsigned char *, size_t, unsigned, nf_nat_range &) { return false; }
};

template <typename F>
void NatRange(std::string &out, const nf_nat_range &r) {
  bool ports = r.flags & NF_NAT_RANGE_PROTO_SPECIFIED;
  out += " --to-destination ";
  if (r.flags & NF_NAT_RANGE_MAP_IPS) {
    bool brackets = F::kDomain == AF_INET6 && ports;
    auto addr = [&](const nf_inet_addr &a) {
      if (brackets) out += '[';
      F::Text(out, a);
      if (brackets) out += ']';
    };
    addr(r.min_addr);
    if (std::memcmp(&r.min_addr, &r.max_addr, sizeof(r.min_addr)) != 0) {
      out += '-';
      addr(r.max_addr);
    }
  }
  if (ports) {
    out += ':';
    U(out, ntohs(r.min_proto.all));
    if (r.max_proto.all != r.min_proto.all) {
      out += '-';
      U(out, ntohs(r.max_proto.all));
    }
  }
  if (r.flags & NF_NAT_RANGE_PROTO_RANDOM) out += " --random";
  if (r.flags & NF_NAT_RANGE_PERSISTENT) out += " --persistent";
  if (r.flags & NF_NAT_RANGE_PROTO_RANDOM_FULLY) out += " --random-fully";
}

// A table read whole: the kernel's blob and where its chains start.
template <typename F>
class Table {
 public:
  using Entry = typename F::Entry;

  Table(const typename F::Info &info, const typename F::Entries &entries) : base_(reinterpret_cast<const char *>(entries.entrytable)) {
    // One pass, front to back: at 140,000 entries each one read is a cache miss. A user chain is an ERROR
    // entry naming it, then its rules; one more ERROR entry ends the table.
    for (uint32_t off = 0; off + sizeof(Entry) <= entries.size;) {
      const Entry &e = At(off);
      if (e.next_offset < sizeof(Entry)) break;  // the kernel checked the blob; this only stops a loop
      const xt_entry_target &t = TargetOf(e);
      if (std::strcmp(t.u.user.name, XT_ERROR_TARGET) == 0) {
        auto &error = reinterpret_cast<const xt_error_target &>(t);
        chains_.push_back({Name(error.errorname, sizeof(error.errorname)), offsets_.size() + 1, 0, -1});
      }
      offsets_.push_back(off);
      off += e.next_offset;
    }
    if (!chains_.empty() && chains_.back().first == offsets_.size()) chains_.pop_back();
    for (unsigned h = 0; h < NF_INET_NUMHOOKS; h++) {
      if (info.valid_hooks & (1u << h)) chains_.push_back({kHooks[h], Index(info.hook_entry[h]), 0, int(h)});
    }
    std::sort(chains_.begin(), chains_.end(), [](const Chain &a, const Chain &b) { return a.first < b.first; });
    for (size_t k = 0; k < chains_.size(); k++) {
      // the chain's last entry is its policy (a built-in chain) or its RETURN (a user chain)
      size_t next = k + 1 < chains_.size() ? chains_[k + 1].first - (chains_[k + 1].hook < 0 ? 1 : 0) : offsets_.size() - 1;
      chains_[k].end = next > chains_[k].first ? next - 1 : chains_[k].first;
      // jumps name a chain by the offset of its first entry
      starts_.push_back(chains_[k].first < offsets_.size() ? offsets_[chains_[k].first] : UINT32_MAX);
    }
  }

  // Chains in the blob's order (built-in ones first, as the kernel lays them out), not iptables-save's
  // by name: the parser needs no order, and sorting 30,000 names cost a tenth of the read.
  void Print(const std::string &name, TextSink &sink) const {
    std::string &out = sink.text;
    out += '*';
    out += name;
    out += '\n';
    for (const Chain &c : chains_) {
      out += ':';
      out += c.name;
      if (c.hook < 0) {
        out += " - [0:0]\n";
        continue;
      }
      const Entry &policy = At(offsets_[c.end]);
      out += ' ';
      out += Verdict(policy);
      out += ' ';
      Counters(out, policy);
      out += '\n';
    }
    // rules in the blob's order, which reads it front to back
    for (const Chain &c : chains_) {
      for (size_t i = c.first; i < c.end; i++) {
        Rule(c, i, out);
        sink.LineDone();
      }
    }
    out += "COMMIT\n";
  }

 private:
  struct Chain {
    std::string_view name;
    size_t first;  // index of its first rule (or its policy)
    size_t end;    // index of its policy or RETURN entry
    int hook;      // -1: a user chain
  };

  const Entry &At(uint32_t off) const { return *reinterpret_cast<const Entry *>(base_ + off); }
  static const xt_entry_target &TargetOf(const Entry &e) {
    return *reinterpret_cast<const xt_entry_target *>(reinterpret_cast<const char *>(&e) + e.target_offset);
  }

  size_t Index(uint32_t off) const {
    return std::lower_bound(offsets_.begin(), offsets_.end(), off) - offsets_.begin();
  }

  static void Counters(std::string &out, const Entry &e) {
    out += '[';
    U(out, e.counters.pcnt);
    out += ':';
    U(out, e.counters.bcnt);
    out += ']';
  }

  // A standard target's verdict by name; jumps are resolved by Rule()
  static const char *Verdict(const Entry &e) {
    int v = *reinterpret_cast<const int *>(TargetOf(e).data);
    switch (v) {
      case -NF_ACCEPT - 1: return "ACCEPT";
      case -NF_DROP - 1: return "DROP";
      case -NF_QUEUE - 1: return "QUEUE";
      case XT_RETURN: return "RETURN";
      default: return "-";
    }
  }

  void Rule(const Chain &chain, size_t i, std::string &out) const {
    const Entry &e = At(offsets_[i]);
    Counters(out, e);
    out += " -A ";
    out += chain.name;
    F::Header(out, e);
    const char *base = reinterpret_cast<const char *>(&e);
    for (size_t off = sizeof(Entry); off + sizeof(xt_entry_match) <= e.target_offset;) {
      const auto &m = *reinterpret_cast<const xt_entry_match *>(base + off);
      if (m.u.match_size < sizeof(xt_entry_match)) break;
      Match(out, m);
      off += m.u.match_size;
    }
    Target(e, i, out);
    out += '\n';
  }

  void Target(const Entry &e, size_t i, std::string &out) const {
    const xt_entry_target &t = TargetOf(e);
    std::string_view name = Name(t.u.user.name, sizeof(t.u.user.name));
    const unsigned char *d = t.data;
    size_t len = t.u.target_size - sizeof(xt_entry_target);
    if (name.empty()) {  // XT_STANDARD_TARGET: a verdict, or a jump by offset
      int v = *reinterpret_cast<const int *>(d);
      if (v < 0) {
        out += " -j ";
        out += Verdict(e);
        return;
      }
      if (i + 1 < offsets_.size() && uint32_t(v) == offsets_[i + 1] && !F::Goto(e)) return;  // falls through
      out += F::Goto(e) ? " -g " : " -j ";
      auto at = std::lower_bound(starts_.begin(), starts_.end(), uint32_t(v));
      out += at != starts_.end() && *at == uint32_t(v) ? chains_[at - starts_.begin()].name : "[unknown-chain]";
      return;
    }
    out += " -j ";
    out += name;
    unsigned rev = t.u.user.revision;
    bool understood = true;
    if (name == "DNAT") {
      nf_nat_range range{};
      if (rev == 2 && As<nf_nat_range2>(d, len)) std::memcpy(&range, d, sizeof(range));  // 2 adds base_proto after 1's fields
      else if (rev == 1 && As<nf_nat_range>(d, len)) std::memcpy(&range, d, sizeof(range));
      else understood = F::Range(d, len, rev, range);
      if (understood) NatRange<F>(out, range);
    } else if (name == "MARK") {
      if (auto *k = rev == 2 ? As<xt_mark_tginfo2>(d, len) : nullptr) {
        out += " --set-xmark ";
        Hex(out, k->mark);
        out += '/';
        Hex(out, k->mask);
      } else understood = false;
    } else if (name == "REJECT") {
      const char *with = F::Reject(d, len);
      if (with) {
        out += " --reject-with ";
        out += with;
      } else understood = false;
    }
    if (!understood) out += " [unsupported revision]";
  }

  const char *base_;
  std::vector<uint32_t> offsets_;
  std::vector<Chain> chains_;
  std::vector<uint32_t> starts_;  // by chain, its first entry's offset (ascending, as chains_)
};

}  // namespace

template <typename F>
void PrintTable(const std::string &name, const TableRead<F> &table, TextSink &sink) {
  Table<Printed<F>>(table.info, table.entries()).Print(name, sink);
}

template void PrintTable(const std::string &, const TableRead<Ipv4Tables> &, TextSink &);
template void PrintTable(const std::string &, const TableRead<Ipv6Tables> &, TextSink &);

}  // namespace flapwatch
