// ctnetlink over libmnl in plain C++ (no N-API): what the conntrack workers run off the main thread.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "conntrack_groups.h"
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
  // Joins a ctnetlink multicast group (NFNLGRP_CONNTRACK_*) to receive its events.
  bool Subscribe(unsigned group, Failure &failure);
  // Lets through only events of entries that never saw a reply: the kernel keeps the rest (every answered
  // connection) off the socket's queue, so a connect storm wakes nobody.
  bool OnlyUnreplied(Failure &failure);
  int fd() const;

 private:
  mnl_socket *nl_ = nullptr;
  unsigned seq_ = 0;
};

// Reads a conntrack message (a dump reply or an event): its group key and status. False if too short.
bool ParseCt(const nlmsghdr *nlh, CtGroupKey &key, uint32_t &status);

struct CtStats {
  std::vector<std::pair<std::string, uint64_t>> counters;  // per-CPU stats summed, in enum order
  uint64_t entries = 0;
  uint64_t max_entries = 0;
  uint32_t cpus = 0;
};

bool ReadCtStats(const std::string &netns_path, CtStats &out, Failure &failure);

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
  CtGroup rest;                 // the flows of groups past max_groups (its key stays zero)
};

bool AggregateCt(const CtAggregateOptions &options, CtAggregate &out, Failure &failure);

}  // namespace flapwatch
