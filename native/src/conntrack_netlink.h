// ctnetlink over libmnl in plain C++ (no N-API): what the conntrack workers run off the main thread.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "conntrack_groups.h"
#include "errors.h"

namespace flapwatch {

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
  // UNREPLIED dumps: the flows of the last dump, to tell which died since (the caller keeps it between dumps)
  CtUnrepliedFlows *follow = nullptr;
};

struct CtAggregate {
  std::vector<CtGroup> groups;  // largest first
  CtGroup rest;                 // the flows of groups past max_groups (its key stays zero)
  // with `follow`: the flows gone since the last dump whose timeout had run out, by destination
  std::vector<CtGroup> died;
  CtGroup died_rest;
};

bool AggregateCt(const CtAggregateOptions &options, CtAggregate &out, Failure &failure);

}  // namespace flapwatch
