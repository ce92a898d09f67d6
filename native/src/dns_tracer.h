// DnsTracer: loads dns.bpf.c (cgroup_skb on the cgroup v2 root, or the device tracepoints where the kernel lacks
// what cgroup_skb needs), and on request sweeps the pending queries and drains the aggregation.
#pragma once
#include <linux/types.h>  // dns.h uses the kernel's fixed-width types
#include <napi.h>

#include <memory>
#include <string>

#include "dns.h"
#include "lifecycle.h"

struct dns_bpf;

namespace flapwatch {

// Plain options ("baton"): TypeScript has validated every field.
struct DnsOptions {
  std::string btf_path;
  std::string cgroup_path;  // the cgroup v2 root for cgroup_skb; '' = the tracepoints
  std::string hook;         // "auto", "cgroup_skb" or "tracepoints"
  uint32_t max_queries = 16384;
  uint32_t max_flows = 4096;
};

// Shared by the tracer and a drain in flight: stop() detaches at once, the maps go when the last holder lets go.
using DnsObject = std::shared_ptr<dns_bpf>;

class DnsTracer : public Napi::ObjectWrap<DnsTracer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit DnsTracer(const Napi::CallbackInfo &info);
  ~DnsTracer() override;

  // The start worker's end, on the main thread: the loaded object, or nullptr if loading failed.
  void Started(DnsObject skel);
  // A drain worker's end.
  void Drained();

 private:
  Napi::Value Start(const Napi::CallbackInfo &info);
  Napi::Value Drain(const Napi::CallbackInfo &info);
  void Stop(const Napi::CallbackInfo &info);
  void Close();

  Lifecycle lifecycle_;
  DnsObject skel_;
  bool draining_ = false;
};

}  // namespace flapwatch
