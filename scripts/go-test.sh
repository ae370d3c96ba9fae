#!/usr/bin/env bash
# go-test.sh: every Go test of the module, as ./test.sh runs them (under scripts/with-postgres.sh).
#
# The end-to-end tests (test/e2e) are most of the time, and most of theirs is waiting: processes
# starting, the Azure CLI's Python, Chromium, npm, timers. They run as MINT_E2E_SHARDS (default 2)
# go test processes at once, each with a share of the tests, beside the other packages. Tests do
# not share state across processes (only read-only npm installs): each starts its own mint on
# ports of its own (port 0), in its own directories, on its own PostgreSQL database. The tests that run the docs' shell blocks
# (the README, the operations guide) use mint's default ports, so they all go to the first shard,
# which runs its tests one after another.
set -euo pipefail
cd "$(dirname "$0")/.."
shards=${MINT_E2E_SHARDS:-2}
timeout=${MINT_E2E_TIMEOUT:-40m}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

docs='^(TestReadmeQuickstart|TestReadmeStorage|TestOperationsWalkthrough|TestTroubleshootingErrorsAreCurrent)$'
mapfile -t tests < <(grep -ho '^func Test[A-Za-z0-9_]*(t \*testing.T)' test/e2e/*_test.go | sed 's/^func \(Test[A-Za-z0-9_]*\).*/\1/' | sort -u)
# Shards are dealt by each test's last measured time (scripts/e2e-times.txt), longest first, each
# to the shard with the least time so far, so that they end together: dealt in turn by name,
# one shard ran 755 s and the other 654 s.
declare -A secs
while read -r name s; do
	[[ $name == \#* || -z $name ]] || secs[$name]=$s
done <scripts/e2e-times.txt
declare -a shard load
for ((i = 0; i < shards; i++)); do shard[i]="" load[i]=0; done
mapfile -t tests < <(for t in "${tests[@]}"; do
	if [[ $t =~ $docs ]]; then d=1; else d=0; fi
	echo "$d ${secs[$t]:-20} $t"
done | sort -k1,1nr -k2,2nr -k3 | cut -d' ' -f3)
for t in "${tests[@]}"; do
	i=0
	if ! [[ $t =~ $docs ]]; then
		for ((j = 1; j < shards; j++)); do ((load[j] < load[i])) && i=$j; done
	fi
	shard[i]+="${shard[i]:+|}$t"
	load[i]=$((load[i] + ${secs[$t]:-20}))
done
for ((i = 0; i < shards; i++)); do echo "go-test: e2e shard $((i + 1))/$shards: about ${load[i]} s of tests" >&2; done

pids=()
go test -count=1 -timeout "$timeout" $(go list ./... | grep -v '/test/e2e$') >"$logs/packages.log" 2>&1 &
pids+=($!)
# The shards share what they only read once made: npm ci of each locked npm project under
# test/e2e runs once for all of them, and their TestMains build mint and the test programs one
# at a time, the second from the build cache the first filled (the e2e harness locks and marks
# these in MINT_E2E_SHARED_DIR).
mkdir "$logs/shared"
export MINT_E2E_SHARED_DIR="$logs/shared"
for ((i = 0; i < shards; i++)); do
	go test -count=1 -timeout "$timeout" -v -run "^(${shard[i]})\$" ./test/e2e >"$logs/e2e-$i.log" 2>&1 &
	pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done

cat "$logs/packages.log"
for ((i = 0; i < shards; i++)); do
	if grep -q -- '^--- FAIL\|^FAIL\|^panic:' "$logs/e2e-$i.log"; then
		echo "== test/e2e shard $((i + 1))/$shards failed; its whole output:"
		cat "$logs/e2e-$i.log"
	else
		echo "== test/e2e shard $((i + 1))/$shards: top-level tests and their times"
		grep -E '^(--- (PASS|SKIP)|ok|PASS$)' "$logs/e2e-$i.log" || true
	fi
done
[[ $status == 0 ]] || echo "go-test: some tests failed (output above)" >&2
exit $status
