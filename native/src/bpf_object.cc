#include "bpf_object.h"

#include <unistd.h>

#include <cerrno>

#include "values.h"

namespace flapwatch {

const char *BtfPath(const std::string &custom) { return custom.empty() ? "/sys/kernel/btf/vmlinux" : custom.c_str(); }

bool BtfReadable(const std::string &custom, Failure &failure) {
  const char *path = BtfPath(custom);
  if (access(path, R_OK) == 0) return true;
  failure = {"access", errno, std::string("no BTF at ") + path + ": the kernel needs CONFIG_DEBUG_INFO_BTF=y"};
  return false;
}

BtfPtr ParseBtf(const std::string &custom, Failure &failure) {
  if (!BtfReadable(custom, failure)) return BtfPtr(nullptr, btf__free);
  const char *path = BtfPath(custom);
  BtfPtr btf(btf__parse(path, nullptr), btf__free);
  if (!btf) failure = {"btf__parse", errno, std::string("reading BTF from ") + path};
  return btf;
}

Napi::Error ErrorWithLog(Napi::Env env, const Failure &failure, const std::vector<std::string> &log) {
  Napi::Error error = MakeError(env, failure);
  error.Set("log", Strings(env, log));
  return error;
}

}  // namespace flapwatch
