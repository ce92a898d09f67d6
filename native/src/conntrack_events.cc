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
#include "promise_worker.h"

namespace flapwatch {
namespace {

// One event per recv, rarely above 1 KiB; the limit bounds how long one callback holds the loop.
constexpr size_t kEventBytes = 16 * 1024;
constexpr int kReadsPerCallback = 256;

// Opens and subscribes the socket off the main thread (entering a netns, binding); the watch takes it.
class StartWorker : public PromiseWorker {
 public:
  StartWorker(ConntrackWatch *watch, Napi::Env env, std::string netns_path)
      : PromiseWorker(env, "flapwatch:conntrack-watch"), watch_(watch), netns_path_(std::move(netns_path)) {}

 private:
  bool Run(Failure &failure) override {
    socket_ = std::make_unique<CtSocket>();
    return socket_->Open(netns_path_, failure) && socket_->OnlyUnreplied(failure) &&
           socket_->Subscribe(NFNLGRP_CONNTRACK_DESTROY, failure);
  }
  bool Finished(bool ok) override {
    bool kept = watch_->Started(ok ? std::move(socket_) : nullptr, failure_);
    watch_->Unref();
    return ok && kept;
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

  ConntrackWatch *watch_;
  std::string netns_path_;
  std::unique_ptr<CtSocket> socket_;
};

}  // namespace

Napi::Function ConntrackWatch::Define(Napi::Env env) {
  return DefineClass(env, "ConntrackWatch",
                     {InstanceMethod<&ConntrackWatch::Start>("start"), InstanceMethod<&ConntrackWatch::Drain>("drain"),
                      InstanceMethod<&ConntrackWatch::Stop>("stop")});
}

ConntrackWatch::ConntrackWatch(const Napi::CallbackInfo &info)
    : Napi::ObjectWrap<ConntrackWatch>(info), buf_(kEventBytes) {}

Napi::Value ConntrackWatch::Start(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!lifecycle_.CanStart()) return AlreadyStarted(env, "ConntrackWatch.start");
  Napi::Object o = info[0].As<Napi::Object>();
  deaths_ = CtGroupTable(o.Get("maxGroups").As<Napi::Number>().Uint32Value());
  overflows_ = 0;
  lifecycle_.Starting();
  Ref();  // the JS object must outlive the worker
  return (new StartWorker(this, env, o.Get("netnsPath").As<Napi::String>()))->Start();
}

bool ConntrackWatch::Started(std::unique_ptr<CtSocket> socket, Failure &failure) {
  if (!lifecycle_.Started(socket != nullptr)) return true;  // failed, or stop() came meanwhile: socket closes here
  socket_ = std::move(socket);
  if (int err = watch_.Start(Env(), socket_->fd(), OnReadable, this)) {
    failure = {"uv_poll_start", -err, "watching the conntrack event socket"};
    lifecycle_.Stop();
    socket_.reset();
    return false;
  }
  return true;
}

void ConntrackWatch::OnReadable(void *self) { static_cast<ConntrackWatch *>(self)->Read(); }

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

// Only DESTROY events arrive (the one group joined), and of those only the unanswered (the socket's filter);
// the status is checked again for an event whose status the filter could not find.
int ConntrackWatch::OnEvent(const nlmsghdr *nlh, void *data) {
  auto *self = static_cast<ConntrackWatch *>(data);
  self->delivered_++;
  CtGroupKey key;
  uint32_t status;
  if (ParseCt(nlh, key, status) && !(status & IPS_SEEN_REPLY)) self->deaths_.Add(key, status);
  return MNL_CB_OK;
}

Napi::Value ConntrackWatch::Drain(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!socket_) throw NotStarted(env, "ConntrackWatch.drain");
  Read();  // what is queued now belongs to this drain
  CtGroup rest;
  std::vector<CtGroup> groups = deaths_.Take(&rest);
  std::sort(groups.begin(), groups.end(), Larger);
  Napi::Object result = GroupColumns(env, groups, rest);
  result.Set("overflows", Napi::Number::New(env, overflows_));
  result.Set("delivered", Napi::Number::New(env, delivered_));
  overflows_ = 0;
  delivered_ = 0;
  return result;
}

void ConntrackWatch::Stop(const Napi::CallbackInfo &) { Close(); }

// The one place the socket closes; a start under way closes what it opens when it ends.
void ConntrackWatch::Close() {
  if (!lifecycle_.Stop()) return;
  watch_.Stop();
  socket_.reset();
}

}  // namespace flapwatch
