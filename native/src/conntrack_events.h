// ConntrackWatch: counts conntrack entries destroyed without ever seeing a reply (lost handshakes,
// unanswered UDP) by original destination, from ctnetlink DESTROY events read on the event loop.
#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "conntrack_groups.h"
#include "fd_watch.h"
#include "lifecycle.h"

struct nlmsghdr;

namespace flapwatch {

class CtSocket;

class ConntrackWatch : public Napi::ObjectWrap<ConntrackWatch> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ConntrackWatch(const Napi::CallbackInfo &info);

  // The start worker's end, on the main thread: a subscribed socket, or nullptr if it failed. False when
  // the socket cannot be watched (failure set); a socket opened for a cancelled start is closed.
  bool Started(std::unique_ptr<CtSocket> socket, Failure &failure);

 private:
  Napi::Value Start(const Napi::CallbackInfo &info);
  Napi::Value Drain(const Napi::CallbackInfo &info);
  void Stop(const Napi::CallbackInfo &info);

  void Close();
  static void OnReadable(void *self);
  static int OnEvent(const nlmsghdr *nlh, void *data);
  void Read();

  Lifecycle lifecycle_;
  std::unique_ptr<CtSocket> socket_;
  FdWatch watch_;  // after socket_: destroyed first, so the poll stops before the socket closes
  CtGroupTable deaths_;
  uint64_t overflows_ = 0;  // ENOBUFS since the last drain: the kernel dropped events
  uint64_t delivered_ = 0;  // events the kernel's filter let through since the last drain
  std::vector<char> buf_;
};

}  // namespace flapwatch
