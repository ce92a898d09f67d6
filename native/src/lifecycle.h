// The start/stop states the addon's long-lived objects (DropTracer, ConntrackWatch) share, so that "already
// started", stop() during start() and start() after stop() behave the same in every class.
#pragma once
#include <napi.h>

#include <cerrno>

#include "errors.h"

namespace flapwatch {

class Lifecycle {
 public:
  // start() is refused while a start is under way (even one stop() cancelled) or the object is started.
  bool CanStart() const { return !starting_ && !started_; }
  void Starting() {
    starting_ = true;
    cancelled_ = false;
  }
  // The start worker ended: true when what it opened is to be kept (it worked and no stop() came meanwhile).
  bool Started(bool ok) {
    starting_ = false;
    started_ = ok && !cancelled_;
    return started_;
  }
  // true when there is something to close now; during a start, what it opens is closed when it ends.
  bool Stop() {
    if (starting_) cancelled_ = true;
    bool was = started_;
    started_ = false;
    return was;
  }
  bool started() const { return started_; }

 private:
  bool starting_ = false;
  bool started_ = false;
  bool cancelled_ = false;
};

// A promise rejected at once. A deferred holds a handle until it is settled: make one only to settle it.
inline Napi::Promise Rejected(Napi::Env env, const Napi::Error &error) {
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(error.Value());
  return deferred.Promise();
}

// The rejection every class gives start() when Lifecycle::CanStart() is false: code EALREADY.
inline Napi::Promise AlreadyStarted(Napi::Env env, const char *method) {
  return Rejected(env, StateError(env, method, EALREADY, "already started"));
}

// The error a method gives when the object is not started: code EINVAL.
inline Napi::Error NotStarted(Napi::Env env, const char *method) {
  return StateError(env, method, EINVAL, "not started");
}

}  // namespace flapwatch
