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

// {name: value} for `count` counters, named in order by `names` (a BPF object's stats list).
Napi::Object Counters(Napi::Env env, const char *const *names, const __u64 *values, size_t count);

}  // namespace flapwatch
