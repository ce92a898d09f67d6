/* What every aggregating program shares: its per-CPU counters and the insert-or-find of an aggregation key.
 * Define FW_STATS_COUNT (the number of counters) before including: this header defines the `stats` map. */
#ifndef FLAPWATCH_AGGREGATE_BPF_H
#define FLAPWATCH_AGGREGATE_BPF_H

#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FW_STATS_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* An LRU hash user space sizes before load (bpf_map__set_max_entries): the oldest keys go when it is full. */
#define FW_LRU_HASH(name, key_type, value_type) \
	struct { \
		__uint(type, BPF_MAP_TYPE_LRU_HASH); \
		__uint(max_entries, 4096); \
		__type(key, key_type); \
		__type(value, value_type); \
	} name SEC(".maps")

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += n; /* per-CPU: no atomics needed */
}

/* The value of `key` in an aggregation map, inserted as `zero` when missing; NULL when the map refused the
 * insert. `stat_new` counts keys inserted (drained keys against it tell evictions), `stat_full` refusals. */
static __always_inline void *entry_of(void *map, const void *key, const void *zero, __u32 stat_new, __u32 stat_full)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	/* NOEXIST: another CPU may have inserted the key meanwhile; then its entry is used */
	if (bpf_map_update_elem(map, key, zero, BPF_NOEXIST) == 0)
		stat_add(stat_new, 1);
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		stat_add(stat_full, 1);
	return v;
}

#endif
