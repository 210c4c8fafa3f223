#!/usr/bin/env bash
# Runs the ADL LRS conformance suite (github.com/adlnet/lrs-conformance-test-suite), unmodified, against a local
# Socle: a compiled `socle serve` on a fresh embedded store (or on DATABASE_URL when set: use an empty database), with
# an LRS client that has every scope. Prints the suite's totals and how long it took.
#
#   scripts/lrs-conformance.sh <suite-dir> [1.0.3|2.0.0]
#
# <suite-dir>: a checkout of the suite; it is cloned there when absent (needs network), and its dependencies are
# installed from the npm registry when missing. Nothing of the suite is part of Socle.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:?usage: scripts/lrs-conformance.sh <suite-dir> [1.0.3|2.0.0]}
version=${2:-1.0.3}

if [ ! -f "$suite/bin/console_runner.js" ]; then
  git clone --depth 1 https://github.com/adlnet/lrs-conformance-test-suite "$suite"
fi
[ -d "$suite/node_modules" ] || (cd "$suite" && npm install --no-audit --no-fund)
[ -f dist/src/cli/main.js ] || npm run build

work=$(mktemp -d)
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
export PORT=$port PUBLIC_URL="http://127.0.0.1:$port" LOG_LEVEL=warn RATE_LIMIT_XAPI=1000000
[ -n "${DATABASE_URL:-}" ] || export DATA_DIR="$work/data"
[ -n "${LTI_KEY:-}" ] || export LTI_KEY="conformance-$(node -e "console.log(require('crypto').randomBytes(24).toString('hex'))")"

# the client first: the embedded store takes one process at a time
credentials=$(node bin/socle.js xapi-keys create --client conformance --scope all --json)
key=$(node -e "console.log(JSON.parse(process.argv[1]).key)" "$credentials")
secret=$(node -e "console.log(JSON.parse(process.argv[1]).secret)" "$credentials")

node bin/socle.js serve > "$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 60); do
  curl -fs "http://127.0.0.1:$port/ready" > /dev/null && break
  sleep 1
done

started=$(date +%s)
(cd "$suite" && node bin/console_runner.js -x "$version" -e "http://127.0.0.1:$port/xapi" -a -u "$key" -p "$secret") | tee "$work/suite.log" | grep -E '^\{"total"' | tail -n 1 || true
echo "suite $version against Socle ($([ -n "${DATABASE_URL:-}" ] && echo PostgreSQL || echo PGlite)): $(( $(date +%s) - started )) s"
