// An addon class that owns one BPF object through its libbpf skeleton (ConnTracker, NetnsIterator): start() opens,
// sizes, loads and attaches it on a worker (open → configure → load → attach, one cleanup path), workers then
// read from it, and stop() lets go of it. The object is shared with the workers in flight: its programs are
// detached at stop(), its maps and links freed when the last worker lets go.
#pragma once
#include <bpf/libbpf.h>
#include <napi.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bpf_object.h"
#include "errors.h"
#include "lifecycle.h"
#include "promise_worker.h"
#include "values.h"

namespace flapwatch {

// The generated functions of one skeleton (bpftool gen skeleton), and what its errors call it.
template <typename Skel>
struct Skeleton {
  Skel *(*open)(const bpf_object_open_opts *);
  int (*load)(Skel *);
  int (*attach)(Skel *);
  void (*destroy)(Skel *);
  // nullptr: the programs stay attached until the object is freed (an iterator runs only when read)
  void (*detach)(Skel *);
  const char *what;  // "the connection tracker"
  const char *needs;  // the hint a failed load gives
};

// The Skeleton of the object bpftool generated as NAME (…__open_opts, __load, __attach, __destroy).
#define FW_SKELETON(NAME, detach, what, needs) \
  Skeleton<NAME> { NAME##__open_opts, NAME##__load, NAME##__attach, NAME##__destroy, detach, what, needs }

template <typename Skel>
using SkeletonObject = std::shared_ptr<Skel>;

template <typename Owner, typename Skel>
class SkeletonStartWorker : public PromiseWorker {
 public:
  SkeletonStartWorker(Owner *owner, Napi::Env env, const Skeleton<Skel> &ops, std::string btf_path,
                      std::function<void(Skel *)> configure = nullptr)
      : PromiseWorker(env, "flapwatch:bpf-start"), owner_(owner), ops_(ops), btf_path_(std::move(btf_path)),
        configure_(std::move(configure)) {}

 protected:
  // A class whose start decides more than sizes (which programs load, where they attach) overrides these three.
  // Before the load: false, with `failure`, refuses the start.
  virtual bool Configure(Skel *skel, Failure &) {
    if (configure_) configure_(skel);
    return true;
  }
  virtual bool Attach(Skel *skel, Failure &failure) {
    if (int err = ops_.attach(skel)) {
      failure = {"bpf_program__attach", -err, std::string("attaching ") + ops_.what};
      return false;
    }
    return true;
  }
  // What start() resolves to beside libbpf's `log`.
  virtual void Describe(Napi::Env, Napi::Object) {}

  const std::string &btf_path() const { return btf_path_; }

 private:
  bool Run(Failure &failure) override {
    return WithLibbpfLog(log_, [&] { return Load(failure); });
  }

  bool Load(Failure &failure) {
    if (!BtfReadable(btf_path_, failure)) return false;
    LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = btf_path_.empty() ? nullptr : btf_path_.c_str());
    skel_ = SkeletonObject<Skel>(ops_.open(&open_opts), ops_.destroy);
    if (!skel_) {
      failure = {"bpf_object__open", errno, std::string("opening ") + ops_.what};
      return false;
    }
    if (!Configure(skel_.get(), failure)) return false;
    if (int err = ops_.load(skel_.get())) {
      failure = {"bpf_object__load", -err, std::string("loading ") + ops_.what + " needs " + ops_.needs};
      return false;
    }
    return Attach(skel_.get(), failure);
  }

  // A failed start frees what it made (the object detaches what it attached) when the worker goes.
  bool Finished(bool ok) override {
    owner_->Started(ok ? std::move(skel_) : nullptr);
    owner_->Unref();
    return ok;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object info = Napi::Object::New(env);
    info.Set("log", Strings(env, log_));
    Describe(env, info);
    return info;
  }

  Napi::Error Rejection(Napi::Env env) override { return ErrorWithLog(env, failure_, log_); }

  Owner *owner_;
  const Skeleton<Skel> &ops_;
  std::string btf_path_;
  std::function<void(Skel *)> configure_;
  SkeletonObject<Skel> skel_;
  std::vector<std::string> log_;
};

template <typename Derived, typename Skel>
class SkeletonWrap : public Napi::ObjectWrap<Derived> {
 public:
  // The start worker's end, on the main thread: the loaded object, or nullptr if loading failed.
  void Started(SkeletonObject<Skel> skel) {
    if (lifecycle_.Started(skel != nullptr)) skel_ = std::move(skel);  // else failed, or stop() came meanwhile
  }
  // A worker queued by Use() ended.
  void Done(bool exclusive) {
    if (exclusive) busy_ = false;
    this->Unref();
  }

