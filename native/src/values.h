// Plain data → JS values, shared by the addon's classes.
#pragma once
#include <linux/types.h>
#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace flapwatch {

// A 16-byte address of family FW_AF_INET or FW_AF_INET6 (IPv4 in the first 4 bytes), as text.
std::string AddressText(uint8_t family, const uint8_t *addr);

Napi::Array Strings(Napi::Env env, const std::vector<std::string> &v);

// Sets each {name, value} on `o` as a Number.
void SetNumbers(Napi::Env env, Napi::Object o, std::initializer_list<std::pair<const char *, double>> fields);

// `count` numbers as an array (a histogram's buckets).
Napi::Array Numbers(Napi::Env env, const __u64 *values, size_t count);

// One object per entry of a drained map, made by fill(object, key, value).
template <typename K, typename V, typename Fill>
Napi::Array Objects(Napi::Env env, const std::vector<std::pair<K, V>> &entries, Fill fill) {
  Napi::Array a = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    fill(o, entries[i].first, entries[i].second);
    a.Set(i, o);
  }
  return a;
}

// {name: value} for `count` counters, named in order by `names` (a BPF object's stats list).
Napi::Object Counters(Napi::Env env, const char *const *names, const __u64 *values, size_t count);

}  // namespace flapwatch
