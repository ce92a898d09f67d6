#include "conntrack_groups.h"

#include <linux/netfilter/nf_conntrack_common.h>

#include <cstring>

namespace flapwatch {

bool CtGroupKey::operator==(const CtGroupKey &o) const { return std::memcmp(this, &o, sizeof(o)) == 0; }

uint64_t CtGroupTable::Hash(const CtGroupKey &key) {
  static_assert(sizeof(CtGroupKey) == 24, "three words");
  uint64_t w[3];
  std::memcpy(w, &key, sizeof(w));
  uint64_t h = (w[0] * 0x9e3779b97f4a7c15ull) ^ (w[1] * 0xc2b2ae3d27d4eb4full) ^ (w[2] * 0x165667b19e3779f9ull);
  return h ^ (h >> 29);
}

void CtGroupTable::Flush() {
  for (size_t n = 0; n < pending_count_; n++) {
    CtGroup *g = Find(pending_[n].key, pending_[n].hash);
    if (!g) g = &rest_;
    g->flows++;
    if (!(pending_[n].status & IPS_SEEN_REPLY)) g->unreplied++;
    if (pending_[n].status & IPS_ASSURED) g->assured++;
  }
  pending_count_ = 0;
}

// The key's group, made if new; nullptr if new and the table is at its limit.
CtGroup *CtGroupTable::Find(const CtGroupKey &key, uint64_t hash) {
  if ((groups_.size() + 1) * 2 > slots_.size()) Grow();  // load ≤ 1/2: short probes
  for (size_t i = hash;; i++) {
    uint64_t &slot = slots_[i & (slots_.size() - 1)];
    if (!slot) {
      if (groups_.size() >= limit_) return nullptr;
      groups_.push_back({key});
      slot = (hash & kTag) | groups_.size();
      return &groups_.back();
    }
    CtGroup &g = groups_[(slot & ~kTag) - 1];
    if ((slot & kTag) == (hash & kTag) && g.key == key) return &g;
  }
}

void CtGroupTable::Grow() {
  slots_.assign(slots_.size() * 2, 0);
  for (size_t n = 1; n <= groups_.size(); n++) {
    uint64_t hash = Hash(groups_[n - 1].key);
    size_t i = hash;
    while (slots_[i & (slots_.size() - 1)]) i++;
    slots_[i & (slots_.size() - 1)] = (hash & kTag) | n;
  }
}

std::vector<CtGroup> CtGroupTable::Take(CtGroup *rest) {
  Flush();
  *rest = rest_;
  rest_ = {};
  std::vector<uint64_t>(kInitialSlots).swap(slots_);
  std::vector<CtGroup> groups;
  groups.swap(groups_);
  return groups;
}

void CtUnrepliedFlows::Begin(uint64_t now_ms) {
  now_ms_ = now_ms;
  dump_++;
}

void CtUnrepliedFlows::Seen(uint32_t id, const CtGroupKey &key, uint32_t timeout_s) {
  auto it = flows_.find(id);
  if (it == flows_.end()) {
    if (flows_.size() >= max_flows_) {
      unfollowed_++;
      return;
    }
    it = flows_.emplace(id, Flow{}).first;
  }
  it->second = {key, now_ms_ + uint64_t{timeout_s} * 1000, dump_};
}

void CtUnrepliedFlows::End(CtGroupTable &died) {
  for (auto it = flows_.begin(); it != flows_.end();) {
    if (it->second.dump == dump_) {
      ++it;
      continue;
    }
    // the timeout is read in whole seconds, rounded down: one that ran out did so by now
    if (it->second.expires_ms <= now_ms_) died.Add(it->second.key, 0);
    it = flows_.erase(it);
  }
}

uint64_t CtUnrepliedFlows::TakeUnfollowed() {
  uint64_t n = unfollowed_;
  unfollowed_ = 0;
  return n;
}

bool Larger(const CtGroup &a, const CtGroup &b) {
  if (a.flows != b.flows) return a.flows > b.flows;
  return std::memcmp(&a.key, &b.key, sizeof(a.key)) < 0;
}

std::string TcpStateName(uint8_t state) {
  // enum tcp_conntrack; 9 was LISTEN, now SYN_SENT2.
  static const char *const names[] = {"NONE",       "SYN_SENT", "SYN_RECV",  "ESTABLISHED", "FIN_WAIT",
                                      "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE",       "SYN_SENT2"};
  if (state == kNoTcpState) return "";
  if (state < sizeof(names) / sizeof(names[0])) return names[state];
  return "state_" + std::to_string(state);
}

}  // namespace flapwatch
