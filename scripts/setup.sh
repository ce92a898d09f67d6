#!/usr/bin/env bash
# Installs what flapwatch needs on a Debian 12 host (system packages, npm packages), then builds it.
# Idempotent and quick when everything is already there. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# command or file that proves the package is there → Debian package
declare -A need=(
  [clang]=clang [llvm-strip]=llvm [bpftool]=bpftool [pkg-config]=pkg-config
  [/usr/include/bpf/libbpf.h]=libbpf-dev [/usr/include/libelf.h]=libelf-dev [/usr/include/zlib.h]=zlib1g-dev
  [/usr/include/libmnl/libmnl.h]=libmnl-dev
  [iptables]=iptables [iptables-legacy]=iptables [nft]=nftables [conntrack]=conntrack [ip]=iproute2 [tc]=iproute2
  [bpftrace]=bpftrace [/usr/bin/time]=time [capsh]=libcap2-bin [make]=make [g++]=g++ [python3]=python3
  [openssl]=openssl [nfacct]=nfacct [/usr/lib/$(uname -m)-linux-gnu/libasan.so.8]=libasan8
  [promtool]=prometheus [prometheus]=prometheus [kubectl]=kubernetes-client
  [dnsmasq]=dnsmasq-base [dnsperf]=dnsperf [resperf]=dnsperf
  [buildah]=buildah [podman]=podman [skopeo]=skopeo [runc]=runc [mmdebstrap]=mmdebstrap
)
missing=()
for probe in "${!need[@]}"; do
  if [[ $probe == /* ]]; then [[ -e $probe ]] && continue; else command -v "$probe" >/dev/null 2>&1 && continue; fi
  missing+=("${need[$probe]}")
done
if ((${#missing[@]})); then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "flapwatch setup: cannot install system packages here (need root and apt-get). Install: $pkgs" >&2
    exit 1
  fi
  echo "flapwatch setup: installing $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi

if [[ ! -f /sys/kernel/btf/vmlinux ]]; then
  echo "flapwatch setup: /sys/kernel/btf/vmlinux is missing: the kernel needs CONFIG_DEBUG_INFO_BTF=y to build and run the drop tracer" >&2
  exit 1
fi

# npm ci only when the lock file changed since the last install
stamp=node_modules/.flapwatch-lock
if [[ ! -f $stamp ]] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
npm run --silent build
