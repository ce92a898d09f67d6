#include "drop_tracer.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "drops.skel.h"
#include "errors.h"
#include "libbpf_log.h"

namespace flapwatch {
namespace {

constexpr const char *kDefaultBtf = "/sys/kernel/btf/vmlinux";
constexpr uint32_t kBatch = 1024;

template <typename K>
using Entries = std::vector<std::pair<K, fw_counter>>;

// Reads and deletes the entries (the maps hold deltas since the previous drain). Batch ops where the
// kernel has them (5.6+), one key at a time otherwise. A flood refills the slots the walk frees, so the walk
// stops after `limit` entries: what is left waits for the next drain instead of growing this one.
template <typename K>
int DrainMap(int fd, Entries<K> &out, size_t limit) {
  std::vector<K> keys(kBatch);
  std::vector<fw_counter> values(kBatch);
  K token;
  bool first = true;
  for (;;) {
    __u32 count = kBatch;
    int err = bpf_map_lookup_and_delete_batch(fd, first ? nullptr : &token, &token, keys.data(), values.data(),
                                              &count, nullptr);
    first = false;
    for (__u32 i = 0; i < count; i++) out.emplace_back(keys[i], values[i]);
    if (err == 0 && out.size() >= limit) return 0;
    if (err == 0) continue;
    if (errno == ENOENT) return 0;
    if (errno != EINVAL && errno != ENOTSUP) return errno;
    break;  // no batch support: fall back below
  }
  K key;
  fw_counter value;
  while (out.size() < limit && bpf_map_get_next_key(fd, nullptr, &key) == 0) {
    if (bpf_map_lookup_elem(fd, &key, &value) == 0) out.emplace_back(key, value);
    bpf_map_delete_elem(fd, &key);
  }
  return 0;
}

std::string Address(uint8_t family, const uint8_t *addr) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(family == FW_AF_INET6 ? AF_INET6 : AF_INET, addr, text, sizeof(text));
  return text;
}

bool IsZero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

void SetTuple(Napi::Env env, Napi::Object o, const fw_tuple &t) {
  o.Set("family", Napi::Number::New(env, t.family));
  o.Set("proto", Napi::Number::New(env, t.proto));
  o.Set("saddr", Napi::String::New(env, Address(t.family, t.saddr)));
  o.Set("daddr", Napi::String::New(env, Address(t.family, t.daddr)));
  o.Set("sport", Napi::Number::New(env, t.sport));
  o.Set("dport", Napi::Number::New(env, t.dport));
}

void SetDropKey(Napi::Env env, Napi::Object o, const fw_drop_key &k) {
  SetTuple(env, o, k.t);
  o.Set("netns", Napi::Number::New(env, k.netns));
  o.Set("reason", Napi::Number::New(env, k.reason));
  o.Set("location", Napi::BigInt::New(env, static_cast<uint64_t>(k.location)));
  bool has_orig = (k.ct_flags & FW_CT_PRESENT) && !IsZero(k.orig_daddr, sizeof(k.orig_daddr));
  o.Set("origDaddr", has_orig ? Napi::Value(Napi::String::New(env, Address(k.t.family, k.orig_daddr))) : env.Null());
  o.Set("origDport", Napi::Number::New(env, k.orig_dport));
  o.Set("ct", Napi::Number::New(env, k.ct_flags));
}

Napi::Array Strings(Napi::Env env, const std::vector<std::string> &v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(i, Napi::String::New(env, v[i]));
  return a;
}

bool BtfHas(const struct btf *btf, const char *name, __u32 kind) { return btf__find_by_name_kind(btf, name, kind) > 0; }

// Base of the two workers: a promise, a failure recorded off-thread, and the tracer kept busy meanwhile.
class TracerWorker : public Napi::AsyncWorker {
 protected:
  TracerWorker(DropTracer *tracer, Napi::Promise::Deferred deferred)
      : Napi::AsyncWorker(deferred.Env()), tracer_(tracer), deferred_(deferred) {}

