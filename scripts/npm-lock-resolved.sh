#!/usr/bin/env bash
# npm-lock-resolved.sh LOCKFILE...: adds each registry package's tarball URL ("resolved") to
# package-lock.json files written without them (npm's omit-lockfile-registry-resolved), next
# to the integrity they already hold; no version changes. The e2e tests refuse a lockfile without
# them (checkLockResolved in test/e2e/jsclient_test.go says why).
set -euo pipefail
for f in "$@"; do
	tmp=$(mktemp)
	jq '.packages |= with_entries(
		if .key != "" and (.value.link | not) and (.value.resolved | not) and .value.version then
			(.value.name // (.key | split("node_modules/") | last)) as $name
			| .value |= (to_entries | map(if .key == "version" then ., {key: "resolved",
				value: "https://registry.npmjs.org/\($name)/-/\($name | split("/") | last)-\(.value).tgz"} else . end)
				| from_entries)
		else . end)' "$f" >"$tmp"
	mv "$tmp" "$f"
done
