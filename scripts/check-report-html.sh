#!/usr/bin/env bash
# Opens RESULTS_DIR/report.html in headless Chromium and fails when:
#   - the page logs anything to the console (it has no script, so any
#     console message is a problem: a blocked load, a parse error, ...);
#   - a chart of RESULTS_DIR/charts/*.svg is missing from the rendered DOM,
#     or is not there as inline SVG;
#   - the file refers to anything it would fetch (script, stylesheet, image,
#     font, url(...)): report.html must be self-contained.
# Writes RESULTS_DIR/report-screenshot.png (the top of the page, 1280 px
# wide) to look at.
#
# Needs Chromium (Debian: apt-get install -y chromium). Usage:
#   scripts/check-report-html.sh reports/quickstart/20261127T071500Z
set -euo pipefail

dir=${1:?usage: $0 RESULTS_DIR}
html="$dir/report.html"
[[ -f $html ]] || { echo "error: $html: no such file" >&2; exit 2; }
chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n $chromium ]] || { echo "error: chromium not found (apt-get install -y chromium)" >&2; exit 2; }

url="file://$(cd "$dir" && pwd)/report.html"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A fresh profile, and none of Chromium's own background traffic.
flags=(--headless --disable-gpu --no-sandbox --no-first-run --user-data-dir="$work/profile"
  --disable-background-networking --disable-component-update --disable-sync
  --enable-logging=stderr --v=0)

failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=1
}

# 1. Nothing to fetch: no script, stylesheet link, image, font or url().
# Plain links (<a href>) to the chart files are fine: they are not loaded.
if grep -n -i -E '<script|<link|<img|<iframe|<object|<embed|@import|url\(|@font-face|xlink:href|<image' "$html" >"$work/fetch.txt"; then
  fail "report.html refers to external resources:"
  head -5 "$work/fetch.txt" >&2
fi

# 2. Console messages while loading and rendering.
timeout 60 "$chromium" "${flags[@]}" --dump-dom "$url" >"$work/dom.html" 2>"$work/log.txt" ||
  fail "chromium exited with status $? (log: $(tail -3 "$work/log.txt"))"
if grep -E ':CONSOLE[:(]' "$work/log.txt" >"$work/console.txt"; then
  fail "console messages:"
  cat "$work/console.txt" >&2
fi

# 3. Every chart of the directory is in the DOM as inline SVG.
[[ -s $work/dom.html ]] || fail "the DOM dump is empty"
charts=0
for svg in "$dir"/charts/*.svg; do
  [[ -e $svg ]] || continue
  name=$(basename "$svg" .svg)
  charts=$((charts + 1))
  # The figure's markup up to its closing tag must hold an <svg> element.
  if ! awk -v id="id=\"chart-$name\"" 'index($0, id) {on=1} on && /<svg/ {found=1} on && /<\/figure>/ {exit} END {exit !found}' "$work/dom.html"; then
    fail "chart $name: no <figure id=\"chart-$name\"> with an inline <svg> in the DOM"
  fi
done
((charts > 0)) || fail "no charts in $dir/charts"
svgs=$(grep -o '<svg' "$work/dom.html" | wc -l)
((svgs >= charts)) || fail "$svgs inline SVGs for $charts charts"

# 4. A screenshot to look at.
timeout 60 "$chromium" "${flags[@]}" --hide-scrollbars --window-size=1280,2400 \
  --screenshot="$dir/report-screenshot.png" "$url" >/dev/null 2>&1 ||
  fail "chromium could not take a screenshot"

if ((failed)); then
  exit 1
fi
echo "ok: $html: $charts charts inline, no console messages, nothing fetched; screenshot: $dir/report-screenshot.png"
