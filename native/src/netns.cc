#include "netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace flapwatch {

NetnsScope::NetnsScope(const std::string &path, Failure &failure) {
  if (path.empty()) return;
  self_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self_ < 0) {
    failure = {"open", errno, "/proc/thread-self/ns/net"};
    return;
  }
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    failure = {"open", errno, "no network namespace at " + path};
    return;
  }
  if (setns(target, CLONE_NEWNET) == 0) {
    entered_ = true;
  } else {
    int err = errno;
    failure = {"setns", err,
               err == EINVAL  ? path + " is not a network namespace"
               : err == EPERM ? "entering " + path + " needs CAP_SYS_ADMIN"
                              : "entering " + path};
  }
  close(target);
}

NetnsScope::~NetnsScope() {
  if (entered_ && setns(self_, CLONE_NEWNET) != 0) {
    // Cannot fail with the rights that let us in; going on would run later work in the wrong netns.
    std::fprintf(stderr, "flapwatch: cannot return a thread to its own netns: %s\n", std::strerror(errno));
    std::abort();
  }
  if (self_ >= 0) close(self_);
}

}  // namespace flapwatch
