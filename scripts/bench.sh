#!/usr/bin/env bash
# One command for pcipass's benchmarks (issue 8; docs/benchmarks.md explains
# them): installs what is missing, builds a Release pcipass in build-bench/,
# generates the simulated hosts into /dev/shm, starts libvirtd if none runs,
# runs bench/run.py and writes docs/benchmarks.md.
#
#   scripts/bench.sh [--quick] [run.py options, e.g. --skip bringup]
#
# Environment: BENCH_RUNS (timed runs per measurement, default 7),
# BENCH_SLOW_RUNS (for baselines that start one virsh per device, default 1),
# BENCH_BUILD_DIR (default build-bench), BENCH_TREES (default
# /dev/shm/pcipass-bench), BENCH_DISK_TREES (a disk-backed folder for the
# server host a second time, default BUILD/trees). Against the real libvirtd it only reads node
# devices and defines throwaway domains (pcipass-bench-PID-N) that are never
# started and are always undefined; no device of this machine is touched.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD_DIR:-$repo/build-bench}
trees=${BENCH_TREES:-/dev/shm/pcipass-bench}
disk_trees=${BENCH_DISK_TREES:-$build/trees}
jobs=$(($(nproc) < 2 ? 1 : 2))

"$repo/scripts/install-deps.sh"

echo "bench: building pcipass (Release) in $build" >&2
# -O2: GCC 12's -O3 raises false -Wrestrict/-Warray-bounds errors in libstdc++.
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" -DPCIPASS_WERROR=ON -DPCIPASS_BUILD_BENCH=ON \
  -DPCIPASS_SIMHOST_DIR="$trees/tests" >/dev/null
ninja -C "$build" -j"$jobs" pcipass pcipass-simhost pcipass-bench-floor pcipass-bench-measure \
  pcipass-bench-binds >/dev/null

echo "bench: generating simulated hosts in $trees" >&2
mkdir -p "$trees/yaml"
simhost="$build/tools/simhost/pcipass-simhost"
generate() {  # NAME YAML-TEXT-COMMAND...
  local name=$1
  shift
  "$@" >"$trees/yaml/$name.yaml.new"
  # Regenerate only when the description changed (or the tree is missing).
  if [[ ! -f "$trees/$name/.pcipass-simhost" ]] ||
    ! cmp -s "$trees/yaml/$name.yaml.new" "$trees/yaml/$name.yaml"; then
    mv "$trees/yaml/$name.yaml.new" "$trees/yaml/$name.yaml"
    "$simhost" --force "$trees/yaml/$name.yaml" "$trees/$name" >/dev/null
  else
    rm "$trees/yaml/$name.yaml.new"
  fi
}
for pfs in 16 32; do
  generate "server-$pfs" python3 "$repo/tools/simhost/make-server-yaml.py" --pfs "$pfs"
done
generate server cat "$repo/tests/data/hosts/server.yaml"
for n in 256 512 1024; do
  generate "lab-$n" python3 "$repo/bench/make-lab-yaml.py" "$n"
done
generate lab-66-nvme python3 "$repo/bench/make-lab-yaml.py" 66 --driver nvme
# The full server again, in a disk-backed folder: section 1 runs on both.
if [[ ! -f "$disk_trees/server/.pcipass-simhost" ]] ||
  ! cmp -s "$trees/yaml/server.yaml" "$disk_trees/server.yaml"; then
  mkdir -p "$disk_trees"
  "$simhost" --force "$trees/yaml/server.yaml" "$disk_trees/server" >/dev/null
  cp "$trees/yaml/server.yaml" "$disk_trees/server.yaml"
fi

"$repo/scripts/start-libvirtd.sh"

exec /usr/bin/python3 "$repo/bench/run.py" --build "$build" --trees "$trees" \
  --disk-trees "$disk_trees" \
  --source "$repo" --profile "$repo/bench/profile.md" --out "$repo/docs/benchmarks.md" "$@"
