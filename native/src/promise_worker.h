// A promise settled by a worker on libuv's pool: the one pattern of the addon's asynchronous calls.
#pragma once
#include <napi.h>

#include "errors.h"

namespace flapwatch {

// Run() works on plain data off the main thread and records a Failure; back on the main thread Finished()
// tells the owner the work is over, then Result() builds the value the promise resolves to, or the Failure
// rejects it (errno, code and the failing call, through MakeError). Base is Napi::AsyncWorker, or
// Napi::AsyncProgressQueueWorker<T> for a worker that hands data over while it runs.
template <typename Base>
class PromiseWorkerOf : public Base {
 public:
  // Queues the worker, which deletes itself once the promise is settled.
  Napi::Promise Start() {
    Napi::Promise promise = deferred_.Promise();
    this->Queue();
    return promise;
  }

 protected:
  PromiseWorkerOf(Napi::Env env, const char *name) : Base(env, name), deferred_(Napi::Promise::Deferred::New(env)) {}

  virtual Napi::Value Result(Napi::Env env) = 0;
  // Main thread, before the promise settles. `ok` false: failure_ is set. Returning false turns a success
  // into a rejection (the owner could not take what Run() made; it sets failure_ and frees it).
  virtual bool Finished(bool ok) { return ok; }
  // What a user needs beside the failure is added here (the tracer adds libbpf's log).
  virtual Napi::Error Rejection(Napi::Env env) { return MakeError(env, failure_); }

  // Run()'s end: false marks the work failed (an empty call would read as success to node-addon-api).
  void Ran(bool ok) {
    if (ok) return;
    if (failure_.call.empty()) failure_.call = "worker";
    this->SetError(failure_.call);
  }

  Failure failure_;

 private:
  void OnOK() final {
    if (Finished(true)) deferred_.Resolve(Result(this->Env()));
    else deferred_.Reject(Rejection(this->Env()).Value());
  }
  void OnError(const Napi::Error &) final {
    Finished(false);
    deferred_.Reject(Rejection(this->Env()).Value());
  }

  Napi::Promise::Deferred deferred_;
};

// A one-shot worker: Run() returns false with `failure` set when it fails.
class PromiseWorker : public PromiseWorkerOf<Napi::AsyncWorker> {
 protected:
  using PromiseWorkerOf::PromiseWorkerOf;
  virtual bool Run(Failure &failure) = 0;

 private:
  void Execute() final { Ran(Run(failure_)); }
};

// A worker that hands T items to the main thread as it goes (OnProgress), then settles like the others.
template <typename T>
class ProgressPromiseWorker : public PromiseWorkerOf<Napi::AsyncProgressQueueWorker<T>> {
 protected:
  using Progress = typename Napi::AsyncProgressQueueWorker<T>::ExecutionProgress;
  using PromiseWorkerOf<Napi::AsyncProgressQueueWorker<T>>::PromiseWorkerOf;
  virtual bool Run(Failure &failure, const Progress &progress) = 0;

 private:
  void Execute(const Progress &progress) final { this->Ran(Run(this->failure_, progress)); }
};

}  // namespace flapwatch
