#!/usr/bin/env bash
# Runs every test mint has, from a fresh clone, with no set-up beforehand: formatting and vet,
# the unit tests, the store conformance suite and the end-to-end tests (real Azure SDK clients
# against a started mint) on SQLite and on a throw-away PostgreSQL 15, then each fuzz target
# briefly. Set MINT_FUZZTIME (default 5s) to fuzz longer, or 0 to skip fuzzing.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"

echo "== gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
go vet ./...

echo "== tests (SQLite and PostgreSQL)"
scripts/with-postgres.sh go test -count=1 -timeout 20m ./...

fuzztime=${MINT_FUZZTIME:-5s}
if [ "$fuzztime" != "0" ]; then
	echo "== fuzzing each target for $fuzztime"
	grep -rl --include='*_test.go' '^func Fuzz' internal | xargs -n1 dirname | sort -u | while read -r pkg; do
		for target in $(grep -h '^func Fuzz' "$pkg"/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
			echo "-- $pkg $target"
			go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "./$pkg" >/tmp/mint-fuzz.log 2>&1 || { cat /tmp/mint-fuzz.log; exit 1; }
		done
	done
fi
echo "== all tests passed"
