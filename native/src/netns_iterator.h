// NetnsIterator: loads task_netns.bpf.c (a task iterator) once, then lists on request the network namespaces of
// the tasks in the caller's PID namespace.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "lifecycle.h"

struct task_netns_bpf;

namespace flapwatch {

// Shared by the object and a read in flight: stop() lets go at once, the program goes when the last holder does.
using IteratorObject = std::shared_ptr<task_netns_bpf>;

class NetnsIterator : public Napi::ObjectWrap<NetnsIterator> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NetnsIterator(const Napi::CallbackInfo &info);
  ~NetnsIterator() override;

  void Started(IteratorObject skel);
  void Done();

 private:
  Napi::Value Start(const Napi::CallbackInfo &info);
  Napi::Value Read(const Napi::CallbackInfo &info);
  void Stop(const Napi::CallbackInfo &info);

  Lifecycle lifecycle_;
  IteratorObject skel_;
};

}  // namespace flapwatch