  void OnWorkComplete(Napi::Env env, napi_status status) override {
    Napi::HandleScope scope(env);
    if (failure_.failed()) {
      Fail();
      tracer_->WorkDone();
      deferred_.Reject(Rejection(env).Value());
      return;
    }
    Napi::AsyncWorker::OnWorkComplete(env, status);
  }

  virtual void Fail() {}
  virtual Napi::Error Rejection(Napi::Env env) { return MakeError(env, failure_); }

  DropTracer *tracer_;
  Napi::Promise::Deferred deferred_;
  Failure failure_;
};

class StartWorker : public TracerWorker {
 public:
  StartWorker(DropTracer *tracer, Napi::Promise::Deferred deferred, TracerOptions options)
      : TracerWorker(tracer, deferred), options_(std::move(options)) {}

  // open → set read-only globals and sizes → load → attach; one cleanup path (Fail).
  void Execute() override {
    Load();
    // libbpf parsed the kernel's BTF (~17 MB) on this thread; glibc keeps freed arenas unless asked
    malloc_trim(0);
  }

  void Load() {
    LibbpfLogCapture capture(&log_);
    const char *btf_path = options_.btf_path.empty() ? kDefaultBtf : options_.btf_path.c_str();
    if (access(btf_path, R_OK) != 0) {
      failure_ = {"access", errno, std::string("no BTF at ") + btf_path + ": the kernel needs CONFIG_DEBUG_INFO_BTF=y"};
      return;
    }
    struct btf *btf = btf__parse(btf_path, nullptr);
    if (!btf) {
      failure_ = {"btf__parse", errno, std::string("reading BTF from ") + btf_path};
      return;
    }
    LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = options_.btf_path.empty() ? nullptr : btf_path);
    skel_ = drops_bpf__open_opts(&open_opts);
    if (!skel_) {
      failure_ = {"bpf_object__open", errno, "opening the drop tracer"};
      btf__free(btf);
      return;
    }
    // One object serves many kernels: switch off what this one cannot take, before load.
    struct Hook {
      bpf_program *prog;
      bpf_link **link;
      const char *needs;  // a BTF type that proves the kernel has the hook
      __u32 kind;
      bool required;
    } hooks[] = {
        {skel_->progs.kfree_skb_reason, &skel_->links.kfree_skb_reason, "skb_drop_reason", BTF_KIND_ENUM, false},
        {skel_->progs.kfree_skb_noreason, &skel_->links.kfree_skb_noreason, "btf_trace_kfree_skb", BTF_KIND_TYPEDEF,
         true},
        {skel_->progs.tcp_retransmit_skb, &skel_->links.tcp_retransmit_skb, "btf_trace_tcp_retransmit_skb",
         BTF_KIND_TYPEDEF, false},
        {skel_->progs.tcp_retransmit_synack, &skel_->links.tcp_retransmit_synack, "btf_trace_tcp_retransmit_synack",
         BTF_KIND_TYPEDEF, false},
    };
    // kfree_skb has a reason since v5.17 (c504e5c2f964): load exactly one of the two variants.
    bool has_reason = BtfHas(btf, "skb_drop_reason", BTF_KIND_ENUM);
    bpf_program__set_autoload(has_reason ? skel_->progs.kfree_skb_noreason : skel_->progs.kfree_skb_reason, false);
    if (!has_reason) missing_.push_back("kfree_skb_reason: kernel < 5.17 gives no drop reason; every drop has reason 0");
    for (auto &h : hooks) {
      if (bpf_program__autoload(h.prog) && !BtfHas(btf, h.needs, h.kind)) {
        bpf_program__set_autoload(h.prog, false);
        missing_.push_back(std::string(bpf_program__name(h.prog)) + ": " + h.needs + " is not in this kernel");
      }
    }
    btf__free(btf);

