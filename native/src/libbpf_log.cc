#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>

namespace flapwatch {
namespace {

thread_local std::vector<std::string> *current_sink = nullptr;

int Print(enum libbpf_print_level level, const char *format, va_list args) {
  if (!current_sink || level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), format, args);
  std::string text(line, n < 0 ? 0 : std::min<size_t>(n, sizeof(line) - 1));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && current_sink->size() < 200) current_sink->push_back(std::move(text));
  return n;
}

}  // namespace

LibbpfLogCapture::LibbpfLogCapture(std::vector<std::string> *sink) { current_sink = sink; }
LibbpfLogCapture::~LibbpfLogCapture() { current_sink = nullptr; }

void InstallLibbpfPrint() { libbpf_set_print(Print); }

}  // namespace flapwatch
