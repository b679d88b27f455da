#!/bin/sh
# Takes what the pair page needs from the npm registry (xterm.js, at the
# version web/package-lock.json pins, checked against its integrity hash
# by npm ci) and copies its two files into pair/assets, which nsh-pair
# embeds; xterm.sum records the version and each file's sha256, which
# pair's tests check. Run it after changing web/package.json; with
# --check it only says whether pair/assets is what npm gives.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp web/package.json web/package-lock.json "$tmp/"
(cd "$tmp" && npm ci --no-audit --no-fund --ignore-scripts --silent)
pkg="$tmp/node_modules/@xterm/xterm"
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$pkg/package.json")
sum() { sha256sum "$1" | cut -d' ' -f1; }
want="@xterm/xterm@$version xterm.js $(sum "$pkg/lib/xterm.js") xterm.css $(sum "$pkg/css/xterm.css")"
if [ "${1:-}" = --check ]; then
	if [ "$(cat pair/assets/xterm.sum)" = "$want" ] && cmp -s "$pkg/lib/xterm.js" pair/assets/xterm.js && cmp -s "$pkg/css/xterm.css" pair/assets/xterm.css; then
		echo "dev/web.sh: pair/assets holds $want"
		exit 0
	fi
	echo "dev/web.sh: pair/assets is not what npm ci gives ($want): run dev/web.sh" >&2
	exit 1
fi
cp "$pkg/lib/xterm.js" pair/assets/xterm.js
cp "$pkg/css/xterm.css" pair/assets/xterm.css
echo "$want" > pair/assets/xterm.sum
echo "dev/web.sh: pair/assets now holds $want"
