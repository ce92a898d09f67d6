// Reading a tracer's BPF maps from user space: drains that delete what they read, per-CPU counters summed.
#pragma once
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdint>
#include <utility>
#include <vector>

namespace flapwatch {

template <typename K, typename V>
using Entries = std::vector<std::pair<K, V>>;

// Reads and deletes the entries (the maps hold deltas since the previous drain). Batch ops where the
// kernel has them (5.6+), one key at a time otherwise. A flood refills the slots the walk frees, so the walk
// stops after `limit` entries: what is left waits for the next drain instead of growing this one. 0 or errno.
template <typename K, typename V>
int DrainMap(int fd, Entries<K, V> &out, size_t limit) {
  constexpr uint32_t kBatch = 1024;
  std::vector<K> keys(kBatch);
  std::vector<V> values(kBatch);
  K token;
  bool first = true;
  for (;;) {
    __u32 count = kBatch;
    int err = bpf_map_lookup_and_delete_batch(fd, first ? nullptr : &token, &token, keys.data(), values.data(),
                                              &count, nullptr);
    first = false;
    for (__u32 i = 0; i < count; i++) out.emplace_back(keys[i], values[i]);
    if (err == 0 && out.size() >= limit) return 0;
    if (err == 0) continue;
    if (errno == ENOENT) return 0;
    if (errno != EINVAL && errno != ENOTSUP) return errno;
    break;  // no batch support: fall back below
  }
  K key;
  V value;
  while (out.size() < limit && bpf_map_get_next_key(fd, nullptr, &key) == 0) {
    if (bpf_map_lookup_elem(fd, &key, &value) == 0) out.emplace_back(key, value);
    bpf_map_delete_elem(fd, &key);
  }
  return 0;
}

// Slots 0..n of a per-CPU array of __u64, each summed over CPUs into out[i]. 0 or errno.
inline int SumPerCpu(int fd, uint32_t n, __u64 *out) {
  int ncpu = libbpf_num_possible_cpus();
  std::vector<__u64> per_cpu(ncpu > 0 ? ncpu : 1);
  for (__u32 i = 0; i < n; i++) {
    if (bpf_map_lookup_elem(fd, &i, per_cpu.data()) != 0) return errno;
    for (__u64 v : per_cpu) out[i] += v;
  }
  return 0;
}

}  // namespace flapwatch
