// Work in another network namespace from a pool thread, always returning it to its own.
#pragma once
#include <string>

#include "errors.h"

namespace flapwatch {

// Moves the calling thread into the netns at `path` ('' = stay) and always back: a pool thread left in
// another netns would put every later socket made on it there. A socket stays in the netns it was made in,
// so a scope around its creation is enough. `failure` is set when the netns cannot be entered.
class NetnsScope {
 public:
  NetnsScope(const std::string &path, Failure &failure);
  ~NetnsScope();
  NetnsScope(const NetnsScope &) = delete;
  NetnsScope &operator=(const NetnsScope &) = delete;

 private:
  int self_ = -1;
  bool entered_ = false;
};

}  // namespace flapwatch
