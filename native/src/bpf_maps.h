// Reading what the BPF programs aggregate: drains of their LRU hashes and sums of their per-CPU counters. Every
// tracer's drain worker uses these; nothing here touches N-API.
#pragma once
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"

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

// Drains `map` into `out`, up to twice its capacity (see DrainMap). 0 or errno.
template <typename K, typename V>
int DrainMap(const bpf_map *map, Entries<K, V> &out) {
  return DrainMap(bpf_map__fd(map), out, 2 * static_cast<size_t>(bpf_map__max_entries(map)));
}

// Drains `map` into `out` (see DrainMap); false with `failure` naming `what` ("the drops map").
template <typename K, typename V>
bool Drain(const bpf_map *map, Entries<K, V> &out, const char *what, Failure &failure) {
  int err = DrainMap(map, out);
  if (err) failure = {"bpf_map_lookup_and_delete_batch", err, std::string("draining ") + what};
  return err == 0;
}

// The per-CPU __u64 counters 0..count-1 of a PERCPU_ARRAY, each summed over CPUs into out[i]; false with
// `failure` naming `whose` ("the tracer's").
bool SumCounters(const bpf_map *map, __u32 count, __u64 *out, const char *whose, Failure &failure);

}  // namespace flapwatch
