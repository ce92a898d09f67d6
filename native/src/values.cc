#include "values.h"

#include <arpa/inet.h>
#include <linux/types.h>

#include "families.h"

namespace flapwatch {

std::string AddressText(uint8_t family, const uint8_t *addr) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(family == FW_AF_INET6 ? AF_INET6 : AF_INET, addr, text, sizeof(text));
  return text;
}

Napi::Array Strings(Napi::Env env, const std::vector<std::string> &v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(i, Napi::String::New(env, v[i]));
  return a;
}

}  // namespace flapwatch
