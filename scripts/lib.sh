# Shared helpers for scripts/*: sourced, not run. Every step is idempotent and fails loudly.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQS="$ROOT/requirements-tools.txt"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 is required but not installed ($2)"
}

# Creates .venv and installs the pinned Python tools, unless the installed set already matches.
ensure_venv() {
    need python3 "install Python 3.11+"
    local stamp="$VENV/.requirements.sha256"
    local want
    want="$(sha256sum "$REQS" | cut -d' ' -f1)"
    if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    say "Installing pinned Python tools into .venv (moto, cfn-lint, cargo-lambda, duckdb, sqlglot, openapi-spec-validator)"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS" \
        || die "pip could not install $REQS (is PyPI reachable?)"
    echo "$want" > "$stamp"
}

ensure_rust() {
    need cargo "install Rust with rustup: https://rustup.rs"
}
