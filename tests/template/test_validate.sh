#!/usr/bin/env bash
# Tests the template validation step of scripts/test (lib.sh's sam_validate: `sam validate --lint`
# and plain `sam validate`, offline): the pristine template.yaml passes, and copies of it broken one
# way each (a misspelled function property, an unknown event Type, a wrong Schedule event property)
# fail. Installs the pinned SAM CLI if needed (ensure_sam). Prints each check and closes with
# "N passed, N failed"; exits non-zero when any failed.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
ensure_sam

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; sed 's/^/     /' "$TMP/out"; }

# validates NAME: sam_validate on $TMP/NAME/template.yaml, output in $TMP/out, status in $status
validates() {
    set +e
    (sam_validate "$TMP/$1/template.yaml") > "$TMP/out" 2>&1
    status=$?
    set -e
}
# broken NAME FROM TO: a copy of template.yaml with the first FROM replaced by TO (FROM must occur,
# so the test cannot silently stop breaking anything when the template changes).
broken() {
    mkdir -p "$TMP/$1"
    python3 - "$ROOT/template.yaml" "$TMP/$1/template.yaml" "$2" "$3" <<'PY'
import sys
src, dst, old, new = sys.argv[1:]
text = open(src).read()
assert old in text, f"{old!r} is not in template.yaml: update tests/template/test_validate.sh"
open(dst, "w").write(text.replace(old, new, 1))
PY
}

mkdir -p "$TMP/pristine" && cp "$ROOT/template.yaml" "$TMP/pristine/"
validates pristine
if [[ $status == 0 ]] && grep -q 'is a valid SAM Template$' "$TMP/out"; then ok "pristine template.yaml passes"; else fail "pristine template.yaml passes"; fi

expect_failure() { # expect_failure NAME WHAT-THE-OUTPUT-NAMES FROM TO
    broken "$1" "$3" "$4"
    validates "$1"
    if [[ $status != 0 ]] && grep -qF -- "$2" "$TMP/out"; then ok "$1 fails"; else fail "$1 fails (status $status, expected '$2')"; fi
}
expect_failure "misspelled function property (ReservedConcurrency)" "ReservedConcurrency" \
    "ReservedConcurrentExecutions: 1" "ReservedConcurrency: 1"
expect_failure "unknown event Type (Shedule)" "Event Type is: Shedule" \
    "          Type: Schedule" "          Type: Shedule"
expect_failure "misspelled Schedule event property (Shedule)" "property Shedule not defined" \
    "            Schedule: !Ref ScheduleRate" "            Shedule: !Ref ScheduleRate"

printf '%s passed, %s failed\n' "$passed" "$failed"
(( failed == 0 ))
