#include "dns_tracer.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "bpf_maps.h"
#include "dns.skel.h"
#include "errors.h"
#include "js_values.h"
#include "kernel_btf.h"
#include "libbpf_log.h"
#include "promise_worker.h"

namespace flapwatch {
namespace {

// The counters' names as TypeScript reads them (DNS_COUNTERS in src/native.ts), in the stats map's order.
const char *const kStatNames[FW_DNS_STAT_MAX] = {
#define FW_DNS_STAT_NAME(id, name) #name,
    FW_DNS_STATS(FW_DNS_STAT_NAME)
#undef FW_DNS_STAT_NAME
};

const double kBoundsUs[] = {
#define FW_DNS_BOUND(us) us,
    FW_DNS_BOUNDS(FW_DNS_BOUND)
#undef FW_DNS_BOUND
};

// open → choose the hooks → set sizes → load → attach.
class StartWorker : public PromiseWorker {
 public:
  StartWorker(DnsTracer *tracer, Napi::Env env, DnsOptions options)
      : PromiseWorker(env, "flapwatch:dns-tracer"), tracer_(tracer), options_(std::move(options)) {}

 private:
  bool Run(Failure &failure) override {
    bool ok;
    {
      LibbpfLogCapture capture(&log_);
      ok = Load(failure);
    }
    malloc_trim(0);  // the kernel's BTF was parsed on this thread; glibc keeps freed arenas unless asked
    return ok;
  }

  // cgroup_skb needs bpf_cast_to_kern_ctx (6.3, fd6e57d8d1f0) and a cgroup v2 root to attach to; the device
  // tracepoints serve otherwise. Either way exactly one pair is loaded: the other's programs are switched off.
  bool Choose(const struct btf *btf, Failure &failure) {
    bool kctx = btf__find_by_name_kind(btf, "bpf_cast_to_kern_ctx", BTF_KIND_FUNC) > 0;
    bool tracepoints = btf__find_by_name_kind(btf, "btf_trace_net_dev_start_xmit", BTF_KIND_TYPEDEF) > 0 &&
                       btf__find_by_name_kind(btf, "btf_trace_netif_receive_skb", BTF_KIND_TYPEDEF) > 0;
    std::string why_not;
    if (!kctx) why_not = "this kernel lacks bpf_cast_to_kern_ctx (6.3)";
    else if (options_.cgroup_path.empty()) why_not = "no cgroup v2 hierarchy to attach to";
    cgroup_ = options_.hook != "tracepoints" && why_not.empty();
    if (options_.hook == "cgroup_skb" && !cgroup_) {
      failure = {"bpf_object__load", EOPNOTSUPP, "cgroup_skb: " + why_not};
      return false;
    }
    if (!cgroup_ && !tracepoints) {
      failure = {"bpf_object__load", EOPNOTSUPP, "neither cgroup_skb (" + why_not + ") nor the device tracepoints"};
      return false;
    }
    if (!cgroup_ && options_.hook != "tracepoints") {
      missing_.push_back("cgroup_skb: " + why_not + ": the device tracepoints serve instead, which every forwarded "
                         "packet pays for and which read no TCP payload outside an skb's linear data");
    }
    dns_bpf *skel = skel_.get();
    bpf_program__set_autoload(skel->progs.dns_egress, cgroup_);
    bpf_program__set_autoload(skel->progs.dns_ingress, cgroup_);
    bpf_program__set_autoload(skel->progs.dns_xmit, !cgroup_);
    bpf_program__set_autoload(skel->progs.dns_receive, !cgroup_);
    return true;
  }

  bool Load(Failure &failure) {
    BtfPtr btf = ParseKernelBtf(options_.btf_path, failure);
    if (!btf) return false;
    LIBBPF_OPTS(bpf_object_open_opts, open_opts,
                .btf_custom_path = options_.btf_path.empty() ? nullptr : options_.btf_path.c_str());
    skel_ = DnsObject(dns_bpf__open_opts(&open_opts), dns_bpf__destroy);
    if (!skel_) {
      failure = {"bpf_object__open", errno, "opening the DNS tracer"};
      return false;
    }
    bool chosen = Choose(btf.get(), failure);
    btf.reset();
    if (!chosen) return false;
    dns_bpf *skel = skel_.get();
    bpf_map__set_max_entries(skel->maps.dns_pending, options_.max_queries);
    bpf_map__set_max_entries(skel->maps.dns_counts, options_.max_flows);
    if (int err = dns_bpf__load(skel)) {
      failure = {"bpf_object__load", -err, "loading the DNS tracer needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN"};
      return false;
    }
    return cgroup_ ? AttachCgroup(failure) : AttachTracepoints(failure);
  }

