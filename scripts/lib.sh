# Shared helpers for scripts/*: sourced, not run. Every step is idempotent and fails loudly.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQS="$ROOT/requirements-tools.txt"
SAM_VENV="${AUDITLAKE_SAM_VENV:-$ROOT/.tools/sam-venv}"
SAM_REQS="$ROOT/requirements-sam.txt"

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
    say "Installing pinned Python tools into .venv (moto, cfn-lint, cargo-lambda, duckdb, sqlglot, openapi-spec-validator, orjson, ...)"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS" \
        || die "pip could not install $REQS (is PyPI reachable?)"
    echo "$want" > "$stamp"
}

# Debian's Chromium for the console's browser test (tests/console/test_console.py), installed
# once; Playwright drives it and never downloads a browser of its own.
ensure_chromium() {
    [[ -x /usr/bin/chromium ]] && return 0
    say "Installing Debian's chromium (the console's browser test)"
    if [[ $EUID -eq 0 ]]; then
        apt-get install -y -qq chromium >&2 || { apt-get update -qq >&2 && apt-get install -y -qq chromium >&2; } \
            || die "apt-get could not install chromium"
    else
        sudo apt-get install -y -qq chromium >&2 || die "install Debian's chromium: sudo apt-get install chromium"
    fi
}

# The console's frontend build (shared/console/web): its pinned npm packages from the lockfile
# (`npm ci`), then esbuild into DIR; a no-op install the second time (npm's cache).
console_build() {
    need npm "install Node.js 20+ and npm (Debian: apt-get install nodejs npm)"
    (cd "$ROOT/shared/console/web" && npm ci --no-audit --no-fund --loglevel=error >&2) \
        || die "npm ci failed in shared/console/web (is the npm registry reachable?)"
    (cd "$ROOT/shared/console/web" && node build.mjs --out "$1" >&2) || die "the console's build failed"
}

ensure_rust() {
    need cargo "install Rust with rustup: https://rustup.rs"
}

# Creates $SAM_VENV (.tools/sam-venv) and installs the pinned SAM CLI and cargo-lambda
# (requirements-sam.txt), unless the installed set already matches; a no-op the second time.
ensure_sam() {
    need python3 "install Python 3.11+"
    local stamp="$SAM_VENV/.requirements.sha256"
    local want
    want="$(sha256sum "$SAM_REQS" | cut -d' ' -f1)"
    if [[ -x "$SAM_VENV/bin/sam" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    say "Installing the pinned SAM CLI and cargo-lambda into $SAM_VENV (requirements-sam.txt)"
    [[ -x "$SAM_VENV/bin/python" ]] || python3 -m venv "$SAM_VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$SAM_REQS" \
        || die "pip could not install $SAM_REQS (is PyPI reachable?)"
    [[ -x "$SAM_VENV/bin/sam" ]] || die "no sam in $SAM_VENV/bin after installing $SAM_REQS"
    echo "$want" > "$stamp"
}

# sam_validate TEMPLATE: `sam validate --lint`, then plain `sam validate`, with the pinned SAM CLI
# (ensure_sam first). --lint is cfn-lint 1.58, which no longer runs the SAM transform: it merges
# Globals and checks the Serverless resources against SAM schemas, so it lets an unknown event Type
# or event property through; plain `sam validate` runs the SAM translator (aws-sam-translator), which
# rejects those. The translator would ask IAM only to resolve a managed policy given by name (the
# template names none). Offline: neither needs AWS; no
# credentials or config are read (dummy ones are set, so a developer's real ones are never used),
# telemetry is off, and SAM's weekly PyPI version check is marked done in a private app dir.
sam_validate() {
    local template="$1" app_dir="$SAM_VENV/.sam-app-dir"
    mkdir -p "$app_dir"
    printf '{"lastVersionCheck": %s.0}\n' "$(date +%s)" > "$app_dir/metadata.json"
    local -a env=(-u AWS_PROFILE -u AWS_SESSION_TOKEN SAM_CLI_TELEMETRY=0 __SAM_CLI_APP_DIR="$app_dir" AWS_DEFAULT_REGION=us-east-1
        AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null)
    env "${env[@]}" "$SAM_VENV/bin/sam" validate --lint --region us-east-1 --template "$template" \
        && env "${env[@]}" "$SAM_VENV/bin/sam" validate --region us-east-1 --template "$template"
}
