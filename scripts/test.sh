#!/usr/bin/env bash
# Sets everything up and runs every test: installs dependencies (apt, as
# root, idempotent), starts libvirtd when none runs, builds with warnings as
# errors, runs the whole suite through ctest, then again under
# AddressSanitizer and UndefinedBehaviorSanitizer, then the end-to-end tests
# in a QEMU guest on two Debian kernels (scripts/e2e.sh; reported SKIPPED
# where QEMU cannot run),
# and finally runs every libFuzzer target briefly (scripts/fuzz.sh).
#
#   scripts/test.sh                              # everything
#   PCIPASS_SKIP_SANITIZERS=1 scripts/test.sh    # no sanitizer build
#   PCIPASS_SKIP_E2E=1 scripts/test.sh           # no QEMU guest
#   PCIPASS_FUZZ_SECONDS=0 scripts/test.sh       # no fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
if ! bash scripts/start-libvirtd.sh; then
  echo "test: no libvirtd: the tests that need one report themselves skipped" >&2
fi

jobs=$(nproc)
# Each stage says what it took, so a slower suite shows where the time went.
stage_start=$SECONDS
stage() {
  if [[ -n ${stage_name:-} ]]; then
    echo "== $stage_name took $((SECONDS - stage_start)) s (total $SECONDS s)"
  fi
  stage_name=$1
  stage_start=$SECONDS
  [[ -n $1 ]] && echo "== $1"
  return 0
}
trap 'stage ""' EXIT

run_suite() {
  local dir=$1
  shift
  # Simulated hosts (one has ~130k files) go to a tmpfs when there is one.
  local hosts="$PWD/$dir/simhosts"
  if [[ -d /dev/shm && -w /dev/shm ]]; then
    hosts="/dev/shm/pcipass-simhosts-$(id -u)/$(echo "$PWD/$dir" | md5sum | cut -c1-12)"
  fi
  cmake -S . -B "$dir" -G Ninja -DPCIPASS_WERROR=ON -DPCIPASS_SIMHOST_DIR="$hosts" "$@" >/dev/null
  ninja -C "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
}

stage "normal build"
run_suite build
if [[ ${PCIPASS_SKIP_SANITIZERS:-0} != 1 ]]; then
  stage "AddressSanitizer + UndefinedBehaviorSanitizer build"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan -DPCIPASS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
fi
if [[ ${PCIPASS_SKIP_E2E:-0} != 1 ]]; then
  # Debian's default kernel (6.1 on Debian 12) and the newest the archive
  # offers (6.12), whose sysfs and VFIO are what newer hosts run.
  for kernel in default newest; do
    stage "end-to-end tests in a QEMU guest (scripts/e2e.sh build $kernel)"
    e2e_status=0
    bash scripts/e2e.sh build "$kernel" || e2e_status=$?
    if ((e2e_status == 77)); then
      echo "test: end-to-end tests on the $kernel kernel SKIPPED (not passed): see the reason above" >&2
    elif ((e2e_status != 0)); then
      exit "$e2e_status"
    fi
  done
fi
fuzz_seconds=${PCIPASS_FUZZ_SECONDS:-30}
if ((fuzz_seconds > 0)); then
  stage "fuzzing each parser for ${fuzz_seconds}s"
  bash scripts/fuzz.sh "$fuzz_seconds"
fi
