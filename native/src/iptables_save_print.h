// One legacy table, as the kernel handed it over, printed as `iptables-save -c` prints it: the options the
// rules parser (src/kubeproxy/dumps.ts) reads; other extensions by name only.
#pragma once
#include <cstddef>
#include <string>

#include "iptables_legacy_read.h"

namespace flapwatch {

// Where printed text goes: whole lines are appended to `text`, and handed to `flush` whenever `chunk` bytes or
// more have gathered at a line's end (the check is inline: a large table prints half a million fields).
struct TextSink {
  std::string text;
  size_t chunk;
  void (*flush)(void *ctx, const char *data, size_t size);
  void *ctx;

  void LineDone() {
    if (text.size() >= chunk) Flush();
  }
  void Flush() {
    if (text.empty()) return;
    flush(ctx, text.data(), text.size());
    text.clear();
  }
};

// `*name`, the chains with their policies and counters, the rules, `COMMIT`.
template <typename F>
void PrintTable(const std::string &name, const TableRead<F> &table, TextSink &sink);

}  // namespace flapwatch
