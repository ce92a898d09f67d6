#include "conntrack_netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include "netns.h"

namespace flapwatch {
namespace {

// A netlink socket made in the netns at `netns_path` ('' = the calling thread's own). The thread enters
// that netns only to create the socket: a socket stays in the netns it was made in.
class CtSocket {
 public:
  CtSocket() = default;
  ~CtSocket();
  CtSocket(const CtSocket &) = delete;
  CtSocket &operator=(const CtSocket &) = delete;

  bool Open(const std::string &netns_path, Failure &failure);
  // Sends `request` and hands every reply to `on_message` until the dump ends (or the ack of a single
  // request). `what` names the request in errors.
  bool Run(nlmsghdr *request, int (*on_message)(const nlmsghdr *, void *), void *data, const char *what,
           Failure &failure);

 private:
  mnl_socket *nl_ = nullptr;
  unsigned seq_ = 0;
};

// A dump reply is at most 32 KiB (the kernel's cap on a netlink dump skb); twice that leaves room.
constexpr size_t kRecvBytes = 64 * 1024;

// Attributes are read inline: libmnl's accessors are calls into a shared library, and a 250k-entry dump
// makes tens of millions of them. (Its loop macros do not compile as C++ either.)
uint16_t AttrType(const nlattr *attr) { return attr->nla_type & NLA_TYPE_MASK; }
uint16_t AttrLen(const nlattr *attr) { return attr->nla_len - NLA_HDRLEN; }
const void *AttrData(const nlattr *attr) { return reinterpret_cast<const char *>(attr) + NLA_HDRLEN; }

template <typename T>
T AttrValue(const nlattr *attr) {
  T value;
  std::memcpy(&value, AttrData(attr), sizeof(value));
  return value;
}

template <typename F>
void ForEachAttr(const void *start, int len, F &&f) {
  const char *p = static_cast<const char *>(start);
  while (len >= NLA_HDRLEN) {
    const auto *attr = reinterpret_cast<const nlattr *>(p);
    if (attr->nla_len < NLA_HDRLEN || attr->nla_len > len) return;
    f(attr);
    p += NLA_ALIGN(attr->nla_len);
    len -= NLA_ALIGN(attr->nla_len);
  }
}

template <typename F>
void ForEachNested(const nlattr *nest, F &&f) {
  ForEachAttr(AttrData(nest), AttrLen(nest), f);
}

// A ctnetlink message is a nfgenmsg, then attributes; shorter ones are skipped.
constexpr int kCtHeader = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));

template <typename F>
void ForEachCtAttr(const nlmsghdr *nlh, F &&f) {
  if (static_cast<int>(nlh->nlmsg_len) < kCtHeader) return;
  ForEachAttr(reinterpret_cast<const char *>(nlh) + kCtHeader, static_cast<int>(nlh->nlmsg_len) - kCtHeader, f);
}

bool IsU32(const nlattr *attr) { return AttrLen(attr) == sizeof(uint32_t); }

nlmsghdr *Request(char *buf, uint8_t type, uint16_t flags, uint8_t family) {
  nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  auto *nfg = static_cast<nfgenmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = family;
  nfg->version = NFNETLINK_V0;
  return nlh;
}

// enum ctattr_stats_cpu, named as conntrack -S prints them.
std::string StatName(uint16_t type) {
  switch (type) {
    case CTA_STATS_SEARCHED: return "searched";
    case CTA_STATS_FOUND: return "found";
    case CTA_STATS_NEW: return "new";
    case CTA_STATS_INVALID: return "invalid";
    case CTA_STATS_IGNORE: return "ignore";
    case CTA_STATS_DELETE: return "delete";
    case CTA_STATS_DELETE_LIST: return "delete_list";
    case CTA_STATS_INSERT: return "insert";
    case CTA_STATS_INSERT_FAILED: return "insert_failed";
    case CTA_STATS_DROP: return "drop";
    case CTA_STATS_EARLY_DROP: return "early_drop";
    case CTA_STATS_ERROR: return "error";
    case CTA_STATS_SEARCH_RESTART: return "search_restart";
    case CTA_STATS_CLASH_RESOLVE: return "clash_resolve";
    case CTA_STATS_CHAIN_TOOLONG: return "chaintoolong";
    default: return "stat_" + std::to_string(type);
  }
}

struct CpuSums {
  std::map<uint16_t, uint64_t> sums;  // attribute type → sum over CPUs; only what the kernel sent
  uint32_t cpus = 0;
};

int OnStatsCpu(const nlmsghdr *nlh, void *data) {
  auto *out = static_cast<CpuSums *>(data);
  out->cpus++;
  ForEachCtAttr(nlh, [&](const nlattr *attr) {
    if (IsU32(attr)) out->sums[AttrType(attr)] += ntohl(AttrValue<uint32_t>(attr));
  });
  return MNL_CB_OK;
}

