#include "conntrack_events.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "conntrack.h"
#include "conntrack_netlink.h"
#include "errors.h"

namespace flapwatch {
namespace {

// One event per recv, rarely above 1 KiB; the limit bounds how long one callback holds the loop.
constexpr size_t kEventBytes = 16 * 1024;
constexpr int kReadsPerCallback = 256;

class StartWorker : public Napi::AsyncWorker {
 public:
  StartWorker(ConntrackWatch *watch, Napi::Promise::Deferred deferred, std::string netns_path)
      : Napi::AsyncWorker(deferred.Env(), "flapwatch:conntrack-watch"),
        watch_(watch),
        deferred_(deferred),
        netns_path_(std::move(netns_path)) {}

  void Execute() override {
    socket_ = std::make_unique<CtSocket>();
    if (!socket_->Open(netns_path_, failure_) || !socket_->Subscribe(NFNLGRP_CONNTRACK_DESTROY, failure_))
      SetError(failure_.call);
  }

  void OnOK() override {
    watch_->Started(std::move(socket_));
    deferred_.Resolve(Env().Undefined());
  }

  void OnError(const Napi::Error &) override {
    watch_->Started(nullptr);
    deferred_.Reject(MakeError(Env(), failure_).Value());
  }

 private:
  ConntrackWatch *watch_;
  Napi::Promise::Deferred deferred_;
  std::string netns_path_;
  std::unique_ptr<CtSocket> socket_;
  Failure failure_;
};

}  // namespace

Napi::Function ConntrackWatch::Define(Napi::Env env) {
  return DefineClass(env, "ConntrackWatch",
                     {InstanceMethod<&ConntrackWatch::Start>("start"), InstanceMethod<&ConntrackWatch::Drain>("drain"),
                      InstanceMethod<&ConntrackWatch::Stop>("stop")});
}

ConntrackWatch::ConntrackWatch(const Napi::CallbackInfo &info)
    : Napi::ObjectWrap<ConntrackWatch>(info), buf_(kEventBytes) {}

ConntrackWatch::~ConntrackWatch() {
  if (poll_) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t *>(poll_), [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
  }
}

Napi::Value ConntrackWatch::Start(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (starting_ || socket_) throw Napi::Error::New(env, "ConntrackWatch.start: already started");
  Napi::Object o = info[0].As<Napi::Object>();
  deaths_ = CtGroupTable(o.Get("maxGroups").As<Napi::Number>().Uint32Value());
  overflows_ = 0;
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  starting_ = true;
  stop_requested_ = false;
  Ref();  // the JS object must outlive the worker, then the poll
  (new StartWorker(this, deferred, o.Get("netnsPath").As<Napi::String>()))->Queue();
  return deferred.Promise();
}

void ConntrackWatch::Started(std::unique_ptr<CtSocket> socket) {
  starting_ = false;
  if (!socket || stop_requested_) {
    Unref();
    return;
  }
  socket_ = std::move(socket);
  uv_loop_t *loop = nullptr;
  napi_get_uv_event_loop(Env(), &loop);
  poll_ = new uv_poll_t;
  poll_->data = this;
  uv_poll_init(loop, poll_, socket_->fd());
  uv_poll_start(poll_, UV_READABLE, OnReadable);
}

void ConntrackWatch::OnReadable(uv_poll_t *handle, int status, int) {
  if (status == 0) static_cast<ConntrackWatch *>(handle->data)->Read();
}

// Reads what is queued without blocking; the poll calls again if more is left.
void ConntrackWatch::Read() {
  for (int i = 0; i < kReadsPerCallback && socket_; i++) {
    ssize_t n = recv(socket_->fd(), buf_.data(), buf_.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOBUFS) {
      overflows_++;  // the queue overflowed: events were lost, the socket goes on
      continue;
    }
    if (n <= 0) return;  // EAGAIN: nothing more for now
    mnl_cb_run(buf_.data(), n, 0, 0, OnEvent, this);
  }
}

// Only DESTROY events arrive (the one group joined): an entry that never saw a reply died unanswered.
int ConntrackWatch::OnEvent(const nlmsghdr *nlh, void *data) {
  auto *self = static_cast<ConntrackWatch *>(data);
  CtGroupKey key;
  uint32_t status;
  if (ParseCt(nlh, key, status) && !(status & IPS_SEEN_REPLY)) self->deaths_.Add(key, status);
  return MNL_CB_OK;
}

Napi::Value ConntrackWatch::Drain(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!socket_) throw Napi::Error::New(env, "ConntrackWatch.drain: not started");
  Read();  // what is queued now belongs to this drain
  CtGroup rest;
  std::vector<CtGroup> groups = deaths_.Take(&rest);
  std::sort(groups.begin(), groups.end(), Larger);
  Napi::Object result = GroupColumns(env, groups, rest);
  result.Set("overflows", Napi::Number::New(env, overflows_));
  overflows_ = 0;
  return result;
}

void ConntrackWatch::Stop(const Napi::CallbackInfo &) {
  if (starting_) {
    stop_requested_ = true;  // Started() closes what the worker opened
    return;
  }
  Close();
}

void ConntrackWatch::Close() {
  if (!socket_) return;
  uv_poll_stop(poll_);
  uv_close(reinterpret_cast<uv_handle_t *>(poll_), [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
  poll_ = nullptr;
  socket_.reset();
  Unref();
}

}  // namespace flapwatch
