#include "conn_tracker.h"

#include <linux/types.h>  // connections.h uses the kernel's fixed-width types

#include <bpf/bpf.h>

#include <cerrno>

#include "bpf_maps.h"
#include "connections.h"
#include "connections.skel.h"
#include "skeleton.h"

namespace flapwatch {
namespace {

class ConnTracker;

const auto kSkeleton = FW_SKELETON(connections_bpf, connections_bpf__detach, "the connection tracker",
                                   "CAP_BPF, CAP_PERFMON and tp_btf/inet_sock_set_state");

const char *const kStatNames[FW_CONN_STAT_MAX] = {
#define FW_CONN_STAT_NAME(id, name) #name,
    FW_CONN_STATS(FW_CONN_STAT_NAME)
#undef FW_CONN_STAT_NAME
};

class DrainWorker : public SkeletonWorker<ConnTracker, connections_bpf> {
 public:
  using SkeletonWorker::SkeletonWorker;

 private:
  bool Run(Failure &failure) override {
    return Drain(skel_->maps.connections, entries_, "the connections map", failure) &&
           SumCounters(skel_->maps.stats, FW_CONN_STAT_MAX, stats_, "the connection tracker's", failure) &&
           ReadMisses(failure);
  }

  // Transitions the kernel did not hand the program: it was already running on that CPU (an interrupt's network
  // work nested in it). Since 5.12; 0 before.
  bool ReadMisses(Failure &failure) {
    bpf_prog_info info = {};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(skel_->progs.conn_state), &info, &len) != 0) {
      failure = {"bpf_obj_get_info_by_fd", errno, "reading the connection tracker's program"};
      return false;
    }
    missed_ = info.recursion_misses;
    return true;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array connections = Objects(env, entries_, [env](Napi::Object o, const fw_conn_key &k, const fw_conn_counts &c) {
      o.Set("saddr", Napi::String::New(env, AddressText(k.family, k.saddr)));
      o.Set("daddr", Napi::String::New(env, AddressText(k.family, k.daddr)));
      SetNumbers(env, o,
                 {{"netns", k.netns}, {"family", k.family}, {"dport", k.dport}, {"attempted", c.attempted},
                  {"established", c.established}, {"failed", c.failed}, {"latencySumUs", c.latency_sum_us}});
      o.Set("latencyUs", Numbers(env, c.latency, FW_CONN_LATENCY_SLOTS));
    });
    Napi::Object result = Napi::Object::New(env);
    result.Set("connections", connections);
    result.Set("counters", Counters(env, kStatNames, stats_, FW_CONN_STAT_MAX));
    result.Set("missed", Napi::Number::New(env, missed_));
    return result;
  }

  Entries<fw_conn_key, fw_conn_counts> entries_;
  __u64 stats_[FW_CONN_STAT_MAX] = {};
  __u64 missed_ = 0;
};

class ConnTracker : public SkeletonWrap<ConnTracker, connections_bpf> {
 public:
  explicit ConnTracker(const Napi::CallbackInfo &info) : SkeletonWrap(info, kSkeleton, "ConnTracker") {}

  Napi::Value Start(const Napi::CallbackInfo &info) {
    Napi::Object o = info[0].As<Napi::Object>();
    uint32_t max_keys = o.Get("maxKeys").As<Napi::Number>().Uint32Value();
    uint32_t max_pending = o.Get("maxPending").As<Napi::Number>().Uint32Value();
    return StartWith(info, [=](connections_bpf *skel) {
      bpf_map__set_max_entries(skel->maps.connections, max_keys);
      bpf_map__set_max_entries(skel->maps.syn_sent, max_pending);
    });
  }

  Napi::Value Read(const Napi::CallbackInfo &info) { return Use<DrainWorker>(info, "drain", true); }
};

}  // namespace

Napi::Function DefineConnTracker(Napi::Env env) { return ConnTracker::DefineWith(env, "ConnTracker", "drain"); }

}  // namespace flapwatch
