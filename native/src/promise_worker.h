// A promise settled by a worker on libuv's pool: the pattern of the addon's one-shot reads.
#pragma once
#include <napi.h>

#include "errors.h"

namespace flapwatch {

// A promise settled by a worker: Run() works on plain data off the main thread, Result() makes the JS value.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char *name)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Start() {
    Napi::Promise promise = deferred_.Promise();
    Queue();
    return promise;
  }

 protected:
  virtual bool Run(Failure &failure) = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  void Execute() final {
    if (!Run(failure_)) SetError(failure_.call);
  }
  void OnOK() final { deferred_.Resolve(Result(Env())); }
  void OnError(const Napi::Error &) final { deferred_.Reject(MakeError(Env(), failure_).Value()); }

  Napi::Promise::Deferred deferred_;
  Failure failure_;
};

}  // namespace flapwatch