int OnStatsGlobal(const nlmsghdr *nlh, void *data) {
  auto *out = static_cast<CtStats *>(data);
  ForEachCtAttr(nlh, [&](const nlattr *attr) {
    if (!IsU32(attr)) return;
    uint32_t value = ntohl(AttrValue<uint32_t>(attr));
    if (AttrType(attr) == CTA_STATS_GLOBAL_ENTRIES) out->entries = value;
    if (AttrType(attr) == CTA_STATS_GLOBAL_MAX_ENTRIES) out->max_entries = value;
  });
  return MNL_CB_OK;
}

// nf_conntrack_max is one value for every netns, so the caller's own /proc/sys shows it.
uint64_t ReadConntrackMax() {
  std::ifstream file("/proc/sys/net/netfilter/nf_conntrack_max");
  uint64_t value = 0;
  file >> value;
  return value;
}

struct DumpState {
  const CtAggregateOptions *options;
  CtGroupTable groups;
};

// What a conntrack message says of its entry.
struct CtEntry {
  CtGroupKey key;
  uint32_t status = 0;
  uint32_t id = 0;
  uint32_t timeout = 0;  // seconds left
};

void ParseOrigTuple(const nlattr *tuple, CtGroupKey &key) {
  ForEachNested(tuple, [&](const nlattr *part) {
    if (AttrType(part) == CTA_TUPLE_IP) {
      ForEachNested(part, [&](const nlattr *ip) {
        uint16_t type = AttrType(ip), len = AttrLen(ip);
        if ((type == CTA_IP_V4_DST && len == 4) || (type == CTA_IP_V6_DST && len == 16))
          std::memcpy(key.addr, AttrData(ip), len);
      });
    } else if (AttrType(part) == CTA_TUPLE_PROTO) {
      ForEachNested(part, [&](const nlattr *proto) {
        uint16_t type = AttrType(proto), len = AttrLen(proto);
        if (type == CTA_PROTO_NUM && len == 1) key.proto = AttrValue<uint8_t>(proto);
        if (type == CTA_PROTO_DST_PORT && len == 2) key.port = ntohs(AttrValue<uint16_t>(proto));
      });
    }
  });
}

void ParseTcpState(const nlattr *protoinfo, CtGroupKey &key) {
  ForEachNested(protoinfo, [&](const nlattr *info) {
    if (AttrType(info) != CTA_PROTOINFO_TCP) return;
    ForEachNested(info, [&](const nlattr *tcp) {
      if (AttrType(tcp) == CTA_PROTOINFO_TCP_STATE && AttrLen(tcp) == 1)
        key.tcp_state = AttrValue<uint8_t>(tcp);
    });
  });
}

// False if too short to be one.
bool ParseCt(const nlmsghdr *nlh, CtEntry &entry) {
  if (static_cast<int>(nlh->nlmsg_len) < kCtHeader) return false;
  CtGroupKey &key = entry.key;
  std::memset(&key, 0, sizeof(key));
  key.family = static_cast<const nfgenmsg *>(NLMSG_DATA(nlh))->nfgen_family;
  key.tcp_state = kNoTcpState;
  ForEachCtAttr(nlh, [&](const nlattr *attr) {
    switch (AttrType(attr)) {
      case CTA_TUPLE_ORIG: ParseOrigTuple(attr, key); break;
      case CTA_STATUS:
        if (IsU32(attr)) entry.status = ntohl(AttrValue<uint32_t>(attr));
        break;
      case CTA_ID:
        if (IsU32(attr)) entry.id = ntohl(AttrValue<uint32_t>(attr));
        break;
      case CTA_TIMEOUT:
        if (IsU32(attr)) entry.timeout = ntohl(AttrValue<uint32_t>(attr));
        break;
      case CTA_PROTOINFO: ParseTcpState(attr, key); break;
    }
  });
  return true;
}

int OnConntrack(const nlmsghdr *nlh, void *data) {
  auto *state = static_cast<DumpState *>(data);
  const CtAggregateOptions &o = *state->options;
  CtEntry entry;
  if (!ParseCt(nlh, entry)) return MNL_CB_OK;
  // Kernels older than CTA_STATUS_MASK ignore the filter in the request: apply it here too.
  if (o.filter_status && (entry.status & o.status_mask) != o.status_value) return MNL_CB_OK;
  state->groups.Add(entry.key, entry.status);
  if (o.follow) o.follow->Seen(entry.id, entry.key, entry.timeout);
  return MNL_CB_OK;
}

