#!/usr/bin/env bash
# Quick start: set up (Debian packages, .venv, editable install) and serve on the embedded default
# (SQLite + software keys, home ./var). Arguments go to `jlis serve`, e.g. --port 18080.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

jlis_setup base
exec "$VENV/bin/jlis" serve "$@"
