// Small conversions the tracers share when they hand kernel records to JavaScript.
#pragma once
#include <arpa/inet.h>
#include <napi.h>

#include <string>
#include <vector>

#include "family.h"

namespace flapwatch {

// A 16-byte address as the BPF programs store it (IPv4 in the first 4), printed.
inline std::string Address(uint8_t family, const uint8_t *addr) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(family == FW_AF_INET6 ? AF_INET6 : AF_INET, addr, text, sizeof(text));
  return text;
}

inline Napi::Array Strings(Napi::Env env, const std::vector<std::string> &v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(i, Napi::String::New(env, v[i]));
  return a;
}

}  // namespace flapwatch
