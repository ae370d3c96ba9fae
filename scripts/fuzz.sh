#!/usr/bin/env bash
# fuzz.sh [EXECS]: fuzzes every FuzzXxx target under internal/ with EXECS inputs each (default
# 20000), as ./test.sh's last phase. Each package's instrumented test binary is built once
# (go test -c -fuzz) and run once per target, from the package's directory (where the seed corpus
# testdata/fuzz/FuzzXxx is, and where a crasher is written), with go test's own fuzz cache
# directory. Building per target instead (go test -fuzz for each) loaded, linked and started the
# package again for every target: a fixed second or more each, for 51 targets.
#
# fuzz.sh --build DIR: only builds those binaries into DIR. With MINT_FUZZ_BIN_DIR=DIR,
# fuzz.sh [EXECS] then runs the binaries found there (building any that is missing). ./test.sh
# runs it this way, at the lowest priority, while the tests run: building instruments every
# package each test binary imports (the standard library included) and, from a cold build cache,
# costs more CPU than fuzzing them; the end-to-end tests leave a core idle much of their time,
# mostly waiting on processes, and their CPU comes first (nice, and the autogroup's nice).
#
# Fuzzing is bounded by a count of inputs, not by time: Go 1.26's fuzz coordinator can report
# "context deadline exceeded" as a failure when a -fuzztime duration runs out while a worker is
# mid-input (golang/go#75804, fixed in Go 1.27), which failed CI once with no crasher. A count has
# no deadline to race.
set -euo pipefail
cd "$(dirname "$0")/.."

packages() { grep -rl --include='*_test.go' '^func Fuzz' internal | xargs -n1 dirname | sort -u; }
binary() { echo "$1/$(echo "$2" | tr / _).test"; }

# build DIR PKG: the package's instrumented test binary, in DIR.
build() {
	local log
	log=$(mktemp)
	go test -c -fuzz=. -o "$(binary "$1" "$2")" "./$2" >"$log" 2>&1 || { cat "$log"; rm -f "$log"; return 1; }
	rm -f "$log"
}

if [[ ${1:-} == --build ]]; then
	dir=${2:?usage: fuzz.sh --build DIR}
	mkdir -p "$dir"
	for pkg in $(packages); do build "$dir" "$pkg"; done
	echo "fuzz.sh: the fuzz binaries were built in ${SECONDS} s"
	exit 0
fi

execs=${1:-20000}

# Inputs per second differ 40x between targets; these run a fraction of the default so that
# each target takes seconds, not minutes, on a 2-core machine.
inputs_for() {
	case "$1" in
	FuzzComputeAndIdentityBodies) echo $((execs / 10 + 1)) ;; # a full ARM request with SQLite writes
	*) echo "$execs" ;;
	esac
}

bins=${MINT_FUZZ_BIN_DIR:-}
[[ -n $bins ]] || bins=$(mktemp -d)
cache=$(go env GOCACHE)/fuzz
module=$(go list -m)
log=$(mktemp)
trap 'rm -f "$log"; [[ -n ${MINT_FUZZ_BIN_DIR:-} ]] || rm -rf "$bins"' EXIT
fuzzed=0
for pkg in $(packages); do
	bin=$(binary "$bins" "$pkg")
	[[ -x $bin ]] || build "$bins" "$pkg"
	for target in $(grep -h '^func Fuzz' "$pkg"/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
		n=$(inputs_for "$target")
		echo "-- $pkg $target ($n inputs)"
		(cd "$pkg" && "$bin" -test.run='^$' -test.fuzz="^${target}\$" -test.fuzztime="${n}x" \
			-test.fuzzcachedir="$cache/$module/$pkg" -test.timeout=10m) >"$log" 2>&1 || { cat "$log"; exit 1; }
		fuzzed=$((fuzzed + 1))
	done
done
echo "fuzz.sh: $fuzzed targets fuzzed (and their binaries built where missing) in ${SECONDS} s"