    bpf_map__set_max_entries(skel_->maps.drops, options_.max_flows);
    bpf_map__set_max_entries(skel_->maps.retransmits, options_.max_retransmit_flows);
    bpf_map__set_max_entries(skel_->maps.samples, options_.ring_bytes);
    // each CPU keeps its own window (no shared counter on the hot path): the cap is split among them
    int ncpu = libbpf_num_possible_cpus();
    skel_->rodata->samples_per_cpu_sec =
        options_.samples_per_sec == 0 ? 0 : (options_.samples_per_sec + ncpu - 1) / (ncpu > 0 ? ncpu : 1);

    if (int err = drops_bpf__load(skel_)) {
      failure_ = {"bpf_object__load", -err, "loading the drop tracer needs CAP_BPF and CAP_PERFMON"};
      return;
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
      if (h.prog == skel_->progs.kfree_skb_reason || h.required) {
        failure_ = {"bpf_program__attach", err, std::string("attaching ") + name + " to tp_btf/kfree_skb"};
        return;
      }
      missing_.push_back(std::string(name) + ": attach failed: " + std::strerror(err));
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    tracer_->Started(skel_);
    Napi::Object info = Napi::Object::New(env);
    info.Set("programs", Strings(env, programs_));
    info.Set("missing", Strings(env, missing_));
    info.Set("log", Strings(env, log_));
    deferred_.Resolve(info);
  }

 private:
  void Fail() override { drops_bpf__destroy(skel_); }  // detaches what was attached, frees the rest
  Napi::Error Rejection(Napi::Env env) override {
    Napi::Error error = MakeError(env, failure_);
    error.Set("log", Strings(env, log_));
    return error;
  }

  TracerOptions options_;
  drops_bpf *skel_ = nullptr;
  std::vector<std::string> log_, programs_, missing_;
};

class DrainWorker : public TracerWorker {
 public:
  DrainWorker(DropTracer *tracer, Napi::Promise::Deferred deferred, drops_bpf *skel)
      : TracerWorker(tracer, deferred), skel_(skel) {}

  void Execute() override {
    if (int err = DrainMap(bpf_map__fd(skel_->maps.drops), drops_, 2 * bpf_map__max_entries(skel_->maps.drops))) {
      failure_ = {"bpf_map_lookup_and_delete_batch", err, "draining the drops map"};
      return;
    }
    if (int err = DrainMap(bpf_map__fd(skel_->maps.retransmits), retransmits_,
                           2 * bpf_map__max_entries(skel_->maps.retransmits))) {
      failure_ = {"bpf_map_lookup_and_delete_batch", err, "draining the retransmits map"};
      return;
    }
    int ncpu = libbpf_num_possible_cpus();
    std::vector<__u64> per_cpu(ncpu > 0 ? ncpu : 1);
    for (__u32 i = 0; i < FW_STAT_MAX; i++) {
      if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.stats), &i, per_cpu.data()) != 0) {
        failure_ = {"bpf_map_lookup_elem", errno, "reading the tracer's counters"};
        return;
      }
      for (__u64 v : per_cpu) stats_[i] += v;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    tracer_->WorkDone();
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
    static const char *names[FW_STAT_MAX] = {"drops",         "dropFlows", "dropMapFull",    "retransmits",
                                             "retransmitFlows", "retransmitMapFull", "samples", "samplesLimited",
                                             "samplesLost"};
    Napi::Object counters = Napi::Object::New(env);
    for (int i = 0; i < FW_STAT_MAX; i++) counters.Set(names[i], Napi::Number::New(env, stats_[i]));
    Napi::Object result = Napi::Object::New(env);
    result.Set("drops", drops);
    result.Set("retransmits", retransmits);
    result.Set("counters", counters);
    deferred_.Resolve(result);
  }

 private:
  drops_bpf *skel_;
  Entries<fw_drop_key> drops_;
  Entries<fw_retrans_key> retransmits_;
  __u64 stats_[FW_STAT_MAX] = {};
};

}  // namespace

