// ConnTracker: loads connections.bpf.c and drains its per-edge connect counts on request.
#pragma once
#include <linux/types.h>  // connections.h uses the kernel's fixed-width types
#include <napi.h>

#include <memory>
#include <string>

#include "connections.h"
#include "lifecycle.h"

struct connections_bpf;

namespace flapwatch {

// Plain options ("baton"): TypeScript has validated every field.
struct ConnTrackerOptions {
  std::string btf_path;
  uint32_t max_keys = 16384;
  uint32_t max_pending = 16384;
};

// Shared by the tracker and a drain in flight: stop() detaches at once, the maps go when the last holder lets go.
using ConnectionsObject = std::shared_ptr<connections_bpf>;

class ConnTracker : public Napi::ObjectWrap<ConnTracker> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ConnTracker(const Napi::CallbackInfo &info);
  ~ConnTracker() override;

  // The start worker's end, on the main thread: the loaded object, or nullptr if loading failed.
  void Started(ConnectionsObject skel);
  void Drained();

 private:
  Napi::Value Start(const Napi::CallbackInfo &info);
  Napi::Value Drain(const Napi::CallbackInfo &info);
  void Stop(const Napi::CallbackInfo &info);
  void Close();

  Lifecycle lifecycle_;
  ConnectionsObject skel_;
  bool draining_ = false;
};

}  // namespace flapwatch
