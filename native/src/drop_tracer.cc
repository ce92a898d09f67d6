#include "drop_tracer.h"

#include <bpf/btf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bpf_maps.h"
#include "bpf_object.h"
#include "drops.skel.h"
#include "errors.h"
#include "promise_worker.h"
#include "values.h"

namespace flapwatch {
namespace {

bool IsZero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

void SetTuple(Napi::Env env, Napi::Object o, const fw_tuple &t) {
  o.Set("family", Napi::Number::New(env, t.family));
  o.Set("proto", Napi::Number::New(env, t.proto));
  o.Set("saddr", Napi::String::New(env, AddressText(t.family, t.saddr)));
  o.Set("daddr", Napi::String::New(env, AddressText(t.family, t.daddr)));
  o.Set("sport", Napi::Number::New(env, t.sport));
  o.Set("dport", Napi::Number::New(env, t.dport));
}

void SetDropKey(Napi::Env env, Napi::Object o, const fw_drop_key &k) {
  SetTuple(env, o, k.t);
  o.Set("netns", Napi::Number::New(env, k.netns));
  o.Set("reason", Napi::Number::New(env, k.reason));
  o.Set("location", Napi::BigInt::New(env, static_cast<uint64_t>(k.location)));
  bool has_orig = (k.ct_flags & FW_CT_PRESENT) && !IsZero(k.orig_daddr, sizeof(k.orig_daddr));
  o.Set("origDaddr", has_orig ? Napi::Value(Napi::String::New(env, AddressText(k.t.family, k.orig_daddr))) : env.Null());
  o.Set("origDport", Napi::Number::New(env, k.orig_dport));
  o.Set("ct", Napi::Number::New(env, k.ct_flags));
}

// The counters' names as TypeScript reads them (TRACER_COUNTERS in src/native.ts), in the stats map's order.
const char *const kStatNames[FW_STAT_MAX] = {
#define FW_STAT_NAME(id, name) #name,
    FW_STATS(FW_STAT_NAME)
#undef FW_STAT_NAME
};

// enum skb_drop_reason, value → name, from the BTF this start already parsed.
void ReadEnum(const struct btf *btf, __s32 id, std::vector<std::pair<double, std::string>> &out) {
  const struct btf_type *t = btf__type_by_id(btf, id);
  const struct btf_enum *e = btf_enum(t);
  for (__u16 i = 0; i < btf_vlen(t); i++, e++) {
    double value = btf_kflag(t) ? static_cast<double>(static_cast<__s32>(e->val)) : static_cast<double>(e->val);
    out.emplace_back(value, btf__name_by_offset(btf, e->name_off));
  }
}

// A tracepoint's arguments as tp_btf programs see them: its btf_trace_ typedef points to a prototype whose first
// parameter is the tracepoint's own context. -1 when the kernel has no such tracepoint.
int TracepointArgs(const struct btf *btf, const char *typedef_name) {
  __s32 id = btf__find_by_name_kind(btf, typedef_name, BTF_KIND_TYPEDEF);
  if (id <= 0) return -1;
  const struct btf_type *t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);  // the pointer
  if (!t || !btf_is_ptr(t)) return -1;
  t = btf__type_by_id(btf, t->type);
  return t && btf_is_func_proto(t) ? btf_vlen(t) - 1 : -1;
}

// open → set read-only globals and sizes → load → attach. The kernel's BTF is parsed here once for what
// decides the load (which hooks exist) and the drop reasons' names. libbpf parses it once more inside
// bpf_object__load (CO-RE and tp_btf attach targets): its open options take a path, never a parsed btf, and
// it frees its copy after the load, so the two cannot share one parse.
class StartWorker : public PromiseWorker {
 public:
  StartWorker(DropTracer *tracer, Napi::Env env, TracerOptions options)
      : PromiseWorker(env, "flapwatch:drop-tracer"), tracer_(tracer), options_(std::move(options)) {}

 private:
  bool Run(Failure &failure) override {
    return WithLibbpfLog(log_, [&] { return Load(failure); });
  }

