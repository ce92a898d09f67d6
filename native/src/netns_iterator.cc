#include "netns_iterator.h"

#include <linux/types.h>
#include <bpf/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "bpf_object.h"
#include "errors.h"
#include "promise_worker.h"
#include "task_netns.h"
#include "task_netns.skel.h"
#include "values.h"

namespace flapwatch {
namespace {

class StartWorker : public PromiseWorker {
 public:
  StartWorker(NetnsIterator *owner, Napi::Env env, std::string btf_path)
      : PromiseWorker(env, "flapwatch:netns-iterator"), owner_(owner), btf_path_(std::move(btf_path)) {}

 private:
  bool Run(Failure &failure) override {
    return WithLibbpfLog(log_, [&] { return Load(failure); });
  }

  bool Load(Failure &failure) {
    if (!BtfReadable(btf_path_, failure)) return false;
    LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = btf_path_.empty() ? nullptr : btf_path_.c_str());
    skel_ = IteratorObject(task_netns_bpf__open_opts(&open_opts), task_netns_bpf__destroy);
    if (!skel_) {
      failure = {"bpf_object__open", errno, "opening the task iterator"};
      return false;
    }
    if (int err = task_netns_bpf__load(skel_.get())) {
      failure = {"bpf_object__load", -err, "loading the task iterator needs CAP_BPF and CAP_PERFMON, and BPF iterators (5.8+)"};
      return false;
    }
    if (int err = task_netns_bpf__attach(skel_.get())) {
      failure = {"bpf_program__attach_iter", -err, "attaching the task iterator"};
      return false;
    }
    return true;
  }

  bool Finished(bool ok) override {
    owner_->Started(ok ? std::move(skel_) : nullptr);
    owner_->Unref();
    return ok;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object info = Napi::Object::New(env);
    info.Set("log", Strings(env, log_));
    return info;
  }

  Napi::Error Rejection(Napi::Env env) override {
    Napi::Error error = MakeError(env, failure_);
    error.Set("log", Strings(env, log_));
    return error;
  }

  NetnsIterator *owner_;
  std::string btf_path_;
  IteratorObject skel_;
  std::vector<std::string> log_;
};

// One walk of the tasks: a new iterator instance, read to its end. The kernel walks the PID namespace of the
// thread that creates the instance: this pool thread, which is in the process's.
class ReadWorker : public PromiseWorker {
 public:
  ReadWorker(NetnsIterator *owner, Napi::Env env, IteratorObject skel)
      : PromiseWorker(env, "flapwatch:netns-iterator"), owner_(owner), skel_(std::move(skel)) {}

 private:
  bool Run(Failure &failure) override {
    int fd = bpf_iter_create(bpf_link__fd(skel_->links.task_netns));
    if (fd < 0) {
      failure = {"bpf_iter_create", errno, "walking the tasks"};
      return false;
    }
    std::vector<fw_task_netns> buf(1024);
    std::vector<__u32> all;
    for (;;) {
      ssize_t n = read(fd, buf.data(), buf.size() * sizeof(fw_task_netns));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        failure = {"read", errno, "reading the task iterator"};
        close(fd);
        return false;
      }
      if (n == 0) break;
      for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(fw_task_netns); i++) all.push_back(buf[i].netns);
    }
    close(fd);
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    netns_ = std::move(all);
    return true;
  }

  bool Finished(bool ok) override {
    owner_->Done();
    return ok;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, netns_.size());
    for (size_t i = 0; i < netns_.size(); i++) out.Set(i, Napi::Number::New(env, netns_[i]));
    return out;
  }

  NetnsIterator *owner_;
  IteratorObject skel_;
  std::vector<__u32> netns_;
};

}  // namespace

Napi::Function NetnsIterator::Define(Napi::Env env) {
  return DefineClass(env, "NetnsIterator",
                     {InstanceMethod<&NetnsIterator::Start>("start"), InstanceMethod<&NetnsIterator::Read>("read"),
                      InstanceMethod<&NetnsIterator::Stop>("stop")});
}

NetnsIterator::NetnsIterator(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NetnsIterator>(info) {}

NetnsIterator::~NetnsIterator() {
  lifecycle_.Stop();
  skel_.reset();
}

Napi::Value NetnsIterator::Start(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!lifecycle_.CanStart()) return AlreadyStarted(env, "NetnsIterator.start");
  std::string btf_path = info[0].As<Napi::Object>().Get("btfPath").As<Napi::String>();
  lifecycle_.Starting();
  Ref();  // the JS object must outlive the worker
  return (new StartWorker(this, env, std::move(btf_path)))->Start();
}

void NetnsIterator::Started(IteratorObject skel) {
  if (lifecycle_.Started(skel != nullptr)) skel_ = std::move(skel);
}

// Reads may overlap: each walks with an iterator instance of its own.
Napi::Value NetnsIterator::Read(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!lifecycle_.started()) return Rejected(env, NotStarted(env, "NetnsIterator.read"));
  Ref();
  return (new ReadWorker(this, env, skel_))->Start();
}

void NetnsIterator::Done() { Unref(); }

// The iterator's link and program go now, or when a read in flight lets go of them.
void NetnsIterator::Stop(const Napi::CallbackInfo &) {
  lifecycle_.Stop();
  skel_.reset();
}

}  // namespace flapwatch
