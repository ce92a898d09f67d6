#include "errors.h"

#include <cstring>

namespace flapwatch {

Napi::Error MakeError(Napi::Env env, const Failure &f) {
  const char *code = f.err ? strerrorname_np(f.err) : nullptr;
  std::string message = f.call + ": " + (f.err ? std::strerror(f.err) : "failed");
  if (!f.detail.empty()) message += " (" + f.detail + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code ? code : "EUNKNOWN"));
  error.Set("errno", Napi::Number::New(env, -f.err));
  error.Set("syscall", Napi::String::New(env, f.call));
  return error;
}

}  // namespace flapwatch
