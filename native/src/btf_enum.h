// Names of a BTF enum's values, read from the running kernel (drop reasons differ between kernels).
#pragma once
#include <napi.h>

namespace flapwatch {

// btfEnum(btfPath: string, name: string): Record<number, string>
Napi::Value BtfEnum(const Napi::CallbackInfo &info);

}  // namespace flapwatch
