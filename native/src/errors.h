// Errors that carry what failed: the call, errno and its code, as Node's own system errors do.
#pragma once
#include <napi.h>
#include <string>

namespace flapwatch {

// A failure recorded on a worker thread, turned into a JS error later on the main thread.
struct Failure {
  std::string call;    // the failing call, e.g. "bpf_object__load"
  int err = 0;         // positive errno
  std::string detail;  // what we were doing, and the hint a user needs

  bool failed() const { return !call.empty(); }
};

// Error with .code ('EPERM'), .errno (negative, like Node's), .syscall.
Napi::Error MakeError(Napi::Env env, const Failure &f);

// A method called in a state that does not allow it ("DropTracer.start: already started"): the same
// .code/.errno/.syscall as a system error, .syscall naming the method, so callers test one shape.
Napi::Error StateError(Napi::Env env, const char *method, int err, const char *what);

}  // namespace flapwatch
