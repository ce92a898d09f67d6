// The kernel's BTF, parsed once by a tracer's start worker to decide which programs this kernel can take.
#pragma once
#include <bpf/btf.h>

#include <memory>
#include <string>

#include "errors.h"

namespace flapwatch {

using BtfPtr = std::unique_ptr<struct btf, void (*)(struct btf *)>;

// `path`, or the running kernel's (/sys/kernel/btf/vmlinux) when it is empty.
const char *KernelBtfPath(const std::string &path);

// nullptr, with `failure` set, when there is no BTF to read.
BtfPtr ParseKernelBtf(const std::string &path, Failure &failure);

}  // namespace flapwatch
