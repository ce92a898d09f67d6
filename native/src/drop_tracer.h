// DropTracer: loads drops.bpf.c, drains its aggregation maps on request and streams ring-buffer samples.
#pragma once
#include <napi.h>
#include <uv.h>

#include <string>
#include <vector>

#include "drops.h"

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
};

class DropTracer : public Napi::ObjectWrap<DropTracer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit DropTracer(const Napi::CallbackInfo &info);
  ~DropTracer() override;

  // Called by the workers on the main thread when they complete.
  void Started(drops_bpf *skel);
  void WorkDone();

 private:
  Napi::Value Start(const Napi::CallbackInfo &info);
  Napi::Value Drain(const Napi::CallbackInfo &info);
  void Stop(const Napi::CallbackInfo &info);

  void Close();
  void Detach();
  void StartPolling(Napi::Env env);
  static void OnReadable(uv_poll_t *handle, int status, int events);
  static int OnSample(void *ctx, void *data, size_t size);
  void Deliver();

  drops_bpf *skel_ = nullptr;
  ring_buffer *ring_ = nullptr;
  uv_poll_t *poll_ = nullptr;
  Napi::FunctionReference on_samples_;
  std::vector<fw_sample> pending_;
  bool busy_ = false;  // a start or drain runs on a worker: the object stays until it ends
  bool stop_requested_ = false;
};

}  // namespace flapwatch
