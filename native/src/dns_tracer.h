// DnsTracer: loads dns.bpf.c (cgroup_skb on the cgroup v2 root, or the device tracepoints where the kernel lacks
// what cgroup_skb needs), and on request sweeps the pending queries and drains the aggregation.
#pragma once
#include <napi.h>

namespace flapwatch {

// The class, for the addon's exports: start({btfPath, cgroupPath, hook, maxQueries, maxFlows}), drain() one at a
// time, stop().
Napi::Function DefineDnsTracer(Napi::Env env);

}  // namespace flapwatch
