// Conntrack over ctnetlink: stats and an aggregated dump, read on libuv's thread pool.
#pragma once
#include <napi.h>

namespace flapwatch {

// conntrackStats(netnsPath: string): Promise<ConntrackStats>
Napi::Value ConntrackStats(const Napi::CallbackInfo &info);

// conntrackAggregate(options: AggregateOptions): Promise<ConntrackGroup[]>
Napi::Value ConntrackAggregate(const Napi::CallbackInfo &info);

}  // namespace flapwatch
