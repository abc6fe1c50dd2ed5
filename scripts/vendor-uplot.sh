#!/usr/bin/env bash
# Fetch uPlot from the npm registry and copy its minified build, stylesheet and licence into the dashboard's
# static folder (ota_stream/web/dashboard/static/vendor/). The copied files are committed, so neither a build
# nor the worker needs the network; run this (`make dashboard-vendor`) only to change the version.
# `npm pack` checks the tarball against the integrity hash the registry publishes.
set -euo pipefail
VERSION="${UPLOT_VERSION:-1.6.32}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/ota_stream/web/dashboard/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
command -v npm >/dev/null || { echo "npm is required to fetch uPlot" >&2; exit 1; }
(cd "$WORK" && npm pack --silent "uplot@$VERSION" >/dev/null && tar -xzf "uplot-$VERSION.tgz")
mkdir -p "$DEST"
cp "$WORK/package/dist/uPlot.iife.min.js" "$DEST/uPlot.iife.min.js"
cp "$WORK/package/dist/uPlot.min.css" "$DEST/uPlot.min.css"
cp "$WORK/package/LICENSE" "$DEST/uPlot.LICENSE"
echo "$VERSION" > "$DEST/uPlot.VERSION"
echo "uPlot $VERSION copied into ${DEST#"$ROOT/"}"
