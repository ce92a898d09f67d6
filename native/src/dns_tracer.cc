#include "dns_tracer.h"

#include <linux/types.h>  // dns.h uses the kernel's fixed-width types

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "bpf_maps.h"
#include "dns.h"
#include "dns.skel.h"
#include "skeleton.h"

namespace flapwatch {
namespace {

class DnsTracer;

const auto kSkeleton = FW_SKELETON(dns_bpf, dns_bpf__detach, "the DNS tracer", "CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN");

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

// Plain options ("baton"): TypeScript has validated every field.
struct DnsOptions {
  std::string cgroup_path;  // the cgroup v2 root for cgroup_skb; '' = the tracepoints
  std::string hook;         // "auto", "cgroup_skb" or "tracepoints"
  uint32_t max_queries;
  uint32_t max_flows;
};

// Chooses the hooks before the load and attaches them itself: libbpf attaches no cgroup program on its own.
class StartWorker : public SkeletonStartWorker<DnsTracer, dns_bpf> {
 public:
  StartWorker(DnsTracer *owner, Napi::Env env, const Skeleton<dns_bpf> &ops, std::string btf_path, DnsOptions options)
      : SkeletonStartWorker(owner, env, ops, std::move(btf_path)), options_(std::move(options)) {}

 private:
  bool Configure(dns_bpf *skel, Failure &failure) override {
    BtfPtr btf = ParseBtf(btf_path(), failure);
    if (!btf || !Choose(skel, btf.get(), failure)) return false;
    bpf_map__set_max_entries(skel->maps.dns_pending, options_.max_queries);
    bpf_map__set_max_entries(skel->maps.dns_counts, options_.max_flows);
    return true;
  }

  // cgroup_skb needs bpf_cast_to_kern_ctx (6.3, fd6e57d8d1f0) and a cgroup v2 root to attach to; the device
  // tracepoints serve otherwise. Either way exactly one pair is loaded: the other's programs are switched off.
  bool Choose(dns_bpf *skel, const struct btf *btf, Failure &failure) {
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
    bpf_program__set_autoload(skel->progs.dns_egress, cgroup_);
    bpf_program__set_autoload(skel->progs.dns_ingress, cgroup_);
    bpf_program__set_autoload(skel->progs.dns_xmit, !cgroup_);
    bpf_program__set_autoload(skel->progs.dns_receive, !cgroup_);
    return true;
  }

  bool Attach(dns_bpf *skel, Failure &failure) override {
    return cgroup_ ? AttachCgroup(skel, failure) : AttachTracepoints(skel, failure);
  }

  bool AttachCgroup(dns_bpf *skel, Failure &failure) {
    int fd = open(options_.cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      failure = {"open", errno, "opening the cgroup v2 root " + options_.cgroup_path};
      return false;
    }
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

  bool AttachTracepoints(dns_bpf *skel, Failure &failure) {
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

  void Describe(Napi::Env env, Napi::Object info) override {
    Napi::Array bounds = Napi::Array::New(env, FW_DNS_BUCKETS - 1);
    for (uint32_t i = 0; i + 1 < FW_DNS_BUCKETS; i++) bounds.Set(i, Napi::Number::New(env, kBoundsUs[i]));
    info.Set("hook", Napi::String::New(env, cgroup_ ? "cgroup_skb" : "tracepoints"));
    info.Set("programs", Strings(env, programs_));
    info.Set("missing", Strings(env, missing_));
    info.Set("latencyBoundsUs", bounds);
  }

  DnsOptions options_;
  bool cgroup_ = false;
  std::vector<std::string> programs_, missing_;
};

class DrainWorker : public SkeletonWorker<DnsTracer, dns_bpf> {
 public:
  using SkeletonWorker::SkeletonWorker;

 private:
  bool Run(Failure &failure) override {
    // the sweep first: what it counts late or unanswered lands in the rows drained next
    LIBBPF_OPTS(bpf_test_run_opts, run);
    if (bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.dns_sweep), &run) != 0) {
      failure = {"bpf_prog_test_run_opts", errno, "sweeping the pending DNS queries"};
      return false;
    }
    return Drain(skel_->maps.dns_counts, rows_, "the DNS counts", failure) &&
           SumCounters(skel_->maps.stats, FW_DNS_STAT_MAX, stats_, "the DNS tracer's", failure);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array rows = Objects(env, rows_, [env](Napi::Object o, const fw_dns_key &k, const fw_dns_counts &c) {
      o.Set("client", Napi::String::New(env, AddressText(k.family, k.client)));
      o.Set("server", Napi::String::New(env, AddressText(k.family, k.server)));
      o.Set("rcode", k.rcode == FW_DNS_NO_RCODE ? env.Null() : Napi::Number::New(env, k.rcode));
      SetNumbers(env, o,
                 {{"netns", k.netns}, {"family", k.family}, {"proto", k.proto}, {"serverPort", k.server_port},
                  {"queries", c.queries}, {"retries", c.retries}, {"late", c.late}, {"unanswered", c.unanswered},
                  {"pending", c.pending}, {"answers", c.answers}, {"latencyNs", c.latency_ns}});
      o.Set("buckets", Numbers(env, c.buckets, FW_DNS_BUCKETS));
    });
    Napi::Object result = Napi::Object::New(env);
    result.Set("rows", rows);
    result.Set("counters", Counters(env, kStatNames, stats_, FW_DNS_STAT_MAX));
    return result;
  }

  Entries<fw_dns_key, fw_dns_counts> rows_;
  __u64 stats_[FW_DNS_STAT_MAX] = {};
};

class DnsTracer : public SkeletonWrap<DnsTracer, dns_bpf> {
 public:
  explicit DnsTracer(const Napi::CallbackInfo &info) : SkeletonWrap(info, kSkeleton, "DnsTracer") {}

  Napi::Value Start(const Napi::CallbackInfo &info) {
    Napi::Object o = info[0].As<Napi::Object>();
    DnsOptions options{o.Get("cgroupPath").As<Napi::String>(), o.Get("hook").As<Napi::String>(),
                       o.Get("maxQueries").As<Napi::Number>().Uint32Value(),
                       o.Get("maxFlows").As<Napi::Number>().Uint32Value()};
    return StartUsing<StartWorker>(info, std::move(options));
  }

  Napi::Value Read(const Napi::CallbackInfo &info) { return Use<DrainWorker>(info, "drain", true); }
};

}  // namespace

Napi::Function DefineDnsTracer(Napi::Env env) { return DnsTracer::DefineWith(env, "DnsTracer", "drain"); }

}  // namespace flapwatch
