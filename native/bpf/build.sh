#!/bin/sh
# Builds the BPF objects and their skeletons into $1 (gyp's shared intermediate dir).
# vmlinux.h comes from the build machine's BTF; CO-RE relocates it on the machine that runs it.
set -eu
out=$1
src=$(dirname "$0")
btf=${FLAPWATCH_BUILD_BTF:-/sys/kernel/btf/vmlinux}
mkdir -p "$out"
for tool in clang bpftool; do
  command -v $tool >/dev/null 2>&1 || { echo "flapwatch: '$tool' is needed to build the BPF programs (run scripts/setup.sh)" >&2; exit 1; }
done
[ -r "$btf" ] || { echo "flapwatch: no BTF at $btf to generate vmlinux.h (set FLAPWATCH_BUILD_BTF)" >&2; exit 1; }
bpftool btf dump file "$btf" format c > "$out/vmlinux.h.tmp" && mv "$out/vmlinux.h.tmp" "$out/vmlinux.h"
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
for prog in "$src"/*.bpf.c; do
  name=$(basename "$prog" .bpf.c)
  clang -g -O2 -Wall -target bpf -D__TARGET_ARCH_$arch -I"$out" -I"$src" -I/usr/include/$(uname -m)-linux-gnu \
    -c "$prog" -o "$out/$name.bpf.o"
  bpftool gen skeleton "$out/$name.bpf.o" name "${name}_bpf" > "$out/$name.skel.h"
done
