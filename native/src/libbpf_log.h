// libbpf prints through one process-wide callback; we collect its lines per calling thread so that a
// worker's open/load messages travel back to the application's logger instead of stderr.
#pragma once
#include <string>
#include <vector>

namespace flapwatch {

class LibbpfLogCapture {
 public:
  explicit LibbpfLogCapture(std::vector<std::string> *sink);
  ~LibbpfLogCapture();
  LibbpfLogCapture(const LibbpfLogCapture &) = delete;
  LibbpfLogCapture &operator=(const LibbpfLogCapture &) = delete;
};

// Installs the callback once; lines from threads without a capture are dropped.
void InstallLibbpfPrint();

}  // namespace flapwatch
