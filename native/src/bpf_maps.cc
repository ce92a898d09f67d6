#include "bpf_maps.h"

namespace flapwatch {

bool SumCounters(const bpf_map *map, __u32 count, __u64 *out, const char *whose, Failure &failure) {
  int ncpu = libbpf_num_possible_cpus();
  std::vector<__u64> per_cpu(ncpu > 0 ? ncpu : 1);
  for (__u32 i = 0; i < count; i++) {
    if (bpf_map_lookup_elem(bpf_map__fd(map), &i, per_cpu.data()) != 0) {
      failure = {"bpf_map_lookup_elem", errno, std::string("reading ") + whose + " counters"};
      return false;
    }
    out[i] = 0;
    for (__u64 v : per_cpu) out[i] += v;
  }
  return true;
}

}  // namespace flapwatch
