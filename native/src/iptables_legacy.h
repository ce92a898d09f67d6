// iptables-legacy's tables read straight from the kernel (IPT_SO_GET_ENTRIES), printed as iptables-save -c
// prints them: what flapwatch needs of kube-proxy's rules, without a child that prints 9 MB to a pipe.
#pragma once
#include <napi.h>

#include <sys/mman.h>

#include <functional>
#include <new>
#include <string>
#include <vector>

#include "errors.h"

namespace flapwatch {

// Memory straight from mmap, returned by munmap: a 10,000-Service nat table is a 31 MB blob, and glibc keeps
// freed blocks that large in its heap (its mmap threshold rises with each one freed), so the daemon's RSS
// would stay that much higher after its first full read.
template <typename T>
struct Mapped {
  using value_type = T;
  Mapped() = default;
  template <typename U>
  Mapped(const Mapped<U> &) {}
  T *allocate(size_t n) {
    void *p = mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<T *>(p);
  }
  void deallocate(T *p, size_t n) { munmap(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const Mapped<U> &) const { return true; }
  template <typename U>
  bool operator!=(const Mapped<U> &) const { return false; }
};

// Text as it is printed, a slice of about 64 KiB at a time (lines whole).
using TextSink = std::function<void(const char *, size_t)>;

struct LegacySaveOptions {
  std::string netns_path;           // '' = the calling thread's own
  int family = 4;                   // 4: ip_tables, 6: ip6_tables
  std::vector<std::string> tables;  // empty: every table the netns has
};

// Prints the tables in iptables-save -c's format (the options the parser reads; others are left out,
// unknown extensions printed by name) to `emit`. False with `failure` set if the kernel refused.
bool LegacySave(const LegacySaveOptions &options, const TextSink &emit, Failure &failure);

// iptablesLegacySave(options: { netnsPath, family, tables }, onText: (slice: Buffer) => void): Promise<void>
Napi::Value IptablesLegacySave(const Napi::CallbackInfo &info);

}  // namespace flapwatch
