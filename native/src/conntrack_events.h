// ConntrackWatch: counts conntrack entries destroyed without ever seeing a reply (lost handshakes,
// unanswered UDP) by original destination, from ctnetlink DESTROY events read on the event loop.
#pragma once
#include <napi.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "conntrack_groups.h"

struct nlmsghdr;

namespace flapwatch {

class CtSocket;

class ConntrackWatch : public Napi::ObjectWrap<ConntrackWatch> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ConntrackWatch(const Napi::CallbackInfo &info);
  ~ConntrackWatch() override;

  // The start worker's end, on the main thread: a subscribed socket, or nullptr if it failed.
  void Started(std::unique_ptr<CtSocket> socket);

 private:
  Napi::Value Start(const Napi::CallbackInfo &info);
  Napi::Value Drain(const Napi::CallbackInfo &info);
  void Stop(const Napi::CallbackInfo &info);

  void Close();
  static void OnReadable(uv_poll_t *handle, int status, int events);
  static int OnEvent(const nlmsghdr *nlh, void *data);
  void Read();

  std::unique_ptr<CtSocket> socket_;
  uv_poll_t *poll_ = nullptr;
  CtGroupTable deaths_;
  uint64_t overflows_ = 0;  // ENOBUFS since the last drain: the kernel dropped events
  std::vector<char> buf_;
  bool starting_ = false;  // a worker is opening the socket: the object stays until it ends
  bool stop_requested_ = false;
};

}  // namespace flapwatch
