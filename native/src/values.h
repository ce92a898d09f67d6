// Plain data → JS values, shared by the addon's classes.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace flapwatch {

// A 16-byte address of family FW_AF_INET or FW_AF_INET6 (IPv4 in the first 4 bytes), as text.
std::string AddressText(uint8_t family, const uint8_t *addr);

Napi::Array Strings(Napi::Env env, const std::vector<std::string> &v);

}  // namespace flapwatch