  bool Load(Failure &failure) {
    BtfPtr btf = ParseBtf(options_.btf_path, failure);
    if (!btf) return false;
    LIBBPF_OPTS(bpf_object_open_opts, open_opts,
                .btf_custom_path = options_.btf_path.empty() ? nullptr : options_.btf_path.c_str());
    skel_ = DropsObject(drops_bpf__open_opts(&open_opts), drops_bpf__destroy);
    if (!skel_) {
      failure = {"bpf_object__open", errno, "opening the drop tracer"};
      return false;
    }
    drops_bpf *skel = skel_.get();
    // One object serves many kernels: switch off what this one cannot take, before load.
    struct Hook {
      bpf_program *prog;
      bpf_link **link;
      const char *needs;  // a BTF type that proves the kernel has the hook
      __u32 kind;
      bool required;
    } hooks[] = {
        {skel->progs.kfree_skb_rx_sk, &skel->links.kfree_skb_rx_sk, "skb_drop_reason", BTF_KIND_ENUM, false},
        {skel->progs.kfree_skb_reason, &skel->links.kfree_skb_reason, "skb_drop_reason", BTF_KIND_ENUM, false},
        {skel->progs.kfree_skb_noreason, &skel->links.kfree_skb_noreason, "btf_trace_kfree_skb", BTF_KIND_TYPEDEF, true},
        {skel->progs.tcp_retransmit_skb, &skel->links.tcp_retransmit_skb, "btf_trace_tcp_retransmit_skb",
         BTF_KIND_TYPEDEF, false},
        {skel->progs.tcp_retransmit_synack, &skel->links.tcp_retransmit_synack, "btf_trace_tcp_retransmit_synack",
         BTF_KIND_TYPEDEF, false},
    };
    // kfree_skb has a reason since v5.17 (c504e5c2f964) and the receiving socket since v6.11: load exactly one
    // of the three variants.
    __s32 reason_enum = btf__find_by_name_kind(btf.get(), "skb_drop_reason", BTF_KIND_ENUM);
    bool has_reason = reason_enum > 0;
    bool has_rx_sk = has_reason && TracepointArgs(btf.get(), "btf_trace_kfree_skb") >= 4;
    if (has_reason) ReadEnum(btf.get(), reason_enum, reasons_);
    bpf_program__set_autoload(skel->progs.kfree_skb_rx_sk, has_rx_sk);
    bpf_program__set_autoload(skel->progs.kfree_skb_reason, has_reason && !has_rx_sk);
    bpf_program__set_autoload(skel->progs.kfree_skb_noreason, !has_reason);
    if (!has_reason) missing_.push_back("kfree_skb_reason: kernel < 5.17 gives no drop reason; every drop has reason 0");
    if (has_reason && !has_rx_sk)
      missing_.push_back("kfree_skb_rx_sk: kernel < 6.11 names no receiving socket; segments TIME_WAIT sockets take count as drops");
    for (auto &h : hooks) {
      if (bpf_program__autoload(h.prog) && btf__find_by_name_kind(btf.get(), h.needs, h.kind) <= 0) {
        bpf_program__set_autoload(h.prog, false);
        missing_.push_back(std::string(bpf_program__name(h.prog)) + ": " + h.needs + " is not in this kernel");
      }
    }
    btf.reset();

    bpf_map__set_max_entries(skel->maps.drops, options_.max_flows);
    bpf_map__set_max_entries(skel->maps.retransmits, options_.max_retransmit_flows);
    bpf_map__set_max_entries(skel->maps.samples, options_.ring_bytes);
    for (const auto &[value, name] : reasons_) {
      bool skipped = std::any_of(options_.skip_reasons.begin(), options_.skip_reasons.end(), [&](const std::string &s) {
        return name == s || name == "SKB_DROP_REASON_" + s || name == "SKB_" + s;
      });
      if (skipped && value >= 0 && value < 256) {
        auto bit = static_cast<unsigned>(value);
        skel->rodata->skip_reasons[bit >> 6] |= 1ULL << (bit & 63);
      }
    }
    // each CPU keeps its own window (no shared counter on the hot path): the cap is split among them
    int ncpu = libbpf_num_possible_cpus();
    skel->rodata->samples_per_cpu_sec =
        options_.samples_per_sec == 0 ? 0 : (options_.samples_per_sec + ncpu - 1) / (ncpu > 0 ? ncpu : 1);

    if (int err = drops_bpf__load(skel)) {
      failure = {"bpf_object__load", -err, "loading the drop tracer needs CAP_BPF and CAP_PERFMON"};
      return false;
    }
    for (auto &h : hooks) {
      if (!bpf_program__autoload(h.prog)) continue;
      const char *name = bpf_program__name(h.prog);
      *h.link = bpf_program__attach(h.prog);
      if (*h.link) {
        programs_.push_back(name);
        continue;
      }
      int err = errno;
      if (h.prog == skel->progs.kfree_skb_rx_sk || h.prog == skel->progs.kfree_skb_reason || h.required) {
        failure = {"bpf_program__attach", err, std::string("attaching ") + name + " to tp_btf/kfree_skb"};
        return false;
      }
      missing_.push_back(std::string(name) + ": attach failed: " + std::strerror(err));
    }
    return true;
  }

