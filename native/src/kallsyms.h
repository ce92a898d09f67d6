// Kernel addresses → the name of the function they lie in, by one streaming pass over /proc/kallsyms per
// batch of new addresses. Nothing stays resident: a node has ~120k symbols and only a few dozen drop locations.
#pragma once
#include <napi.h>

namespace flapwatch {

// resolveKernelAddresses(path: string, addrs: bigint[]): Promise<(string | null)[]>
Napi::Value ResolveKernelAddresses(const Napi::CallbackInfo &info);

}  // namespace flapwatch
