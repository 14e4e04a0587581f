#!/usr/bin/env bash
# Quick start: set up (Debian packages, .venv, editable install with the test extra), then lint, check formatting,
# type-check and run the test suite, stopping at the first failure. Arguments go to pytest, e.g. -m 'not slow'.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# step NAME CMD...: print a header, run CMD, and stop the script with CMD's exit code if it fails.
step() {
	local name="$1" rc=0
	shift
	printf '\n==> %s\n' "$name"
	"$@" || rc=$?
	if ((rc != 0)); then
		printf '\ntest.sh: %s failed (exit %d)\n' "$name" "$rc" >&2
		exit "$rc"
	fi
}

pytest_strict() {
	local rc=0
	"$VENV/bin/python" -m pytest "$@" || rc=$?
	if ((rc == 5)); then
		echo "test.sh: pytest collected no tests (exit 5); check the -k/-m selection — an empty run is a failure" >&2
	fi
	return "$rc"
}

jlis_setup test
step "ruff check" "$VENV/bin/ruff" check .
step "ruff format --check" "$VENV/bin/ruff" format --check .
step "mypy (strict)" "$VENV/bin/mypy"
step "pytest${*:+ $*}" pytest_strict "$@"
