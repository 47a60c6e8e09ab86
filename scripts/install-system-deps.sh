#!/usr/bin/env bash
# Installs the Debian packages tsxdp and its tests use, when missing (run as root).
#   libllvm14  the compiler's backend (any libLLVM >= 14 with the BPF target works)
#   libllvm19, clang-19  BPF ISA v4 (--mcpu v4, signed division) needs LLVM >= 18; the tests build with 14 and 19
#   libbpf1    the loader
#   bpftool, clang-14, libbpf-dev, linux-libc-dev, iproute2, libxdp1: the tests' independent references and tools
#   iputils-ping, util-linux (setpriv, unshare): attach tests (ICMP echo through XDP, unprivileged runs, private mount namespaces)
set -euo pipefail
packages=(libllvm14 libllvm19 clang-19 libbpf1 bpftool clang-14 libbpf-dev linux-libc-dev iproute2 iputils-ping util-linux libxdp1)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
