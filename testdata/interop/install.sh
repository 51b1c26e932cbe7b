#!/usr/bin/env bash
# Installs the npm dependencies of the interop apps (testdata/interop/*/)
# exactly as pinned in each package-lock.json, with `npm ci`.
#
# Idempotent: a directory whose node_modules was installed from the current
# package-lock.json (recorded in node_modules/.oxyctl-lock.sha256) is
# skipped. The Go launcher (internal/testutil/nodeapp) checks the same stamp.
#
# Usage: testdata/interop/install.sh [app-dir...]   (default: every app)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
stamp_name=".oxyctl-lock.sha256"

die() {
	echo "install.sh: $*" >&2
	exit 1
}

command -v node >/dev/null 2>&1 || die "node not found on PATH: install Node.js 18 or newer (Debian 12: apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm not found on PATH: install npm (Debian: apt-get install npm)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "node $(node --version) is too old: express 5 needs Node.js 18 or newer (Debian 12 ships 18)"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (coreutils)"

if [ "$#" -gt 0 ]; then
	dirs=("$@")
else
	dirs=()
	for lock in "$here"/*/package-lock.json; do
		dirs+=("$(dirname "$lock")")
	done
fi
[ "${#dirs[@]}" -gt 0 ] || die "no app with a package-lock.json under $here"

echo "install.sh: node $(node --version), npm $(npm --version)"
for dir in "${dirs[@]}"; do
	dir="$(cd "$dir" && pwd)"
	name="${dir#"$here"/}"
	[ -f "$dir/package-lock.json" ] || die "$name: no package-lock.json"
	want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
	have="$(cat "$dir/node_modules/$stamp_name" 2>/dev/null || true)"
	if [ "$want" = "$have" ]; then
		echo "install.sh: $name: node_modules up to date, skipped"
		continue
	fi
	echo "install.sh: $name: npm ci --no-audit --no-fund"
	start=$SECONDS
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "$name: npm ci failed (is the npm registry reachable?)"
	echo "$want" >"$dir/node_modules/$stamp_name"
	echo "install.sh: $name: installed in $((SECONDS - start)) s"
done
