// The module's entry: registers exports, nothing else.
#include <napi.h>

#include "conn_tracker.h"
#include "conntrack.h"
#include "dns_tracer.h"
#include "drop_tracer.h"
#include "iptables_legacy.h"
#include "kallsyms.h"
#include "libbpf_log.h"
#include "netns_iterator.h"

namespace flapwatch {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    InstallLibbpfPrint();
    DefineAddon(exports, {InstanceValue("DropTracer", DropTracer::Define(env), napi_enumerable),
                          InstanceValue("UnrepliedFlows", UnrepliedFlows::Define(env), napi_enumerable),
                          InstanceValue("ConnTracker", DefineConnTracker(env), napi_enumerable),
                          InstanceValue("DnsTracer", DefineDnsTracer(env), napi_enumerable),
                          InstanceValue("NetnsIterator", DefineNetnsIterator(env), napi_enumerable),
                          InstanceMethod<&Addon::ResolveMethod>("resolveKernelAddresses"),
                          InstanceMethod<&Addon::ConntrackStatsMethod>("conntrackStats"),
                          InstanceMethod<&Addon::ConntrackAggregateMethod>("conntrackAggregate"),
                          InstanceMethod<&Addon::IptablesLegacySaveMethod>("iptablesLegacySave")});
  }

 private:
  Napi::Value ResolveMethod(const Napi::CallbackInfo &info) { return ResolveKernelAddresses(info); }
  Napi::Value ConntrackStatsMethod(const Napi::CallbackInfo &info) { return ConntrackStats(info); }
  Napi::Value ConntrackAggregateMethod(const Napi::CallbackInfo &info) { return ConntrackAggregate(info); }
  Napi::Value IptablesLegacySaveMethod(const Napi::CallbackInfo &info) { return IptablesLegacySave(info); }
};

}  // namespace flapwatch

using FlapwatchAddon = flapwatch::Addon;
NODE_API_ADDON(FlapwatchAddon)
