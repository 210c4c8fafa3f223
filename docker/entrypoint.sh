#!/bin/sh
# Entry point of the Socle image: `serve` by default (migrations are applied at start), or any `socle` command:
#   docker run --rm -e DATABASE_URL=… -e LTI_KEY=… socle platforms list
set -eu
SOCLE_HOME="${SOCLE_HOME:-/app}"
if [ "$#" -eq 0 ]; then set -- serve; fi
exec node "$SOCLE_HOME/bin/socle.js" "$@"