  // A failed start frees what it made (the object detaches what it attached) when the worker goes.
  bool Finished(bool ok) override {
    tracer_->Started(ok ? std::move(skel_) : nullptr, missing_);
    tracer_->Unref();
    return ok;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object reasons = Napi::Object::New(env);
    for (const auto &[value, name] : reasons_) reasons.Set(Napi::Number::New(env, value), Napi::String::New(env, name));
    Napi::Object info = Napi::Object::New(env);
    info.Set("programs", Strings(env, programs_));
    info.Set("missing", Strings(env, missing_));
    info.Set("log", Strings(env, log_));
    info.Set("dropReasons", reasons);
    return info;
  }

  Napi::Error Rejection(Napi::Env env) override { return ErrorWithLog(env, failure_, log_); }

  DropTracer *tracer_;
  TracerOptions options_;
  DropsObject skel_;
  std::vector<std::string> log_, programs_, missing_;
  std::vector<std::pair<double, std::string>> reasons_;
};

class DrainWorker : public PromiseWorker {
 public:
  DrainWorker(DropTracer *tracer, Napi::Env env, DropsObject skel)
      : PromiseWorker(env, "flapwatch:drop-tracer"), tracer_(tracer), skel_(std::move(skel)) {}

 private:
  bool Run(Failure &failure) override {
    return Drain(skel_->maps.drops, drops_, "the drops map", failure) &&
           Drain(skel_->maps.retransmits, retransmits_, "the retransmits map", failure) &&
           SumCounters(skel_->maps.stats, FW_STAT_MAX, stats_, "the tracer's", failure);
  }

  bool Finished(bool ok) override {
    tracer_->Drained();
    return ok;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array drops = Napi::Array::New(env, drops_.size());
    for (size_t i = 0; i < drops_.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      SetDropKey(env, o, drops_[i].first);
      o.Set("packets", Napi::Number::New(env, drops_[i].second.packets));
      o.Set("bytes", Napi::Number::New(env, drops_[i].second.bytes));
      drops.Set(i, o);
    }
    Napi::Array retransmits = Napi::Array::New(env, retransmits_.size());
    for (size_t i = 0; i < retransmits_.size(); i++) {
      const fw_retrans_key &k = retransmits_[i].first;
      Napi::Object o = Napi::Object::New(env);
      SetTuple(env, o, k.t);
      o.Set("netns", Napi::Number::New(env, k.netns));
      o.Set("state", Napi::Number::New(env, k.state));
      o.Set("synack", Napi::Boolean::New(env, k.synack));
      o.Set("packets", Napi::Number::New(env, retransmits_[i].second.packets));
      retransmits.Set(i, o);
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("drops", drops);
    result.Set("retransmits", retransmits);
    result.Set("counters", Counters(env, kStatNames, stats_, FW_STAT_MAX));
    return result;
  }

  DropTracer *tracer_;
  DropsObject skel_;
  Entries<fw_drop_key, fw_counter> drops_;
  Entries<fw_retrans_key, fw_counter> retransmits_;
  __u64 stats_[FW_STAT_MAX] = {};
};

}  // namespace

Napi::Function DropTracer::Define(Napi::Env env) {
  return DefineClass(env, "DropTracer",
                     {InstanceMethod<&DropTracer::Start>("start"), InstanceMethod<&DropTracer::Drain>("drain"),
                      InstanceMethod<&DropTracer::Stop>("stop")});
}

DropTracer::DropTracer(const Napi::CallbackInfo &info)
    : Napi::ObjectWrap<DropTracer>(info), ring_(nullptr, ring_buffer__free) {}

DropTracer::~DropTracer() { Close(); }

Napi::Value DropTracer::Start(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!lifecycle_.CanStart()) return AlreadyStarted(env, "DropTracer.start");
  Napi::Object o = info[0].As<Napi::Object>();
  TracerOptions options;
  options.btf_path = o.Get("btfPath").As<Napi::String>();
  options.max_flows = o.Get("maxFlows").As<Napi::Number>().Uint32Value();
  options.max_retransmit_flows = o.Get("maxRetransmitFlows").As<Napi::Number>().Uint32Value();
  options.samples_per_sec = o.Get("samplesPerSecond").As<Napi::Number>().Uint32Value();
  options.ring_bytes = o.Get("ringBytes").As<Napi::Number>().Uint32Value();
  Napi::Array skip = o.Get("skipReasons").As<Napi::Array>();
  for (uint32_t i = 0; i < skip.Length(); i++) options.skip_reasons.push_back(skip.Get(i).As<Napi::String>());
  on_samples_ = Napi::Persistent(o.Get("onSamples").As<Napi::Function>());

