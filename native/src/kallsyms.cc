#include "kallsyms.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "promise_worker.h"

namespace flapwatch {
namespace {

constexpr uint64_t kMaxOffset = 1 << 20;  // no kernel function is a megabyte long

// Only the function's name: where in it the skb was freed tells a user nothing the name does not.
class ResolveWorker : public PromiseWorker {
 public:
  ResolveWorker(Napi::Env env, std::string path, std::vector<uint64_t> addrs)
      : PromiseWorker(env, "flapwatch:kallsyms"), path_(std::move(path)), addrs_(std::move(addrs)),
        best_(addrs_.size(), 0), names_(addrs_.size()) {}

 private:
  // The file is not sorted (modules follow the core kernel): keep, per address, the highest symbol at or below it.
  bool Run(Failure &failure) override {
    FILE *f = fopen(path_.c_str(), "re");
    if (!f) {
      failure = {"fopen", errno, "reading " + path_};
      return false;
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
    return true;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, addrs_.size());
    for (size_t i = 0; i < addrs_.size(); i++) {
      // kptr_restrict hides addresses (all zero), nothing is below it, or it lies far past the symbol's end
      bool known = !names_[i].empty() && addrs_[i] - best_[i] <= kMaxOffset;
      out.Set(i, known ? Napi::Value(Napi::String::New(env, names_[i])) : env.Null());
    }
    return out;
  }

  std::string path_;
  std::vector<uint64_t> addrs_, best_;
  std::vector<std::string> names_;
};

}  // namespace

Napi::Value ResolveKernelAddresses(const Napi::CallbackInfo &info) {
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<uint64_t> addrs(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) {
    bool lossless;
    addrs[i] = list.Get(i).As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return (new ResolveWorker(info.Env(), info[0].As<Napi::String>(), std::move(addrs)))->Start();
}

}  // namespace flapwatch
