#include "btf_enum.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>

#include "errors.h"

namespace flapwatch {

Napi::Value BtfEnum(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  std::string name = info[1].As<Napi::String>();

  struct btf *btf = path.empty() ? btf__load_vmlinux_btf() : btf__parse(path.c_str(), nullptr);
  if (!btf) {
    throw MakeError(env, {"btf__parse", errno, "reading BTF from " + (path.empty() ? "the running kernel" : path)});
  }
  Napi::Object names = Napi::Object::New(env);
  __s32 id = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_ENUM);
  if (id > 0) {
    const struct btf_type *t = btf__type_by_id(btf, id);
    const struct btf_enum *e = btf_enum(t);
    for (__u16 i = 0; i < btf_vlen(t); i++, e++) {
      names.Set(Napi::Number::New(env, btf_kflag(t) ? (double)(__u32)e->val : (double)e->val),
                Napi::String::New(env, btf__name_by_offset(btf, e->name_off)));
    }
  }
  btf__free(btf);
  return names;
}

}  // namespace flapwatch
