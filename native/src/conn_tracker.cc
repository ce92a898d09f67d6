#include "conn_tracker.h"

#include <cerrno>
#include <cstring>

#include "bpf_maps.h"
#include "bpf_object.h"
#include "connections.skel.h"
#include "errors.h"
#include "promise_worker.h"
#include "values.h"

namespace flapwatch {
namespace {

const char *const kStatNames[FW_CONN_STAT_MAX] = {
#define FW_CONN_STAT_NAME(id, name) #name,
    FW_CONN_STATS(FW_CONN_STAT_NAME)
#undef FW_CONN_STAT_NAME
};

// open → set map sizes → load → attach, with one cleanup path: the object detaches what it attached when freed.
class StartWorker : public PromiseWorker {
 public:
  StartWorker(ConnTracker *tracker, Napi::Env env, ConnTrackerOptions options)
      : PromiseWorker(env, "flapwatch:conn-tracker"), tracker_(tracker), options_(std::move(options)) {}

 private:
  bool Run(Failure &failure) override {
    return WithLibbpfLog(log_, [&] { return Load(failure); });
  }

  bool Load(Failure &failure) {
    if (!BtfReadable(options_.btf_path, failure)) return false;
    LIBBPF_OPTS(bpf_object_open_opts, open_opts,
                .btf_custom_path = options_.btf_path.empty() ? nullptr : options_.btf_path.c_str());
    skel_ = ConnectionsObject(connections_bpf__open_opts(&open_opts), connections_bpf__destroy);
    if (!skel_) {
      failure = {"bpf_object__open", errno, "opening the connection tracker"};
      return false;
    }
    bpf_map__set_max_entries(skel_->maps.connections, options_.max_keys);
    bpf_map__set_max_entries(skel_->maps.syn_sent, options_.max_pending);
    if (int err = connections_bpf__load(skel_.get())) {
      failure = {"bpf_object__load", -err, "loading the connection tracker needs CAP_BPF and CAP_PERFMON, and sock:inet_sock_set_state"};
      return false;
    }
    if (int err = connections_bpf__attach(skel_.get())) {
      failure = {"bpf_program__attach", -err, "attaching conn_state to tp_btf/inet_sock_set_state"};
      return false;
    }
    return true;
  }

  bool Finished(bool ok) override {
    tracker_->Started(ok ? std::move(skel_) : nullptr);
    tracker_->Unref();
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

  ConnTracker *tracker_;
  ConnTrackerOptions options_;
  ConnectionsObject skel_;
  std::vector<std::string> log_;
};

class DrainWorker : public PromiseWorker {
 public:
  DrainWorker(ConnTracker *tracker, Napi::Env env, ConnectionsObject skel)
      : PromiseWorker(env, "flapwatch:conn-tracker"), tracker_(tracker), skel_(std::move(skel)) {}

 private:
  bool Run(Failure &failure) override {
    if (int err = DrainMap(skel_->maps.connections, entries_)) {
      failure = {"bpf_map_lookup_and_delete_batch", err, "draining the connections map"};
      return false;
    }
    if (int err = SumPerCpu(skel_->maps.stats, FW_CONN_STAT_MAX, stats_)) {
      failure = {"bpf_map_lookup_elem", err, "reading the connection tracker's counters"};
      return false;
    }
    return true;
  }

  bool Finished(bool ok) override {
    tracker_->Drained();
    return ok;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array connections = Napi::Array::New(env, entries_.size());
    for (size_t i = 0; i < entries_.size(); i++) {
      const fw_conn_key &k = entries_[i].first;
      const fw_conn_counts &c = entries_[i].second;
      Napi::Object o = Napi::Object::New(env);
      o.Set("netns", Napi::Number::New(env, k.netns));
      o.Set("family", Napi::Number::New(env, k.family));
      o.Set("saddr", Napi::String::New(env, AddressText(k.family, k.saddr)));
      o.Set("daddr", Napi::String::New(env, AddressText(k.family, k.daddr)));
      o.Set("dport", Napi::Number::New(env, k.dport));
      o.Set("attempted", Napi::Number::New(env, c.attempted));
      o.Set("established", Napi::Number::New(env, c.established));
      o.Set("failed", Napi::Number::New(env, c.failed));
      o.Set("latencySumUs", Napi::Number::New(env, c.latency_sum_us));
      Napi::Array slots = Napi::Array::New(env, FW_CONN_LATENCY_SLOTS);
      for (uint32_t s = 0; s < FW_CONN_LATENCY_SLOTS; s++) slots.Set(s, Napi::Number::New(env, c.latency[s]));
      o.Set("latencyUs", slots);
      connections.Set(i, o);
    }
    Napi::Object counters = Napi::Object::New(env);
    for (int i = 0; i < FW_CONN_STAT_MAX; i++) counters.Set(kStatNames[i], Napi::Number::New(env, stats_[i]));
    Napi::Object result = Napi::Object::New(env);
    result.Set("connections", connections);
    result.Set("counters", counters);
    return result;
  }

  ConnTracker *tracker_;
  ConnectionsObject skel_;
  Entries<fw_conn_key, fw_conn_counts> entries_;
  __u64 stats_[FW_CONN_STAT_MAX] = {};
};

}  // namespace

Napi::Function ConnTracker::Define(Napi::Env env) {
  return DefineClass(env, "ConnTracker",
                     {InstanceMethod<&ConnTracker::Start>("start"), InstanceMethod<&ConnTracker::Drain>("drain"),
                      InstanceMethod<&ConnTracker::Stop>("stop")});
}

ConnTracker::ConnTracker(const Napi::CallbackInfo &info) : Napi::ObjectWrap<ConnTracker>(info) {}

ConnTracker::~ConnTracker() { Close(); }

Napi::Value ConnTracker::Start(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!lifecycle_.CanStart()) return AlreadyStarted(env, "ConnTracker.start");
  Napi::Object o = info[0].As<Napi::Object>();
  ConnTrackerOptions options;
  options.btf_path = o.Get("btfPath").As<Napi::String>();
  options.max_keys = o.Get("maxKeys").As<Napi::Number>().Uint32Value();
  options.max_pending = o.Get("maxPending").As<Napi::Number>().Uint32Value();
  lifecycle_.Starting();
  Ref();  // the JS object must outlive the worker
  return (new StartWorker(this, env, std::move(options)))->Start();
}

void ConnTracker::Started(ConnectionsObject skel) {
  if (lifecycle_.Started(skel != nullptr)) skel_ = std::move(skel);  // else failed, or stop() came meanwhile
}

Napi::Value ConnTracker::Drain(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!lifecycle_.started()) return Rejected(env, NotStarted(env, "ConnTracker.drain"));
  if (draining_) return Rejected(env, StateError(env, "ConnTracker.drain", EBUSY, "a drain is already running"));
  draining_ = true;
  Ref();
  return (new DrainWorker(this, env, skel_))->Start();
}

void ConnTracker::Drained() {
  draining_ = false;
  Unref();
}

void ConnTracker::Stop(const Napi::CallbackInfo &) { Close(); }

// The one place the tracker stops: every program is detached now; the maps go now, or when a drain in flight
// lets go of them. A start under way is freed when it ends.
void ConnTracker::Close() {
  lifecycle_.Stop();
  if (skel_) connections_bpf__detach(skel_.get());
  skel_.reset();
}

}  // namespace flapwatch
