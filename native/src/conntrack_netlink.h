// ctnetlink over libmnl in plain C++ (no N-API): what the conntrack workers run off the main thread.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"

struct mnl_socket;
struct nlmsghdr;

namespace flapwatch {

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

  mnl_socket *socket() const { return nl_; }

 private:
  mnl_socket *nl_ = nullptr;
  unsigned seq_ = 0;
};

struct CtStats {
  std::vector<std::pair<std::string, uint64_t>> counters;  // per-CPU stats summed, in enum order
  uint64_t entries = 0;
  uint64_t max_entries = 0;
  uint32_t cpus = 0;
};

bool ReadCtStats(const std::string &netns_path, CtStats &out, Failure &failure);

// Original destination × L4 protocol × TCP state: what the groups are keyed by.
struct CtGroupKey {
  uint8_t addr[16];
  uint16_t port;      // host order
  uint8_t family;     // AF_INET or AF_INET6
  uint8_t proto;
  uint8_t tcp_state;  // kNoTcpState for other protocols
  uint8_t pad[3];     // zero: keys are compared and hashed as three 64-bit words

  bool operator==(const CtGroupKey &o) const;
};
constexpr uint8_t kNoTcpState = 0xff;

struct CtGroup {
  CtGroupKey key;
  uint32_t flows = 0;
  uint32_t unreplied = 0;  // no IPS_SEEN_REPLY
  uint32_t assured = 0;    // IPS_ASSURED
};

struct CtAggregateOptions {
  std::string netns_path;
  uint8_t family = 0;  // AF_UNSPEC, AF_INET, AF_INET6
  bool filter_status = false;
  uint32_t status_value = 0;
  uint32_t status_mask = 0;
  uint32_t max_groups = 0;  // beyond it, the smallest groups are summed into `rest`
};

struct CtAggregate {
  std::vector<CtGroup> groups;  // largest first
  CtGroup rest;                 // what did not fit in max_groups; rest.key is unused
  uint32_t rest_groups = 0;
};

bool AggregateCt(const CtAggregateOptions &options, CtAggregate &out, Failure &failure);

// Name of a TCP conntrack state as conntrack(8) prints it; '' for kNoTcpState.
std::string TcpStateName(uint8_t state);

}  // namespace flapwatch
