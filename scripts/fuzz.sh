#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for
# SECONDS (default 30), starting from tests/fuzz/corpus/TARGET. New inputs go
# to build-fuzz/corpus/TARGET (the seed corpus in the repository is not
# modified); a crash leaves its input in build-fuzz/crashes/TARGET and makes
# this script fail. Add such an input to tests/fuzz/regressions/TARGET/ once
# fixed: the normal test suite replays it.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
bash scripts/install-deps.sh

CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DPCIPASS_FUZZ=ON -DPCIPASS_BUILD_TESTS=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPCIPASS_SIMHOST_DIR="$PWD/build-fuzz/simhosts" >/dev/null
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(pci_address lspci nodedev_xml sanitize domain_xml nodes_yaml dot_config kconfig_quote kconfig_writer identity usage_report)
fi
ninja -C build-fuzz "${targets[@]/#/fuzz_}" >/dev/null

status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/crashes/$t"
  echo "== fuzz_$t for ${seconds}s"
  if ! "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="build-fuzz/crashes/$t/" \
      "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" > "build-fuzz/fuzz_$t.log" 2>&1; then
    echo "fuzz_$t: FAILED (input in build-fuzz/crashes/$t/, log build-fuzz/fuzz_$t.log)" >&2
    tail -30 "build-fuzz/fuzz_$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "build-fuzz/fuzz_$t.log" | tr '\n' ' '
    echo
  fi
done
exit $status
