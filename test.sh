#!/usr/bin/env bash
# Runs every test mint has, from a fresh clone, with no set-up beforehand: formatting and vet,
# the unit tests, the store conformance suite and the end-to-end tests (real Azure SDK clients
# against a started mint) on SQLite and on a throw-away PostgreSQL 15, then each fuzz target
# briefly. When the Azure CLI, the Azure SDK for Python, Chromium or NSS's certutil is missing they are installed first (apt-get, as root or with CI=true).
# Set MINT_FUZZ_EXECS (default 20000 inputs per target: a smoke run that keeps the suite short)
# to fuzz longer, or 0 to skip.
# (scripts/fuzz.sh: a count of inputs, not a time; targets that drive a whole handler over a
# store run fewer).
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
# test/e2e/daprclient is its own module (so that Dapr's and Kubernetes' modules are not mint's).
(cd test/e2e/daprclient && go vet ./...)

# The end-to-end tests run the real Azure CLI (Debian bookworm's azure-cli 2.45.0), the Azure SDK
# for Python (python3-azure, python3-msal, with Debian's /usr/bin/python3) and a real headless
# Chromium (the person at mint's sign-in pages and the portal, driven with chromedp), and fail,
# never skip, without them. Root (CI runs as root with CI=true on Debian bookworm) installs what is
# missing: azure-cli is about 30 MB, 102 packages; chromium about 100 MB.
need=()
command -v az >/dev/null 2>&1 || need+=(azure-cli)
/usr/bin/python3 -c 'import azure.identity, azure.keyvault.secrets, azure.mgmt.resource, azure.mgmt.keyvault, msal' >/dev/null 2>&1 || need+=(python3-azure python3-msal)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
command -v openssl >/dev/null 2>&1 || need+=(openssl)   # the README's Storage section makes Azurite's certificate with it
command -v certutil >/dev/null 2>&1 || need+=(libnss3-tools)   # the test browser trusts mint's CA through an NSS database
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] || [ "${CI:-}" = true ]; then
		echo "== installing ${need[*]} (apt-get install)"
		sudo=""
		[ "$(id -u)" = 0 ] || sudo=sudo
		$sudo apt-get update -qq
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
	else
		echo "${need[*]} missing; the end-to-end tests run them. Install, then run ./test.sh again:" >&2
		echo "  sudo apt-get update && sudo apt-get install --no-install-recommends ${need[*]}    # Debian, Ubuntu" >&2
		exit 1
	fi
fi

execs=${MINT_FUZZ_EXECS:-20000}
if [ "$execs" != "0" ]; then
	# The fuzz targets' instrumented test binaries are built and fuzzed now, at the lowest CPU
	# priority, beside the tests below (which leave a core idle much of the time, waiting on
	# processes, browsers and the Azure CLI); what is left when the tests end runs at normal
	# priority after them. Building them beside the tests and fuzzing only after them left
	# 196-240 s of fuzzing after the tests in a 2-core run.
	# Its own session (setsid), so that a failing run stops the build's and the fuzzers' processes
	# too. A new session is also a new scheduler autogroup (Linux's sched_autogroup, on by default
	# in Debian's and Ubuntu's kernels), which competes with the tests' autogroup as an equal
	# whatever its processes' nice: measured here, a setsid'ed nice 19 loop got as much CPU as a
	# nice 0 one in the shell's session. So the autogroup's own nice is set to 19 as well
	# (/proc/self/autogroup, see sched(7)); with it the loop got a tenth of the other's.
	# fuzz.sh builds each package's binary into $fuzzbins and fuzzes its targets, package by package.
	fuzzbins=$(mktemp -d)
	MINT_FUZZ_BIN_DIR="$fuzzbins" setsid bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null || true
		exec nice -n 19 scripts/fuzz.sh "$0"' "$execs" >"$fuzzbins/fuzz.log" 2>&1 &
	fuzzing=$!
	trap '[ -z "$fuzzing" ] || kill -- "-$fuzzing" 2>/dev/null || true; rm -rf "$fuzzbins"' EXIT
fi

echo "== tests (SQLite and PostgreSQL)"
# with-postgres.sh fails when PostgreSQL does not start; MINT_TEST_REQUIRE_POSTGRES=1 makes every
# PostgreSQL-backed test fail rather than skip should MINT_TEST_POSTGRES_URL still be missing.
# scripts/go-test.sh runs the packages and, beside them, the end-to-end tests in two processes at
# once (they mostly wait on processes, browsers and the Azure CLI), printing each e2e test's time.
tests_started=$SECONDS
MINT_TEST_REQUIRE_POSTGRES=1 scripts/with-postgres.sh scripts/go-test.sh
echo "test.sh: the tests took $((SECONDS - tests_started)) s"

if [ "$execs" != "0" ]; then
	echo "== fuzzing each target ($execs inputs each; started beside the tests)"
	fuzz_started=$SECONDS
	done_when_tests_ended=$(grep -c '^-- ' "$fuzzbins/fuzz.log" || true)
	# The tests are over: what is left of the fuzzing gets normal priority back. Anyone may set
	# the autogroup's nice back to 0; lowering the processes' own nice needs root (as in CI), but
	# it only weighs them against each other, inside their autogroup.
	echo 0 >"/proc/$fuzzing/autogroup" 2>/dev/null || true
	renice -n 0 -g "$fuzzing" >/dev/null 2>&1 || true
	status=0
	wait "$fuzzing" || status=$?
	fuzzing=""
	if [ "$status" != 0 ]; then
		cat "$fuzzbins/fuzz.log" >&2
		exit 1
	fi
	cat "$fuzzbins/fuzz.log" # each target, and how long building and fuzzing them all took
	echo "test.sh: the fuzzing had started $done_when_tests_ended of its targets when the tests ended"
	echo "test.sh: finishing the fuzzing took $((SECONDS - fuzz_started)) s after the tests"
fi
echo "== all tests passed"