 protected:
  SkeletonWrap(const Napi::CallbackInfo &info, const Skeleton<Skel> &ops, const char *name)
      : Napi::ObjectWrap<Derived>(info), ops_(ops), name_(name) {}
  ~SkeletonWrap() override { Close(); }

  // start({btfPath, …}): `configure` sizes the maps and sets read-only globals before the load.
  Napi::Value StartWith(const Napi::CallbackInfo &info, std::function<void(Skel *)> configure) {
    return StartUsing<SkeletonStartWorker<Derived, Skel>>(info, std::move(configure));
  }

  // start({btfPath, …}) by a Worker(owner, env, ops, btfPath, args…) derived from SkeletonStartWorker.
  template <typename Worker, typename... Args>
  Napi::Value StartUsing(const Napi::CallbackInfo &info, Args &&...args) {
    Napi::Env env = info.Env();
    if (!lifecycle_.CanStart()) return AlreadyStarted(env, (name_ + ".start").c_str());
    std::string btf_path = info[0].As<Napi::Object>().Get("btfPath").As<Napi::String>();
    lifecycle_.Starting();
    this->Ref();  // the JS object must outlive the worker
    auto *self = static_cast<Derived *>(this);
    return (new Worker(self, env, ops_, std::move(btf_path), std::forward<Args>(args)...))->Start();
  }

  // Queues Worker(owner, env, object, exclusive) on the started object; `exclusive`: one at a time (EBUSY). The
  // worker calls Done(exclusive) when it ends.
  template <typename Worker>
  Napi::Value Use(const Napi::CallbackInfo &info, const char *method, bool exclusive) {
    Napi::Env env = info.Env();
    std::string call = name_ + "." + method;
    if (!lifecycle_.started()) return Rejected(env, NotStarted(env, call.c_str()));
    if (exclusive && busy_) return Rejected(env, StateError(env, call.c_str(), EBUSY, "a drain is already running"));
    busy_ = busy_ || exclusive;
    this->Ref();
    return (new Worker(static_cast<Derived *>(this), env, skel_, exclusive))->Start();
  }

  void Stop(const Napi::CallbackInfo &) { Close(); }

 public:
  // The JS class: start() and the reading method are Derived's Start() and Read().
  static Napi::Function DefineWith(Napi::Env env, const char *name, const char *read_method) {
    using Wrap = Napi::ObjectWrap<Derived>;
    typename Wrap::InstanceVoidMethodCallback stop = &SkeletonWrap::Stop;
    return Wrap::DefineClass(env, name,
                             {Wrap::template InstanceMethod<&Derived::Start>("start"),
                              Wrap::template InstanceMethod<&Derived::Read>(read_method), Wrap::InstanceMethod("stop", stop)});
  }

 private:
  // The one place the object is let go of: its programs detached now (when the skeleton says so), the rest
  // freed now or when the last worker in flight lets go. A start under way is freed when it ends.
  void Close() {
    lifecycle_.Stop();
    if (skel_ && ops_.detach) ops_.detach(skel_.get());
    skel_.reset();
  }

  const Skeleton<Skel> &ops_;
  std::string name_;
  Lifecycle lifecycle_;
  SkeletonObject<Skel> skel_;
  bool busy_ = false;
};

// A worker on a started object (a drain, a read): Run(object, failure) on the pool; the owner hears when it ends.
template <typename Owner, typename Skel>
class SkeletonWorker : public PromiseWorker {
 public:
  SkeletonWorker(Owner *owner, Napi::Env env, SkeletonObject<Skel> skel, bool exclusive)
      : PromiseWorker(env, "flapwatch:bpf-read"), skel_(std::move(skel)), owner_(owner), exclusive_(exclusive) {}

 protected:
  SkeletonObject<Skel> skel_;

 private:
  bool Finished(bool ok) override {
    owner_->Done(exclusive_);
    return ok;
  }

  Owner *owner_;
  bool exclusive_;
};

}  // namespace flapwatch
