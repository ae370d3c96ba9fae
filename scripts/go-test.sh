#!/usr/bin/env bash
# go-test.sh: every Go test of the module, as ./test.sh runs them (under scripts/with-postgres.sh).
#
# The end-to-end tests (test/e2e) are most of the time, and most of theirs is waiting: processes
# starting, the Azure CLI's Python, Chromium, npm, timers. They run as MINT_E2E_SHARDS (default 2)
# go test processes at once, each with a share of the tests, beside the other packages. Tests do
# not share state across processes: each starts its own mint on ports of its own (port 0), in
# its own directories, on its own PostgreSQL database. The tests that run the docs' shell blocks
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
declare -a shard
for ((i = 0; i < shards; i++)); do shard[i]=""; done
n=0
for t in "${tests[@]}"; do
	if [[ $t =~ $docs ]]; then
		i=0
	else
		i=$((n % shards))
		n=$((n + 1))
	fi
	shard[i]+="${shard[i]:+|}$t"
done

pids=()
go test -count=1 -timeout "$timeout" $(go list ./... | grep -v '/test/e2e$') >"$logs/packages.log" 2>&1 &
pids+=($!)
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
