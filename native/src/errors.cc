#include "errors.h"

#include <cstring>

namespace flapwatch {
namespace {

Napi::Error WithCode(Napi::Env env, const std::string &message, const std::string &call, int err) {
  const char *code = err ? strerrorname_np(err) : nullptr;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code ? code : "EUNKNOWN"));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, call));
  return error;
}

}  // namespace

Napi::Error MakeError(Napi::Env env, const Failure &f) {
  std::string message = f.call + ": " + (f.err ? std::strerror(f.err) : "failed");
  if (!f.detail.empty()) message += " (" + f.detail + ")";
  return WithCode(env, message, f.call, f.err);
}

Napi::Error StateError(Napi::Env env, const char *method, int err, const char *what) {
  return WithCode(env, std::string(method) + ": " + what, method, err);
}

}  // namespace flapwatch
