#include "iptables_legacy_read.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "netns.h"

namespace flapwatch {

template <typename F>
LegacyTables<F>::~LegacyTables() {
  if (fd_ >= 0) close(fd_);
}

template <typename F>
bool LegacyTables<F>::Open(const std::string &netns_path, std::vector<std::string> &tables, Failure &failure) {
  NetnsScope scope(netns_path, failure);
  if (failure.failed()) return false;
  fd_ = socket(F::kDomain, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd_ < 0) {
    int err = errno;
    failure = {"socket", err, err == EPERM ? std::string("reading ") + F::kTool + "'s tables needs CAP_NET_RAW" : "a raw socket"};
    return false;
  }
  // the netns's own list (no file: the module is not loaded, so there are no tables)
  if (tables.empty()) {
    std::ifstream names(F::kNames);
    for (std::string line; std::getline(names, line);) {
      if (!line.empty()) tables.push_back(line);
    }
  }
  return true;
}

template <typename F>
bool LegacyTables<F>::Read(const std::string &table, TableRead<F> &out, Failure &failure) {
  // EAGAIN: the table changed between the two calls (kube-proxy restored it); read it again
  for (int attempt = 0; attempt < 5; attempt++) {
    std::memset(&out.info, 0, sizeof(out.info));
    std::strncpy(out.info.name, table.c_str(), sizeof(out.info.name) - 1);
    socklen_t len = sizeof(out.info);
    if (getsockopt(fd_, F::kLevel, F::kGetInfo, &out.info, &len) < 0) {
      int err = errno;
      failure = {"getsockopt", err,
                 err == EPERM ? std::string("reading ") + F::kTool + "'s tables needs CAP_NET_ADMIN"
                 : err == ENOENT ? std::string(F::kTool) + " has no table " + table
                                 : std::string(F::kTool) + " table " + table};
      return false;
    }
    out.blob.assign(sizeof(typename F::Entries) + out.info.size, 0);
    auto *entries = reinterpret_cast<typename F::Entries *>(out.blob.data());
    std::strncpy(entries->name, table.c_str(), sizeof(entries->name) - 1);
    entries->size = out.info.size;
    len = out.blob.size();
    if (getsockopt(fd_, F::kLevel, F::kGetEntries, entries, &len) == 0) return true;
    if (errno != EAGAIN) {
      failure = {"getsockopt", errno, std::string(F::kTool) + " table " + table + ": its rules"};
      return false;
    }
  }
  failure = {"getsockopt", EAGAIN, std::string(F::kTool) + " table " + table + " changed during every read"};
  return false;
}

template class LegacyTables<Ipv4Tables>;
template class LegacyTables<Ipv6Tables>;

}  // namespace flapwatch
