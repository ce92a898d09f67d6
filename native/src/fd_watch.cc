#include "fd_watch.h"

namespace flapwatch {

int FdWatch::Start(Napi::Env env, int fd, Callback on_readable, void *owner) {
  Stop();
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return UV_EINVAL;
  auto *h = new Handle{{}, on_readable, owner};
  h->poll.data = h;
  if (int err = uv_poll_init(loop, &h->poll, fd)) {
    delete h;  // never initialized: nothing for libuv to close
    return err;
  }
  if (int err = uv_poll_start(&h->poll, UV_READABLE, OnPoll)) {
    uv_close(reinterpret_cast<uv_handle_t *>(&h->poll), [](uv_handle_t *p) { delete static_cast<Handle *>(p->data); });
    return err;
  }
  handle_ = h;
  return 0;
}

void FdWatch::Stop() {
  if (!handle_) return;
  // The owner may be gone before libuv calls back: the closing handle forgets it.
  handle_->owner = nullptr;
  uv_poll_stop(&handle_->poll);
  uv_close(reinterpret_cast<uv_handle_t *>(&handle_->poll), [](uv_handle_t *p) { delete static_cast<Handle *>(p->data); });
  handle_ = nullptr;
}

void FdWatch::OnPoll(uv_poll_t *poll, int status, int) {
  auto *h = static_cast<Handle *>(poll->data);
  if (status == 0 && h->owner) h->on_readable(h->owner);
}

}  // namespace flapwatch
