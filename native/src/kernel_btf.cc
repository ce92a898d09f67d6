#include "kernel_btf.h"

#include <unistd.h>

#include <cerrno>

namespace flapwatch {

const char *KernelBtfPath(const std::string &path) { return path.empty() ? "/sys/kernel/btf/vmlinux" : path.c_str(); }

BtfPtr ParseKernelBtf(const std::string &path, Failure &failure) {
  const char *file = KernelBtfPath(path);
  if (access(file, R_OK) != 0) {
    failure = {"access", errno, std::string("no BTF at ") + file + ": the kernel needs CONFIG_DEBUG_INFO_BTF=y"};
    return BtfPtr(nullptr, btf__free);
  }
  BtfPtr btf(btf__parse(file, nullptr), btf__free);
  if (!btf) failure = {"btf__parse", errno, std::string("reading BTF from ") + file};
  return btf;
}

}  // namespace flapwatch
