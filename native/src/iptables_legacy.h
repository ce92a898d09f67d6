// iptables-legacy's tables read straight from the kernel (IPT_SO_GET_ENTRIES), printed as iptables-save -c
// prints them: what flapwatch needs of kube-proxy's rules, without a child that prints 9 MB to a pipe.
#pragma once
#include <napi.h>

namespace flapwatch {

// iptablesLegacySave(options: { netnsPath, family, tables }, onText: (slice: Buffer) => void): Promise<void>
Napi::Value IptablesLegacySave(const Napi::CallbackInfo &info);

}  // namespace flapwatch
