#include "iptables_legacy.h"

#include <string>
#include <vector>

#include "iptables_legacy_read.h"
#include "iptables_save_print.h"
#include "promise_worker.h"

namespace flapwatch {
namespace {

struct LegacySaveOptions {
  std::string netns_path;           // '' = the calling thread's own
  int family = 4;                   // 4: ip_tables, 6: ip6_tables
  std::vector<std::string> tables;  // empty: every table the netns has
};

// what one read of a child's pipe hands over; the parser takes slices of this size either way
constexpr size_t kChunk = 64 * 1024;

// The text goes to JS a slice at a time as it is printed, so that parsing it overlaps printing the rest.
class SaveWorker : public ProgressPromiseWorker<char> {
 public:
  SaveWorker(Napi::Env env, LegacySaveOptions options, Napi::Function on_text)
      : ProgressPromiseWorker<char>(env, "flapwatch:iptables"), on_text_(Napi::Persistent(on_text)),
        options_(std::move(options)) {}

 private:
  bool Run(Failure &failure, const Progress &progress) override {
    return options_.family == 6 ? Save<Ipv6Tables>(failure, progress) : Save<Ipv4Tables>(failure, progress);
  }

  // Every table read, then printed in iptables-save -c's format, the text handed over about 64 KiB at a
  // time (lines whole).
  template <typename F>
  bool Save(Failure &failure, const Progress &progress) {
    LegacyTables<F> kernel;
    std::vector<std::string> tables = options_.tables;
    if (!kernel.Open(options_.netns_path, tables, failure)) return false;
    auto send = [](void *ctx, const char *data, size_t size) { static_cast<const Progress *>(ctx)->Send(data, size); };
    TextSink sink{{}, kChunk, send, const_cast<Progress *>(&progress)};
    sink.text.reserve(2 * kChunk);
    TableRead<F> table;
    for (const std::string &name : tables) {
      if (!kernel.Read(name, table, failure)) return false;
      PrintTable(name, table, sink);
    }
    sink.Flush();
    return true;
  }

  void OnProgress(const char *data, size_t size) override { on_text_.Call({Napi::Buffer<char>::Copy(Env(), data, size)}); }
  // called once every slice is handed over
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

  Napi::FunctionReference on_text_;
  LegacySaveOptions options_;
};

}  // namespace

Napi::Value IptablesLegacySave(const Napi::CallbackInfo &info) {
  Napi::Object o = info[0].As<Napi::Object>();
  LegacySaveOptions options;
  options.netns_path = o.Get("netnsPath").As<Napi::String>();
  options.family = o.Get("family").As<Napi::Number>().Int32Value();
  Napi::Array tables = o.Get("tables").As<Napi::Array>();
  for (uint32_t i = 0; i < tables.Length(); i++) options.tables.push_back(tables.Get(i).As<Napi::String>());
  return (new SaveWorker(info.Env(), std::move(options), info[1].As<Napi::Function>()))->Start();
}

}  // namespace flapwatch
