#!/usr/bin/env bash
# npm run test:asan: the addon built with AddressSanitizer and LeakSanitizer into build-asan/ (the normal
# build/ is left alone), then test/asan/stress.ts run under it: starts and stops of the drop tracer while drops
# stream in and of the connection tracker while connects do, task iterator reads, conntrack dumps and watches,
# legacy iptables reads, a few hundred rounds. Any ASan error or leak
# fails it. Needs root and the kernel features the kernel tests need; run it under the lab lock.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build-asan
rounds=${FLAPWATCH_ASAN_ROUNDS:-200}

# node-gyp builds into ./build beside binding.gyp: give it a directory of its own that sees the same sources
mkdir -p "$out"
ln -sfn "$root/native" "$out/native"
san="-fsanitize=address -fno-omit-frame-pointer -fno-common -g -O1"
(
  cd "$out"
  export CFLAGS=$san CXXFLAGS=$san LDFLAGS=-fsanitize=address
  gyp=$root/node_modules/.bin/node-gyp
  # configured again only when binding.gyp changed; make rebuilds what changed since the last run
  if ! cmp -s "$root/binding.gyp" binding.gyp || [[ ! -f build/Makefile ]]; then
    cp "$root/binding.gyp" binding.gyp
    "$gyp" configure --silent
  fi
  "$gyp" build --silent >/dev/null
)
addon=$out/build/Release/flapwatch.node
[[ -f $addon ]] || { echo "test:asan: $addon was not built" >&2; exit 1; }
[[ -f dist/test/asan/stress.js ]] || npm run --silent build:ts

# node is not built with ASan: its runtime must be loaded first, before node's own allocations
libasan=$(gcc -print-file-name=libasan.so)
[[ -f $libasan ]] || { echo "test:asan: no libasan (install libasan8, scripts/setup.sh does)" >&2; exit 1; }
export LD_PRELOAD=$libasan
# leaks are only looked for at exit; halt_on_error: the first error fails the run with its stack
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=66:detect_stack_use_after_return=0
export LSAN_OPTIONS=suppressions=$root/test/asan/lsan.supp:print_suppressions=1:exitcode=67
node --expose-gc dist/test/asan/stress.js "$addon" "$rounds"