  lifecycle_.Starting();
  Ref();  // the JS object must outlive the worker
  return (new StartWorker(this, env, std::move(options)))->Start();
}

void DropTracer::Started(DropsObject skel, std::vector<std::string> &missing) {
  if (!lifecycle_.Started(skel != nullptr)) return;  // failed, or stop() came meanwhile: skel frees itself
  skel_ = std::move(skel);
  // samples are an extra: the counters work without them, and `missing` says why there are none
  ring_.reset(ring_buffer__new(bpf_map__fd(skel_->maps.samples), OnSample, this, nullptr));
  if (!ring_) {
    missing.push_back(std::string("samples: ring_buffer__new: ") + std::strerror(errno));
    return;
  }
  if (int err = watch_.Start(Env(), ring_buffer__epoll_fd(ring_.get()), OnReadable, this)) {
    ring_.reset();
    missing.push_back(std::string("samples: uv_poll_start: ") + uv_strerror(err));
  }
}

Napi::Value DropTracer::Drain(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!lifecycle_.started()) return Rejected(env, NotStarted(env, "DropTracer.drain"));
  if (draining_) return Rejected(env, StateError(env, "DropTracer.drain", EBUSY, "a drain is already running"));
  draining_ = true;
  Ref();
  return (new DrainWorker(this, env, skel_))->Start();
}

void DropTracer::Drained() {
  draining_ = false;
  Unref();
}

void DropTracer::Stop(const Napi::CallbackInfo &) { Close(); }

void DropTracer::OnReadable(void *self) {
  auto *tracer = static_cast<DropTracer *>(self);
  ring_buffer__consume(tracer->ring_.get());
  tracer->Deliver();
}

int DropTracer::OnSample(void *ctx, void *data, size_t size) {
  auto *self = static_cast<DropTracer *>(ctx);
  if (size >= sizeof(fw_sample)) self->pending_.push_back(*static_cast<fw_sample *>(data));
  return 0;
}

void DropTracer::Deliver() {
  if (pending_.empty() || on_samples_.IsEmpty()) return;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Array samples = Napi::Array::New(env, pending_.size());
  for (size_t i = 0; i < pending_.size(); i++) {
    const fw_sample &s = pending_[i];
    Napi::Object o = Napi::Object::New(env);
    SetDropKey(env, o, s.key);
    o.Set("timeNs", Napi::BigInt::New(env, static_cast<uint64_t>(s.time_ns)));
    o.Set("len", Napi::Number::New(env, s.len));
    o.Set("ifindex", Napi::Number::New(env, s.ifindex));
    samples.Set(i, o);
  }
  pending_.clear();
  try {
    on_samples_.MakeCallback(env.Global(), {samples});
  } catch (const Napi::Error &e) {
    napi_fatal_exception(env, e.Value());  // the listener threw: surface it as Node does for any callback
  }
}

// The one place the tracer stops: the poll first, then the ring it reads, then every program is detached;
// the maps go now, or when a drain in flight lets go of them. A start under way is freed when it ends.
void DropTracer::Close() {
  lifecycle_.Stop();
  watch_.Stop();
  ring_.reset();
  if (skel_) drops_bpf__detach(skel_.get());
  skel_.reset();
  pending_.clear();
  on_samples_.Reset();
}

}  // namespace flapwatch
