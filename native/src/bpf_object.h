// What every BPF object's start shares, on the start worker's thread: the BTF CO-RE relocates against, checked
// before libbpf is asked; libbpf's messages captured for the application's logger; the memory the BTF parse
// took given back.
#pragma once
#include <bpf/btf.h>
#include <malloc.h>
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "errors.h"
#include "libbpf_log.h"

namespace flapwatch {

// The BTF to use: `custom`, or the running kernel's when empty.
const char *BtfPath(const std::string &custom);

// False, with `failure` saying why, when the BTF at BtfPath(custom) cannot be read.
bool BtfReadable(const std::string &custom, Failure &failure);

using BtfPtr = std::unique_ptr<struct btf, void (*)(struct btf *)>;

// The BTF at BtfPath(custom), parsed for a start that picks programs by what the kernel has; nullptr, with
// `failure` saying why, when it cannot be read.
BtfPtr ParseBtf(const std::string &custom, Failure &failure);

// A failed start's error, with libbpf's messages as `log`.
Napi::Error ErrorWithLog(Napi::Env env, const Failure &failure, const std::vector<std::string> &log);

// Runs `load()` with libbpf's messages going to `log`, then trims the heap: the kernel's BTF was parsed on this
// thread, and glibc keeps freed arenas unless asked.
template <typename Load>
bool WithLibbpfLog(std::vector<std::string> &log, Load load) {
  bool ok;
  {
    LibbpfLogCapture capture(&log);
    ok = load();
  }
  malloc_trim(0);
  return ok;
}

}  // namespace flapwatch