uint64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Past max_groups, the smallest groups are summed into `rest`; those kept go largest first.
void KeepLargest(std::vector<CtGroup> &groups, CtGroup &rest, uint32_t max_groups) {
  if (max_groups && groups.size() > max_groups) {
    auto keep = groups.begin() + max_groups;
    std::nth_element(groups.begin(), keep, groups.end(), Larger);
    for (auto g = keep; g != groups.end(); ++g) {
      rest.flows += g->flows;
      rest.unreplied += g->unreplied;
      rest.assured += g->assured;
    }
    groups.erase(keep, groups.end());
  }
  std::sort(groups.begin(), groups.end(), Larger);
}

CtSocket::~CtSocket() {
  if (nl_) mnl_socket_close(nl_);
}

bool CtSocket::Open(const std::string &netns_path, Failure &failure) {
  {
    NetnsScope scope(netns_path, failure);
    if (failure.failed()) return false;
    nl_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  }
  if (!nl_) {
    failure = {"socket", errno, "opening a NETLINK_NETFILTER socket"};
    return false;
  }
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    failure = {"bind", errno, "binding a NETLINK_NETFILTER socket"};
    return false;
  }
  return true;
}

bool CtSocket::Run(nlmsghdr *request, int (*on_message)(const nlmsghdr *, void *), void *data, const char *what,
                   Failure &failure) {
  request->nlmsg_seq = ++seq_;
  if (mnl_socket_sendto(nl_, request, request->nlmsg_len) < 0) {
    failure = {"sendto", errno, std::string("sending ") + what};
    return false;
  }
  unsigned portid = mnl_socket_get_portid(nl_);
  std::vector<char> buf(kRecvBytes);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;  // a signal: nothing was lost
    if (n < 0) {
      failure = {"recvmsg", errno, std::string("reading the reply to ") + what};
      return false;
    }
    int ret = mnl_cb_run(buf.data(), n, request->nlmsg_seq, portid, on_message, data);
    if (ret == MNL_CB_ERROR) {
      int err = errno;
      failure = {what, err,
                 err == EPERM   ? "ctnetlink needs CAP_NET_ADMIN"
                 : err == EINTR ? "the dump was interrupted (NLM_F_DUMP_INTR): try again"
                                : "ctnetlink refused the request"};
      return false;
    }
    if (ret == MNL_CB_STOP) return true;
  }
}

}  // namespace

bool ReadCtStats(const std::string &netns_path, CtStats &out, Failure &failure) {
  CtSocket socket;
  if (!socket.Open(netns_path, failure)) return false;
  alignas(nlmsghdr) char buf[MNL_NLMSG_HDRLEN + 64];
  CpuSums cpu;
  if (!socket.Run(Request(buf, IPCTNL_MSG_CT_GET_STATS_CPU, NLM_F_DUMP, AF_UNSPEC), OnStatsCpu, &cpu,
                  "IPCTNL_MSG_CT_GET_STATS_CPU", failure))
    return false;
  // Not a dump: the ack ends the reply.
  if (!socket.Run(Request(buf, IPCTNL_MSG_CT_GET_STATS, NLM_F_ACK, AF_UNSPEC), OnStatsGlobal, &out,
                  "IPCTNL_MSG_CT_GET_STATS", failure))
    return false;
  for (const auto &[type, sum] : cpu.sums) out.counters.emplace_back(StatName(type), sum);
  out.cpus = cpu.cpus;
  if (!out.max_entries) out.max_entries = ReadConntrackMax();  // older kernels lack CTA_STATS_GLOBAL_MAX_ENTRIES
  return true;
}

bool AggregateCt(const CtAggregateOptions &options, CtAggregate &out, Failure &failure) {
  CtSocket socket;
  if (!socket.Open(options.netns_path, failure)) return false;
  alignas(nlmsghdr) char buf[MNL_NLMSG_HDRLEN + 64];
  nlmsghdr *request = Request(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, options.family);
  if (options.filter_status) {
    // The kernel still walks the table but copies out only what matches.
    mnl_attr_put_u32(request, CTA_STATUS, htonl(options.status_value));
    mnl_attr_put_u32(request, CTA_STATUS_MASK, htonl(options.status_mask));
  }
  DumpState state{&options, {}};
  if (options.follow) options.follow->Begin(MonotonicMs());
  if (!socket.Run(request, OnConntrack, &state, "IPCTNL_MSG_CT_GET", failure)) return false;

  out.groups = state.groups.Take(&out.rest);  // the table has no limit: rest starts empty
  KeepLargest(out.groups, out.rest, options.max_groups);
  if (options.follow) {
    CtGroupTable died;
    options.follow->End(died);
    out.died = died.Take(&out.died_rest);
    KeepLargest(out.died, out.died_rest, options.max_groups);
  }
  return true;
}

}  // namespace flapwatch
