// An fd the kernel signals (a netlink socket, a ring buffer's epoll fd), watched on the env's event loop.
#pragma once
#include <napi.h>
#include <uv.h>

namespace flapwatch {

// Stopped and closed in one place, Stop(), which the destructor calls too. After Stop() the callback is
// never called again, even for readiness libuv already collected in the same loop turn.
class FdWatch {
 public:
  using Callback = void (*)(void *owner);

  FdWatch() = default;
  ~FdWatch() { Stop(); }
  FdWatch(const FdWatch &) = delete;
  FdWatch &operator=(const FdWatch &) = delete;

  // Calls on_readable(owner) on the loop's thread while `fd` is readable. 0, or a negative libuv error.
  int Start(Napi::Env env, int fd, Callback on_readable, void *owner);
  // Idempotent; the handle's memory goes when libuv has closed it.
  void Stop();
  bool watching() const { return handle_ != nullptr; }

 private:
  struct Handle {
    uv_poll_t poll;
    Callback on_readable;
    void *owner;
  };
  static void OnPoll(uv_poll_t *poll, int status, int events);

  Handle *handle_ = nullptr;
};

}  // namespace flapwatch
