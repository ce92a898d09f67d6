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

void SetNumbers(Napi::Env env, Napi::Object o, std::initializer_list<std::pair<const char *, double>> fields) {
  for (const auto &[name, value] : fields) o.Set(name, Napi::Number::New(env, value));
}

Napi::Array Numbers(Napi::Env env, const __u64 *values, size_t count) {
  Napi::Array a = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; i++) a.Set(i, Napi::Number::New(env, values[i]));
  return a;
}

Napi::Object Counters(Napi::Env env, const char *const *names, const __u64 *values, size_t count) {
  Napi::Object o = Napi::Object::New(env);
  for (size_t i = 0; i < count; i++) o.Set(names[i], Napi::Number::New(env, values[i]));
  return o;
}

}  // namespace flapwatch