Napi::Function DropTracer::Define(Napi::Env env) {
  return DefineClass(env, "DropTracer",
                     {InstanceMethod<&DropTracer::Start>("start"), InstanceMethod<&DropTracer::Drain>("drain"),
                      InstanceMethod<&DropTracer::Stop>("stop")});
}

DropTracer::DropTracer(const Napi::CallbackInfo &info) : Napi::ObjectWrap<DropTracer>(info) {}

DropTracer::~DropTracer() { Close(); }

Napi::Value DropTracer::Start(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  if (busy_ || skel_) {
    deferred.Reject(Napi::Error::New(env, "DropTracer.start: already started").Value());
    return deferred.Promise();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  TracerOptions options;
  options.btf_path = o.Get("btfPath").As<Napi::String>();
  options.max_flows = o.Get("maxFlows").As<Napi::Number>().Uint32Value();
  options.max_retransmit_flows = o.Get("maxRetransmitFlows").As<Napi::Number>().Uint32Value();
  options.samples_per_sec = o.Get("samplesPerSecond").As<Napi::Number>().Uint32Value();
  options.ring_bytes = o.Get("ringBytes").As<Napi::Number>().Uint32Value();
  on_samples_ = Napi::Persistent(o.Get("onSamples").As<Napi::Function>());

  busy_ = true;
  stop_requested_ = false;
  Ref();  // the JS object must outlive the worker
  (new StartWorker(this, deferred, std::move(options)))->Queue();
  return deferred.Promise();
}

void DropTracer::Started(drops_bpf *skel) {
  skel_ = skel;
  WorkDone();
  if (skel_) StartPolling(Env());
}

void DropTracer::WorkDone() {
  busy_ = false;
  Unref();
  if (stop_requested_) Close();
}

Napi::Value DropTracer::Drain(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  if (!skel_ || busy_) {
    const char *why = skel_ ? "DropTracer.drain: a drain is already running" : "DropTracer.drain: not started";
    deferred.Reject(Napi::Error::New(env, why).Value());
    return deferred.Promise();
  }
  busy_ = true;
  Ref();
  (new DrainWorker(this, deferred, skel_))->Queue();
  return deferred.Promise();
}

void DropTracer::Stop(const Napi::CallbackInfo &) {
  if (busy_) {
    // A worker still reads the maps: detach now, free when it ends.
    stop_requested_ = true;
    Detach();
    return;
  }
  Close();
}

void DropTracer::StartPolling(Napi::Env env) {
  ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.samples), OnSample, this, nullptr);
  if (!ring_) return;  // samples are an extra: the counters still work without them
  uv_loop_t *loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  poll_->data = this;
  uv_poll_init(loop, poll_, ring_buffer__epoll_fd(ring_));
  uv_poll_start(poll_, UV_READABLE, OnReadable);
}

void DropTracer::OnReadable(uv_poll_t *handle, int status, int) {
  auto *self = static_cast<DropTracer *>(handle->data);
  if (status < 0 || !self->ring_) return;
  ring_buffer__consume(self->ring_);
  self->Deliver();
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

// Stops the ring-buffer poll and detaches every program; maps stay readable for a running worker.
void DropTracer::Detach() {
  if (poll_) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t *>(poll_), [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
    poll_ = nullptr;
  }
  if (ring_) {
    ring_buffer__free(ring_);
    ring_ = nullptr;
  }
  if (skel_) drops_bpf__detach(skel_);
  pending_.clear();
}

void DropTracer::Close() {
  Detach();
  if (skel_) {
    drops_bpf__destroy(skel_);
    skel_ = nullptr;
  }
  stop_requested_ = false;
  on_samples_.Reset();
}

}  // namespace flapwatch
