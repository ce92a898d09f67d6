// NetnsIterator: loads task_netns.bpf.c (a task iterator) once, then lists on request the network namespaces of
// the tasks in the caller's PID namespace.
#pragma once
#include <napi.h>

namespace flapwatch {

// The class, for the addon's exports: start({btfPath}), read() (reads may overlap), stop().
Napi::Function DefineNetnsIterator(Napi::Env env);

}  // namespace flapwatch
