#include "kallsyms.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "errors.h"

namespace flapwatch {
namespace {

constexpr uint64_t kMaxOffset = 1 << 20;  // no kernel function is a megabyte long

class ResolveWorker : public Napi::AsyncWorker {
 public:
  ResolveWorker(Napi::Env env, std::string path, std::vector<uint64_t> addrs)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)),
        addrs_(std::move(addrs)), best_(addrs_.size(), 0), names_(addrs_.size()) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  // The file is not sorted (modules follow the core kernel): keep, per address, the highest symbol at or below it.
  void Execute() override {
    FILE *f = fopen(path_.c_str(), "re");
    if (!f) {
      failure_ = {"fopen", errno, "reading " + path_};
      return;
    }
    char line[512], type, name[256];
    uint64_t addr;
    while (fgets(line, sizeof(line), f)) {
      if (sscanf(line, "%" SCNx64 " %c %255s", &addr, &type, name) != 3 || addr == 0) continue;
      if (type != 't' && type != 'T' && type != 'w' && type != 'W') continue;  // a drop location is in code
      for (size_t i = 0; i < addrs_.size(); i++) {
        if (addr <= addrs_[i] && addr >= best_[i]) {
          best_[i] = addr;
          names_[i] = name;
        }
      }
    }
    fclose(f);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Array out = Napi::Array::New(env, addrs_.size());
    for (size_t i = 0; i < addrs_.size(); i++) {
      // kptr_restrict hides addresses (all zero), nothing is below it, or it lies far past the symbol's end
      if (names_[i].empty() || addrs_[i] - best_[i] > kMaxOffset) {
        out.Set(i, env.Null());
        continue;
      }
      char offset[32];
      snprintf(offset, sizeof(offset), "+0x%" PRIx64, addrs_[i] - best_[i]);
      out.Set(i, Napi::String::New(env, names_[i] + offset));
    }
    deferred_.Resolve(out);
  }

  void OnWorkComplete(Napi::Env env, napi_status status) override {
    if (!failure_.failed()) return Napi::AsyncWorker::OnWorkComplete(env, status);
    Napi::HandleScope scope(env);
    deferred_.Reject(MakeError(env, failure_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  std::vector<uint64_t> addrs_, best_;
  std::vector<std::string> names_;
  Failure failure_;
};

}  // namespace

Napi::Value ResolveKernelAddresses(const Napi::CallbackInfo &info) {
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<uint64_t> addrs(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) {
    bool lossless;
    addrs[i] = list.Get(i).As<Napi::BigInt>().Uint64Value(&lossless);
  }
  auto *worker = new ResolveWorker(info.Env(), info[0].As<Napi::String>(), std::move(addrs));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace flapwatch
