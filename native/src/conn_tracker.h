// ConnTracker: loads connections.bpf.c and drains its per-edge connect counts on request.
#pragma once
#include <napi.h>

namespace flapwatch {

// The class, for the addon's exports: start({btfPath, maxKeys, maxPending}), drain() one at a time, stop().
Napi::Function DefineConnTracker(Napi::Env env);

}  // namespace flapwatch