  bool AttachCgroup(Failure &failure) {
    int fd = open(options_.cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      failure = {"open", errno, "opening the cgroup v2 root " + options_.cgroup_path};
      return false;
    }
    dns_bpf *skel = skel_.get();
    // links, not legacy attachments: they coexist with the cgroup programs of systemd and others, and go with us
    struct { bpf_program *prog; bpf_link **link; } hooks[] = {
        {skel->progs.dns_egress, &skel->links.dns_egress}, {skel->progs.dns_ingress, &skel->links.dns_ingress}};
    for (auto &h : hooks) {
      *h.link = bpf_program__attach_cgroup(h.prog, fd);
      if (!*h.link) {
        failure = {"bpf_program__attach_cgroup", errno, std::string("attaching ") + bpf_program__name(h.prog) +
                                                            " to " + options_.cgroup_path + " needs CAP_NET_ADMIN"};
        close(fd);
        return false;
      }
      programs_.push_back(bpf_program__name(h.prog));
    }
    close(fd);
    return true;
  }

  bool AttachTracepoints(Failure &failure) {
    dns_bpf *skel = skel_.get();
    struct { bpf_program *prog; bpf_link **link; } hooks[] = {
        {skel->progs.dns_xmit, &skel->links.dns_xmit}, {skel->progs.dns_receive, &skel->links.dns_receive}};
    for (auto &h : hooks) {
      *h.link = bpf_program__attach(h.prog);
      if (!*h.link) {
        failure = {"bpf_program__attach", errno, std::string("attaching ") + bpf_program__name(h.prog)};
        return false;
      }
      programs_.push_back(bpf_program__name(h.prog));
    }
    return true;
  }

  // A failed start frees what it made (the object detaches what it attached) when the worker goes.
  bool Finished(bool ok) override {
    tracer_->Started(ok ? std::move(skel_) : nullptr);
    tracer_->Unref();
    return ok;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array bounds = Napi::Array::New(env, FW_DNS_BUCKETS - 1);
    for (uint32_t i = 0; i + 1 < FW_DNS_BUCKETS; i++) bounds.Set(i, Napi::Number::New(env, kBoundsUs[i]));
    Napi::Object info = Napi::Object::New(env);
    info.Set("hook", Napi::String::New(env, cgroup_ ? "cgroup_skb" : "tracepoints"));
    info.Set("programs", Strings(env, programs_));
    info.Set("missing", Strings(env, missing_));
    info.Set("log", Strings(env, log_));
    info.Set("latencyBoundsUs", bounds);
    return info;
  }

  Napi::Error Rejection(Napi::Env env) override {
    Napi::Error error = MakeError(env, failure_);
    error.Set("log", Strings(env, log_));
    return error;
  }

  DnsTracer *tracer_;
  DnsOptions options_;
  DnsObject skel_;
  bool cgroup_ = false;
  std::vector<std::string> log_, programs_, missing_;
};

class DrainWorker : public PromiseWorker {
 public:
  DrainWorker(DnsTracer *tracer, Napi::Env env, DnsObject skel)
      : PromiseWorker(env, "flapwatch:dns-tracer"), tracer_(tracer), skel_(std::move(skel)) {}

 private:
  bool Run(Failure &failure) override {
    // the sweep first: what it counts late or unanswered lands in the rows drained next
    LIBBPF_OPTS(bpf_test_run_opts, run);
    if (bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.dns_sweep), &run) != 0) {
      failure = {"bpf_prog_test_run_opts", errno, "sweeping the pending DNS queries"};
      return false;
    }
    if (int err = DrainMap(bpf_map__fd(skel_->maps.dns_counts), rows_, 2 * bpf_map__max_entries(skel_->maps.dns_counts))) {
      failure = {"bpf_map_lookup_and_delete_batch", err, "draining the DNS counts"};
      return false;
    }
    if (int err = SumPerCpu(bpf_map__fd(skel_->maps.dns_stats), FW_DNS_STAT_MAX, stats_)) {
      failure = {"bpf_map_lookup_elem", err, "reading the DNS tracer's counters"};
      return false;
    }
    return true;
  }

