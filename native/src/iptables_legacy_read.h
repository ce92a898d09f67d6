// iptables-legacy's tables as the kernel hands them over (IPT_SO_GET_INFO, then IPT_SO_GET_ENTRIES), one
// table at a time, from a raw socket made in the netns asked for.
#pragma once
// glibc's headers before the kernel's: linux/libc-compat.h then leaves out what netinet/in.h defined
#include <netinet/in.h>
#include <sys/mman.h>

#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <new>
#include <string>
#include <vector>

#include "errors.h"

namespace flapwatch {

// The address families' kernel interfaces.
struct Ipv4Tables {
  using Entry = ipt_entry;
  using Info = ipt_getinfo;
  using Entries = ipt_get_entries;
  static constexpr int kDomain = AF_INET;
  static constexpr int kLevel = IPPROTO_IP;
  static constexpr int kGetInfo = IPT_SO_GET_INFO;
  static constexpr int kGetEntries = IPT_SO_GET_ENTRIES;
  static constexpr const char *kNames = "/proc/thread-self/net/ip_tables_names";
  static constexpr const char *kTool = "iptables-legacy";
};

struct Ipv6Tables {
  using Entry = ip6t_entry;
  using Info = ip6t_getinfo;
  using Entries = ip6t_get_entries;
  static constexpr int kDomain = AF_INET6;
  static constexpr int kLevel = IPPROTO_IPV6;
  static constexpr int kGetInfo = IP6T_SO_GET_INFO;
  static constexpr int kGetEntries = IP6T_SO_GET_ENTRIES;
  static constexpr const char *kNames = "/proc/thread-self/net/ip6_tables_names";
  static constexpr const char *kTool = "ip6tables-legacy";
};

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

// One table read whole: its info (hooks, size) and the entries blob; the buffer is reused table after table.
template <typename F>
struct TableRead {
  typename F::Info info;
  std::vector<char, Mapped<char>> blob;

  const typename F::Entries &entries() const { return *reinterpret_cast<const typename F::Entries *>(blob.data()); }
};

template <typename F>
class LegacyTables {
 public:
  LegacyTables() = default;
  ~LegacyTables();
  LegacyTables(const LegacyTables &) = delete;
  LegacyTables &operator=(const LegacyTables &) = delete;

  // Makes the socket in the netns at `netns_path` ('' = ours); an empty `tables` is filled with every table
  // that netns has (none when the module is not loaded). False with `failure` set if the kernel refused.
  bool Open(const std::string &netns_path, std::vector<std::string> &tables, Failure &failure);
  // Reads one table, again if it changed between the two calls. False with `failure` set.
  bool Read(const std::string &table, TableRead<F> &out, Failure &failure);

 private:
  int fd_ = -1;
};

}  // namespace flapwatch
