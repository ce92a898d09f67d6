#include "conntrack.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "conntrack_netlink.h"
#include "errors.h"
#include "promise_worker.h"

namespace flapwatch {
namespace {

class StatsWorker : public PromiseWorker {
 public:
  StatsWorker(Napi::Env env, std::string netns_path) : PromiseWorker(env, "flapwatch:conntrack"), netns_path_(std::move(netns_path)) {}

 private:
  bool Run(Failure &failure) override { return ReadCtStats(netns_path_, stats_, failure); }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object counters = Napi::Object::New(env);
    for (const auto &[name, value] : stats_.counters) counters.Set(name, Napi::Number::New(env, value));
    Napi::Object result = Napi::Object::New(env);
    result.Set("counters", counters);
    result.Set("entries", Napi::Number::New(env, stats_.entries));
    result.Set("max", Napi::Number::New(env, stats_.max_entries));
    result.Set("cpus", Napi::Number::New(env, stats_.cpus));
    return result;
  }

  std::string netns_path_;
  CtStats stats_;
};

}  // namespace

class AggregateWorker : public PromiseWorker {
 public:
  AggregateWorker(Napi::Env env, CtAggregateOptions options) : PromiseWorker(env, "flapwatch:conntrack"), options_(std::move(options)) {}

 protected:
  bool Run(Failure &failure) override { return AggregateCt(options_, aggregate_, failure); }

  Napi::Value Result(Napi::Env env) override { return GroupColumns(env, aggregate_.groups, aggregate_.rest); }

  CtAggregateOptions options_;
  CtAggregate aggregate_;
};

// The dump that lives on in UnrepliedFlows: only this worker touches its flows while it runs.
class UnrepliedWorker : public AggregateWorker {
 public:
  UnrepliedWorker(Napi::Env env, UnrepliedFlows *owner, CtAggregateOptions options)
      : AggregateWorker(env, std::move(options)), owner_(owner) {
    options_.follow = &owner_->flows_;
  }

 private:
  bool Finished(bool ok) override {
    unfollowed_ = owner_->flows_.TakeUnfollowed();
    owner_->dumping_ = false;
    owner_->Unref();
    return ok;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    result.Set("waiting", AggregateWorker::Result(env));
    result.Set("died", GroupColumns(env, aggregate_.died, aggregate_.died_rest));
    result.Set("unfollowed", Napi::Number::New(env, static_cast<double>(unfollowed_)));
    return result;
  }

  UnrepliedFlows *owner_;
  uint64_t unfollowed_ = 0;
};

// Columns, not objects: 10,000 groups built as objects here held the event loop 20-40 ms; two strings and
// one typed array take about a millisecond, and the facade's JS loop about as much.
Napi::Object GroupColumns(Napi::Env env, const std::vector<CtGroup> &groups, const CtGroup &rest) {
  size_t count = groups.size() + (rest.flows ? 1 : 0);
  std::string daddrs, states;
  daddrs.reserve(count * 16);
  Napi::Uint32Array values = Napi::Uint32Array::New(env, count * 5);
  uint32_t *v = values.Data();
  auto add = [&](const CtGroup &g, const char *daddr, const std::string &state) {
    if (v != values.Data()) {
      daddrs += '\n';
      states += '\n';
    }
    daddrs += daddr;
    states += state;
    *v++ = g.key.port;
    *v++ = g.key.proto;
    *v++ = g.flows;
    *v++ = g.unreplied;
    *v++ = g.assured;
  };
  for (const CtGroup &g : groups) {
    char text[INET6_ADDRSTRLEN] = "";
    inet_ntop(g.key.family, g.key.addr, text, sizeof(text));
    add(g, text, TcpStateName(g.key.tcp_state));
  }
  if (rest.flows) add(rest, "*", "");
  Napi::Object columns = Napi::Object::New(env);
  columns.Set("daddrs", Napi::String::New(env, daddrs));
  columns.Set("states", Napi::String::New(env, states));
  columns.Set("values", values);
  return columns;
}

Napi::Function UnrepliedFlows::Define(Napi::Env env) {
  return DefineClass(env, "UnrepliedFlows", {InstanceMethod<&UnrepliedFlows::Dump>("dump")});
}

UnrepliedFlows::UnrepliedFlows(const Napi::CallbackInfo &info)
    : Napi::ObjectWrap<UnrepliedFlows>(info),
      flows_(info[0].As<Napi::Object>().Get("maxFlows").As<Napi::Number>().Uint32Value()) {}

Napi::Value UnrepliedFlows::Dump(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (dumping_) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(Napi::Error::New(env, "UnrepliedFlows.dump: a dump is under way").Value());
    return deferred.Promise();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  CtAggregateOptions options;
  options.netns_path = o.Get("netnsPath").As<Napi::String>();
  options.filter_status = true;
  options.status_mask = IPS_SEEN_REPLY;
  options.max_groups = o.Get("maxGroups").As<Napi::Number>().Uint32Value();
  dumping_ = true;
  Ref();  // the JS object must outlive the worker
  return (new UnrepliedWorker(env, this, std::move(options)))->Start();
}

Napi::Value ConntrackStats(const Napi::CallbackInfo &info) {
  return (new StatsWorker(info.Env(), info[0].As<Napi::String>()))->Start();
}

Napi::Value ConntrackAggregate(const Napi::CallbackInfo &info) {
  Napi::Object o = info[0].As<Napi::Object>();
  CtAggregateOptions options;
  options.netns_path = o.Get("netnsPath").As<Napi::String>();
  uint32_t family = o.Get("family").As<Napi::Number>().Uint32Value();
  options.family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
  Napi::Value status = o.Get("status");
  if (status.IsObject()) {
    options.filter_status = true;
    options.status_value = status.As<Napi::Object>().Get("value").As<Napi::Number>().Uint32Value();
    options.status_mask = status.As<Napi::Object>().Get("mask").As<Napi::Number>().Uint32Value();
  }
  Napi::Value max_groups = o.Get("maxGroups");
  if (max_groups.IsNumber()) options.max_groups = max_groups.As<Napi::Number>().Uint32Value();
  return (new AggregateWorker(info.Env(), std::move(options)))->Start();
}

}  // namespace flapwatch
