// Conntrack over ctnetlink: stats and an aggregated dump, read on libuv's thread pool.
#pragma once
#include <napi.h>

#include <vector>

#include "conntrack_groups.h"

namespace flapwatch {

// conntrackStats(netnsPath: string): Promise<ConntrackStats>
Napi::Value ConntrackStats(const Napi::CallbackInfo &info);

// conntrackAggregate(options: ConntrackAggregateOptions): Promise<ConntrackGroupColumns>
Napi::Value ConntrackAggregate(const Napi::CallbackInfo &info);

// ConntrackGroupColumns: the groups, then `rest` as daddr '*' if it holds any flow.
Napi::Object GroupColumns(Napi::Env env, const std::vector<CtGroup> &groups, const CtGroup &rest);

// new UnrepliedFlows({ maxFlows }): the flows waiting for a reply, dump after dump, and those that died so.
class UnrepliedFlows : public Napi::ObjectWrap<UnrepliedFlows> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit UnrepliedFlows(const Napi::CallbackInfo &info);

 private:
  friend class UnrepliedWorker;
  // dump({ netnsPath, maxGroups }): Promise<{ waiting, died: ConntrackGroupColumns, unfollowed }>
  Napi::Value Dump(const Napi::CallbackInfo &info);

  CtUnrepliedFlows flows_;
  bool dumping_ = false;  // a worker holds flows_
};

}  // namespace flapwatch
