// DropTracer: loads drops.bpf.c, drains its aggregation maps on request and streams ring-buffer samples.
#pragma once
#include <linux/types.h>  // drops.h uses the kernel's fixed-width types
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "drops.h"
#include "fd_watch.h"
#include "lifecycle.h"

struct drops_bpf;
struct ring_buffer;

namespace flapwatch {

// Plain options ("baton"): TypeScript has validated every field.
struct TracerOptions {
  std::string btf_path;
  uint32_t max_flows = 16384;
  uint32_t max_retransmit_flows = 4096;
  uint32_t samples_per_sec = 100;
  uint32_t ring_bytes = 256 * 1024;
  std::vector<std::string> skip_reasons;  // enum skb_drop_reason names, with or without their prefix
};

// Shared by the tracer and a drain in flight: stop() detaches at once, the maps go when the last holder lets go.
using DropsObject = std::shared_ptr<drops_bpf>;

class DropTracer : public Napi::ObjectWrap<DropTracer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit DropTracer(const Napi::CallbackInfo &info);
  ~DropTracer() override;

  // The start worker's end, on the main thread: the loaded object, or nullptr if loading failed. What the
  // tracer could not set up beside it (samples) is added to `missing`.
  void Started(DropsObject skel, std::vector<std::string> &missing);
  // A drain worker's end.
  void Drained();

 private:
  Napi::Value Start(const Napi::CallbackInfo &info);
  Napi::Value Drain(const Napi::CallbackInfo &info);
  void Stop(const Napi::CallbackInfo &info);

  void Close();
  static void OnReadable(void *self);
  static int OnSample(void *ctx, void *data, size_t size);
  void Deliver();

  Lifecycle lifecycle_;
  DropsObject skel_;
  std::unique_ptr<ring_buffer, void (*)(ring_buffer *)> ring_;
  FdWatch watch_;  // declared after ring_: destroyed first, so no poll reads a freed ring
  Napi::FunctionReference on_samples_;
  std::vector<fw_sample> pending_;
  bool draining_ = false;
};

}  // namespace flapwatch
