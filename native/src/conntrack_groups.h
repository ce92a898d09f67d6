// Conntrack flows counted by original destination × L4 protocol × TCP state, in plain C++.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace flapwatch {

constexpr uint8_t kNoTcpState = 0xff;

struct CtGroupKey {
  uint8_t addr[16];
  uint16_t port;      // host order
  uint8_t family;     // AF_INET or AF_INET6
  uint8_t proto;
  uint8_t tcp_state;  // kNoTcpState for other protocols
  uint8_t pad[3];     // zero: keys are compared and hashed as three 64-bit words

  bool operator==(const CtGroupKey &o) const;
};

struct CtGroup {
  CtGroupKey key{};
  uint32_t flows = 0;
  uint32_t unreplied = 0;  // no IPS_SEEN_REPLY
  uint32_t assured = 0;    // IPS_ASSURED
};

// Open addressing over indices into a dense vector, so 250k groups cost two flat arrays (no node per
// group) and the vector is already the result. A slot keeps 32 bits of the hash beside the index, so a
// probe rarely reads a group it does not want; flows are counted in batches whose slots are prefetched
// first, since with many groups nearly every lookup misses the cache.
class CtGroupTable {
 public:
  CtGroupTable() : CtGroupTable(SIZE_MAX) {}
  // Past `limit` groups, flows of new keys are summed into the rest Take() returns.
  explicit CtGroupTable(size_t limit) : slots_(kInitialSlots), limit_(limit) {}

  void Add(const CtGroupKey &key, uint32_t status) {
    Pending &p = pending_[pending_count_++];
    p = {key, Hash(key), status};
    __builtin_prefetch(&slots_[p.hash & (slots_.size() - 1)]);
    if (pending_count_ == kBatch) Flush();
  }

  // The groups in the order first seen, and the rest; the table starts again empty.
  std::vector<CtGroup> Take(CtGroup *rest);

 private:
  static constexpr size_t kInitialSlots = 1024;
  static constexpr size_t kBatch = 16;
  static constexpr uint64_t kTag = 0xffffffff00000000ull;  // the hash bits a slot keeps

  struct Pending {
    CtGroupKey key;
    uint64_t hash;
    uint32_t status;
  };

  static uint64_t Hash(const CtGroupKey &key);
  void Flush();
  CtGroup *Find(const CtGroupKey &key, uint64_t hash);
  void Grow();

  std::vector<uint64_t> slots_;  // hash tag << 32 | index + 1 into groups_; 0 = empty; a power of two long
  std::vector<CtGroup> groups_;
  CtGroup rest_;
  size_t limit_;
  Pending pending_[kBatch] = {};
  size_t pending_count_ = 0;
};

// The flows one UNREPLIED dump saw, kept until the next. A flow the next dump does not see has left the set:
// its timeout ran out (it died unanswered: the kernel skips an expired entry in a dump), or it saw its reply (or
// was deleted) before then. Told apart by the timeout each dump reads. Nothing per connection: only the flows
// still waiting at a dump are kept, and only dumps update them.
class CtUnrepliedFlows {
 public:
  explicit CtUnrepliedFlows(size_t max_flows) : max_flows_(max_flows) {}

  // A dump starts at `now_ms` (a monotonic clock).
  void Begin(uint64_t now_ms);
  // The dump saw flow `id`, waiting `timeout_s` more seconds at most.
  void Seen(uint32_t id, const CtGroupKey &key, uint32_t timeout_s);
  // The dump ended: the flows gone since the last one whose timeout had run out are added to `died`.
  void End(CtGroupTable &died);
  // Flows not followed since the last call: new ones past max_flows.
  uint64_t TakeUnfollowed();

 private:
  struct Flow {
    CtGroupKey key;
    uint64_t expires_ms;
    uint32_t dump;  // the last dump that saw it
  };
  std::unordered_map<uint32_t, Flow> flows_;  // by conntrack id
  size_t max_flows_;
  uint64_t now_ms_ = 0;
  uint32_t dump_ = 0;
  uint64_t unfollowed_ = 0;
};

// Largest first; ties in key order so results are stable.
bool Larger(const CtGroup &a, const CtGroup &b);

// Name of a TCP conntrack state as conntrack(8) prints it; '' for kNoTcpState.
std::string TcpStateName(uint8_t state);

}  // namespace flapwatch
