#!/usr/bin/env bash
# fuzz.sh [EXECS]: fuzzes every FuzzXxx target under internal/ with EXECS inputs each (default
# 20000), as ./test.sh's last phase. Each package's instrumented test binary is built once
# (go test -c -fuzz) and run once per target, from the package's directory (where the seed corpus
# testdata/fuzz/FuzzXxx is, and where a crasher is written), with go test's own fuzz cache
# directory. Building per target instead (go test -fuzz for each) loaded, linked and started the
# package again for every target: a fixed second or more each, for 51 targets.
#
# Fuzzing is bounded by a count of inputs, not by time: Go 1.26's fuzz coordinator can report
# "context deadline exceeded" as a failure when a -fuzztime duration runs out while a worker is
# mid-input (golang/go#75804, fixed in Go 1.27), which failed CI once with no crasher. A count has
# no deadline to race.
set -euo pipefail
cd "$(dirname "$0")/.."
execs=${1:-20000}

# Inputs per second differ 40x between targets; these run a fraction of the default so that
# each target takes seconds, not minutes, on a 2-core machine.
inputs_for() {
	case "$1" in
	FuzzComputeAndIdentityBodies) echo $((execs / 10 + 1)) ;; # a full ARM request with SQLite writes
	*) echo "$execs" ;;
	esac
}

bins=$(mktemp -d)
trap 'rm -rf "$bins"' EXIT
cache=$(go env GOCACHE)/fuzz
module=$(go list -m)
log="$bins/fuzz.log"
for pkg in $(grep -rl --include='*_test.go' '^func Fuzz' internal | xargs -n1 dirname | sort -u); do
	bin="$bins/$(echo "$pkg" | tr / _).test"
	go test -c -fuzz=. -o "$bin" "./$pkg" >"$log" 2>&1 || { cat "$log"; exit 1; }
	for target in $(grep -h '^func Fuzz' "$pkg"/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
		n=$(inputs_for "$target")
		echo "-- $pkg $target ($n inputs)"
		(cd "$pkg" && "$bin" -test.run='^$' -test.fuzz="^${target}\$" -test.fuzztime="${n}x" \
			-test.fuzzcachedir="$cache/$module/$pkg" -test.timeout=10m) >"$log" 2>&1 || { cat "$log"; exit 1; }
	done
done
