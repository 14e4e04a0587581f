# shellcheck shell=bash
# Shared setup for scripts/serve.sh and scripts/test.sh (sourced, not run): cd to the repository root, make sure
# the Debian packages the tests need are installed, create .venv and install the project into it (editable).
# Every step is skipped when already done, so reruns are fast and need no network.

JLIS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$JLIS_ROOT"

VENV="$JLIS_ROOT/.venv"
PYTHON="${PYTHON:-python3}"
# softhsm2 + opensc (pkcs11-tool): PKCS#11 tests; openssl: interop tests.
DEBIAN_PACKAGES=(softhsm2 opensc openssl)

say() { printf '==> %s\n' "$*"; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

deb_installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'; }

ensure_debian_packages() {
	if ! command -v dpkg >/dev/null; then
		say "not a Debian system: make sure ${DEBIAN_PACKAGES[*]} are installed"
		return 0
	fi
	local wanted=("${DEBIAN_PACKAGES[@]}") missing=() pkg
	# Debian's own python3 cannot create a venv (no ensurepip wheels) until python3-venv is installed.
	if dpkg -S "$(readlink -f "$(command -v "$PYTHON")")" >/dev/null 2>&1; then
		wanted+=(python3-venv)
	fi
	for pkg in "${wanted[@]}"; do
		deb_installed "$pkg" || missing+=("$pkg")
	done
	((${#missing[@]} == 0)) && return 0
	if ((EUID != 0)); then
		die "missing Debian packages: ${missing[*]} (install them: sudo apt-get install ${missing[*]})"
	fi
	say "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
	command -v "$PYTHON" >/dev/null || die "$PYTHON not found (Python >= 3.11 is required)"
	"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
		die "Python >= 3.11 is required, $PYTHON is $("$PYTHON" -V 2>&1)"
	if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import pip' 2>/dev/null; then
		return 0
	fi
	say "creating $VENV"
	rm -rf "$VENV" # a half-made venv (e.g. ensurepip was missing) is useless
	"$PYTHON" -m venv "$VENV"
}

stamp_matches() { [[ -f "$1" && "$(<"$1")" == "$2" ]]; }

# ensure_project_installed SPEC STAMP_NAME: pip install -e SPEC unless pyproject.toml is unchanged since the last
# successful install of that SPEC (sha256 stamp kept inside .venv, so a new venv always reinstalls).
ensure_project_installed() {
	local spec="$1" stamp="$VENV/.jlis-install-$2.sha256" want
	want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
	stamp_matches "$stamp" "$want" && return 0
	# The test install is a superset of the base one.
	[[ "$2" == base ]] && stamp_matches "$VENV/.jlis-install-test.sha256" "$want" && return 0
	say "installing jlis-pki into .venv (pip install -e '$spec')"
	"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
	"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
	printf '%s\n' "$want" >"$stamp"
}

# jlis_setup base|test: everything the Quick start commands need before they run.
jlis_setup() {
	local spec=.
	[[ "$1" == test ]] && spec='.[test]'
	ensure_debian_packages
	ensure_venv
	ensure_project_installed "$spec" "$1"
}
