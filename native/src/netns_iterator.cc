#include "netns_iterator.h"

#include <bpf/bpf.h>
#include <linux/types.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "skeleton.h"
#include "task_netns.h"
#include "task_netns.skel.h"

namespace flapwatch {
namespace {

class NetnsIterator;

// No detach: the iterator runs only when read, and a read in flight still needs its link.
const auto kSkeleton = FW_SKELETON(task_netns_bpf, nullptr, "the task iterator", "CAP_BPF, CAP_PERFMON and BPF iterators (5.8+)");

// One walk of the tasks: a new iterator instance, read to its end. The kernel walks the PID namespace of the
// thread that creates the instance: this pool thread, which is in the process's.
class ReadWorker : public SkeletonWorker<NetnsIterator, task_netns_bpf> {
 public:
  using SkeletonWorker::SkeletonWorker;

 private:
  bool Run(Failure &failure) override {
    int fd = bpf_iter_create(bpf_link__fd(skel_->links.task_netns));
    if (fd < 0) {
      failure = {"bpf_iter_create", errno, "walking the tasks"};
      return false;
    }
    std::vector<fw_task_netns> buf(1024);
    for (;;) {
      ssize_t n = read(fd, buf.data(), buf.size() * sizeof(fw_task_netns));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        failure = {"read", errno, "reading the task iterator"};
        close(fd);
        return false;
      }
      if (n == 0) break;
      for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(fw_task_netns); i++) netns_.push_back(buf[i].netns);
    }
    close(fd);
    std::sort(netns_.begin(), netns_.end());
    netns_.erase(std::unique(netns_.begin(), netns_.end()), netns_.end());
    return true;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, netns_.size());
    for (size_t i = 0; i < netns_.size(); i++) out.Set(i, Napi::Number::New(env, netns_[i]));
    return out;
  }

  std::vector<__u32> netns_;
};

class NetnsIterator : public SkeletonWrap<NetnsIterator, task_netns_bpf> {
 public:
  explicit NetnsIterator(const Napi::CallbackInfo &info) : SkeletonWrap(info, kSkeleton, "NetnsIterator") {}

  Napi::Value Start(const Napi::CallbackInfo &info) { return StartWith(info, nullptr); }

  Napi::Value Read(const Napi::CallbackInfo &info) { return Use<ReadWorker>(info, "read", false); }
};

}  // namespace

Napi::Function DefineNetnsIterator(Napi::Env env) { return NetnsIterator::DefineWith(env, "NetnsIterator", "read"); }

}  // namespace flapwatch