  bool Finished(bool ok) override {
    tracer_->Drained();
    return ok;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array rows = Napi::Array::New(env, rows_.size());
    for (size_t i = 0; i < rows_.size(); i++) {
      const fw_dns_key &k = rows_[i].first;
      const fw_dns_counts &c = rows_[i].second;
      Napi::Object o = Napi::Object::New(env);
      o.Set("netns", Napi::Number::New(env, k.netns));
      o.Set("family", Napi::Number::New(env, k.family));
      o.Set("proto", Napi::Number::New(env, k.proto));
      o.Set("client", Napi::String::New(env, Address(k.family, k.client)));
      o.Set("server", Napi::String::New(env, Address(k.family, k.server)));
      o.Set("serverPort", Napi::Number::New(env, k.server_port));
      o.Set("rcode", k.rcode == FW_DNS_NO_RCODE ? env.Null() : Napi::Number::New(env, k.rcode));
      const std::pair<const char *, __u64> counts[] = {
          {"queries", c.queries}, {"retries", c.retries}, {"late", c.late}, {"unanswered", c.unanswered},
          {"pending", c.pending}, {"answers", c.answers}, {"latencyNs", c.latency_ns}};
      for (const auto &[name, value] : counts) o.Set(name, Napi::Number::New(env, static_cast<double>(value)));
      Napi::Array buckets = Napi::Array::New(env, FW_DNS_BUCKETS);
      for (uint32_t b = 0; b < FW_DNS_BUCKETS; b++) buckets.Set(b, Napi::Number::New(env, c.buckets[b]));
      o.Set("buckets", buckets);
      rows.Set(i, o);
    }
    Napi::Object counters = Napi::Object::New(env);
    for (int i = 0; i < FW_DNS_STAT_MAX; i++) counters.Set(kStatNames[i], Napi::Number::New(env, stats_[i]));
    Napi::Object result = Napi::Object::New(env);
    result.Set("rows", rows);
    result.Set("counters", counters);
    return result;
  }

  DnsTracer *tracer_;
  DnsObject skel_;
  Entries<fw_dns_key, fw_dns_counts> rows_;
  __u64 stats_[FW_DNS_STAT_MAX] = {};
};

}  // namespace

Napi::Function DnsTracer::Define(Napi::Env env) {
  return DefineClass(env, "DnsTracer",
                     {InstanceMethod<&DnsTracer::Start>("start"), InstanceMethod<&DnsTracer::Drain>("drain"),
                      InstanceMethod<&DnsTracer::Stop>("stop")});
}

DnsTracer::DnsTracer(const Napi::CallbackInfo &info) : Napi::ObjectWrap<DnsTracer>(info) {}

DnsTracer::~DnsTracer() { Close(); }

Napi::Value DnsTracer::Start(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!lifecycle_.CanStart()) return AlreadyStarted(env, "DnsTracer.start");
  Napi::Object o = info[0].As<Napi::Object>();
  DnsOptions options;
  options.btf_path = o.Get("btfPath").As<Napi::String>();
  options.cgroup_path = o.Get("cgroupPath").As<Napi::String>();
  options.hook = o.Get("hook").As<Napi::String>();
  options.max_queries = o.Get("maxQueries").As<Napi::Number>().Uint32Value();
  options.max_flows = o.Get("maxFlows").As<Napi::Number>().Uint32Value();
  lifecycle_.Starting();
  Ref();  // the JS object must outlive the worker
  return (new StartWorker(this, env, std::move(options)))->Start();
}

void DnsTracer::Started(DnsObject skel) {
  if (lifecycle_.Started(skel != nullptr)) skel_ = std::move(skel);  // else skel frees itself
}

Napi::Value DnsTracer::Drain(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!lifecycle_.started()) return Rejected(env, NotStarted(env, "DnsTracer.drain"));
  if (draining_) return Rejected(env, StateError(env, "DnsTracer.drain", EBUSY, "a drain is already running"));
  draining_ = true;
  Ref();
  return (new DrainWorker(this, env, skel_))->Start();
}

void DnsTracer::Drained() {
  draining_ = false;
  Unref();
}

void DnsTracer::Stop(const Napi::CallbackInfo &) { Close(); }

// The one place the tracer stops: every program detached now; the maps go now, or when a drain in flight lets go
// of them. A start under way is freed when it ends.
void DnsTracer::Close() {
  lifecycle_.Stop();
  if (skel_) dns_bpf__detach(skel_.get());
  skel_.reset();
}

}  // namespace flapwatch
