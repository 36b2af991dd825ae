#!/usr/bin/env bash
# Tests scripts/deploy with stand-in `sam` and `aws` on PATH that record every argument list (one
# line per call, each argument in brackets), what they read on stdin and the files they were
# handed as file://. No AWS is reachable: the stand-ins answer like the real commands would.
# Prints each check and closes with "N passed, N failed"; exits non-zero when any failed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; [[ -z "${2:-}" ]] || printf '%s\n' "$2" | sed 's/^/     /'; }
check() { # check NAME COMMAND...: passes when the command succeeds
    local name="$1"; shift
    if "$@"; then ok "$name"; else fail "$name" "$(tail -n 20 "$W/log" 2>/dev/null)"; fi
}

SECRET='s3cr3t~Value"with\quote$and space'
PROMPTED='prompted-Secret-42!'

# ---------------------------------------------------------------------------- stand-ins
STUBS="$TMP/bin"
mkdir -p "$STUBS"
cat > "$STUBS/sam" <<'STUB'
#!/usr/bin/env bash
log="$STUB_LOG"
{ printf 'sam'; for a in "$@"; do printf ' [%s]' "$a"; done; printf '\n'; } >> "$log"
[[ "${STUB_FAIL:-}" == "sam $1" ]] && { echo "stand-in sam: $1 failed" >&2; exit 1; }
if [[ "$1" == deploy && " $* " == *" --guided "* ]]; then
    # What a guided deploy leaves behind.
    config=""; prev=""
    for a in "$@"; do [[ "$prev" == --config-file ]] && config="$a"; prev="$a"; done
    printf 'version = 0.1\n[default.deploy.parameters]\nstack_name = "auditlake"\nregion = "eu-west-1"\n' > "$config"
fi
exit 0
STUB
cat > "$STUBS/aws" <<'STUB'
#!/usr/bin/env bash
log="$STUB_LOG"
{ printf 'aws'; for a in "$@"; do printf ' [%s]' "$a"; done; printf '\n'; } >> "$log"
for a in "$@"; do
    if [[ "$a" == file://* ]]; then
        f="${a#file://}"
        { printf 'file %s mode %s:\n' "$f" "$(stat -c %a "$f")"; cat "$f"; printf '\n'; } >> "$STUB_FILES"
    fi
done
if [[ ! -t 0 ]]; then
    input="$(cat)"
    [[ -z "$input" ]] || printf 'stdin: %s\n' "$input" >> "$STUB_FILES"
fi
[[ "$1" == --region ]] && shift 2
[[ "${STUB_FAIL:-}" == "aws $1 $2" ]] && { echo "stand-in aws: $1 $2 failed" >&2; exit 255; }
case "$1 $2" in
    "ssm get-parameter")
        [[ -n "${STUB_CURSOR_EXISTS:-}" ]] && { echo /auditlake/cursor-key; exit 0; }
        echo "An error occurred (ParameterNotFound)" >&2; exit 254 ;;
    "ssm put-parameter") echo 1 ;;
    "cloudformation describe-stacks")
        case "$*" in
            *AnalyticsWorkGroup*) echo auditlake-wg ;;
            *AnalyticsDatabase*) echo auditlake_db ;;
            *"OutputKey=='BucketName'"*) echo auditlake-lakebucket-1 ;;
            *) printf 'ApiUrl\thttps://abc.execute-api.eu-west-1.amazonaws.com\nBucketName\tauditlake-lakebucket-1\n' ;;
        esac ;;
    "athena start-query-execution") echo "qid-$RANDOM" ;;
    "athena get-query-execution") echo SUCCEEDED ;;
esac
exit 0
STUB
chmod +x "$STUBS/sam" "$STUBS/aws"

# A scratch checkout: scripts/deploy and what it reads, nothing it could deploy for real.
new_workspace() {
    W="$TMP/ws$((++ws))"
    mkdir -p "$W/scripts"
    cp "$REPO/scripts/deploy" "$REPO/scripts/lib.sh" "$REPO/scripts/athena-ddl" "$W/scripts/"
    cp "$REPO/template.yaml" "$REPO/requirements-sam.txt" "$W/"
    : > "$W/log"; : > "$W/files"
}
ws=0
# deploy ARGS... (stdin from $INPUT, default empty): output in $W/out, status in $status
deploy() {
    set +e
    STUB_LOG="$W/log" STUB_FILES="$W/files" AUDITLAKE_SAM_VENV="$W/no-venv" PATH="$STUBS:$PATH" \
        "$W/scripts/deploy" "$@" < "${INPUT:-/dev/null}" > "$W/out" 2>&1
    status=$?
    set -e
}
no_secret_in_arguments() { ! grep -qF -- "$1" "$W/log"; }
no_secret_in_output() { ! grep -qF -- "$1" "$W/out"; }
logged() { grep -qF -- "$1" "$W/log"; }
not_logged() { ! grep -qF -- "$1" "$W/log"; }
no_scratch_left() { ! grep -o 'file://[^]]*' "$W/log" | sed 's|file://||' | grep -v '/infra/athena/' | xargs -r ls 2>/dev/null | grep -q .; }

# ---------------------------------------------------------------------------- checks
new_workspace
printf '%s\n' "$SECRET" > "$TMP/secret.txt"
deploy --help
check "--help prints usage and exits 0" bash -c "[[ $status == 0 ]] && grep -q '^Usage: scripts/deploy' '$W/out' && [[ ! -s '$W/log' ]]"

new_workspace
deploy --secret-file "$TMP/secret.txt"
check "first run: exits 0" test "$status" = 0
check "first run: sam build of the template" logged "sam [build] [--beta-features] [--template-file] [template.yaml]"
check "first run: guided deploy (no samconfig.toml)" logged "sam [deploy] [--guided] [--stack-name] [auditlake] [--capabilities] [CAPABILITY_IAM] [--config-file] [$W/samconfig.toml]"
check "first run: secret stored as SecureString through a file" \
    grep -qE "^aws \[ssm\] \[put-parameter\] \[--name\] \[/auditlake/client-secret\] \[--type\] \[SecureString\] \[--overwrite\] \[--cli-input-json\] \[file://[^]]+\]" "$W/log"
check "first run: the secret reached aws (in a 0600 file) exactly, trailing newline dropped" \
    python3 - "$W/files" "$SECRET" <<'PY'
import json, re, sys
text, secret = open(sys.argv[1]).read(), sys.argv[2]
blocks = re.findall(r"file \S+ mode (\d+):\n(.*)\n", text)
assert any(mode == "600" and json.loads(body) == {"Value": secret} for mode, body in blocks), blocks
PY
check "first run: the secret is in no argument list" no_secret_in_arguments "$SECRET"
check "first run: the secret is not in the output" no_secret_in_output "$SECRET"
check "first run: no value of any parameter (cursor key included) on a command line" not_logged "[--value]"
check "first run: the temporary files are gone" no_scratch_left
check "first run: cursor key created when missing (not overwritten)" \
    grep -qE "^aws \[ssm\] \[put-parameter\] \[--name\] \[/auditlake/cursor-key\] \[--type\] \[SecureString\] \[--cli-input-json\]" "$W/log"
check "first run: outputs printed" grep -q "ApiUrl.https://abc.execute-api" "$W/out"
check "first run: no Athena without infra/athena" not_logged "athena"
check "first run: x86_64 by default (no Architecture override)" not_logged "Architecture="

# Later run: samconfig.toml exists (left by the guided run); secret typed at a prompt.
INPUT="$TMP/prompt.txt"; printf '%s\n' "$PROMPTED" > "$INPUT"
: > "$W/log"; : > "$W/files"
STUB_CURSOR_EXISTS=1 deploy --prompt-secret
unset INPUT
check "later run: exits 0" test "$status" = 0
check "later run: deploy from samconfig.toml, not guided" \
    logged "sam [deploy] [--stack-name] [auditlake] [--region] [eu-west-1] [--config-file] [$W/samconfig.toml] [--no-fail-on-empty-changeset]"
check "later run: no --guided" not_logged "[--guided]"
check "later run: region from samconfig.toml on every aws call" \
    bash -c "! grep '^aws ' '$W/log' | grep -vqF '[--region] [eu-west-1]'"
check "later run: prompted secret stored" grep -qF "{\"Value\": \"$PROMPTED\"}" "$W/files"
check "later run: prompted secret in no argument list" no_secret_in_arguments "$PROMPTED"
check "later run: prompted secret not echoed" no_secret_in_output "$PROMPTED"
check "later run: existing cursor key kept" not_logged "[/auditlake/cursor-key] [--type]"

# Certificate, and the Athena DDL hook.
new_workspace
printf -- '-----BEGIN PRIVATE KEY-----\nMIIkeybytes\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nMIIcert\n-----END CERTIFICATE-----\n' > "$TMP/cert.pem"
mkdir -p "$W/infra/athena/tables" "$W/infra/athena/queries"
echo 'CREATE EXTERNAL TABLE ${database}.b (x int) LOCATION '"'s3://\${bucket}/b/'" > "$W/infra/athena/tables/b.sql"
echo "CREATE EXTERNAL TABLE a (x int);" > "$W/infra/athena/tables/a.sql"
printf 'SELECT x FROM a WHERE x > ?\n' > "$W/infra/athena/queries/hunt.sql"
printf '# order matters\ntables/b.sql\ntables/a.sql\n' > "$W/infra/athena/manifest.txt"
deploy --cert-file "$TMP/cert.pem" --stack-name lake-contoso --region us-east-1
check "cert + DDL: exits 0" test "$status" = 0
check "cert: stored under the certificate parameter" \
    logged "aws [--region] [us-east-1] [ssm] [put-parameter] [--name] [/auditlake/client-cert] [--type] [SecureString] [--overwrite] [--tier] [Intelligent-Tiering] [--cli-input-json]"
check "cert: the key is in no argument list" no_secret_in_arguments "MIIkeybytes"
check "cert: the key is not in the output" no_secret_in_output "MIIkeybytes"
check "DDL: the manifest's files in its order, database and bucket filled in, in the stack's workgroup" bash -c "
    grep -o 'start-query-execution.*' '$W/log' > '$W/ddl'
    [[ \$(wc -l < '$W/ddl') == 2 ]] &&
    sed -n 1p '$W/ddl' | grep -qF '[--work-group] [auditlake-wg] [--query-execution-context] [Database=auditlake_db] [--query-string] [CREATE EXTERNAL TABLE auditlake_db.b (x int) LOCATION '\''s3://auditlake-lakebucket-1/b/'\'']' &&
    sed -n 2p '$W/ddl' | grep -qF '[CREATE EXTERNAL TABLE a (x int)]'"
check "DDL: each query awaited" bash -c "[[ \$(grep -c 'athena\] \[get-query-execution' '$W/log') == 2 ]]"
check "DDL: each hunting query becomes a prepared statement" logged "[update-prepared-statement] [--work-group] [auditlake-wg] [--statement-name] [hunt] [--query-statement] [SELECT x FROM a WHERE x > ?]"
check "stack name from the option" logged "[cloudformation] [describe-stacks] [--stack-name] [lake-contoso]"

# Architecture: sam build learns it from the option, or from samconfig.toml's overrides.
new_workspace
deploy --architecture arm64
check "arm64: sam build and the guided deploy get Architecture=arm64" bash -c "
    grep -qF 'sam [build] [--beta-features] [--template-file] [template.yaml] [--parameter-overrides] [Architecture=arm64]' '$W/log' &&
    grep -qF 'sam [deploy] [--guided] [--stack-name] [auditlake] [--parameter-overrides] [Architecture=arm64]' '$W/log'"
new_workspace
printf 'version = 0.1\n[default.deploy.parameters]\nstack_name = "lake"\nparameter_overrides = "TenantId=\\"t\\" Architecture=\\"arm64\\""\n' > "$W/samconfig.toml"
STUB_CURSOR_EXISTS=1 deploy
check "arm64 from samconfig.toml: build for it, deploy with samconfig's overrides untouched" bash -c "
    grep -qF '[--parameter-overrides] [Architecture=arm64]' '$W/log' &&
    grep '^sam \[deploy\]' '$W/log' | grep -vqF 'parameter-overrides'"
new_workspace
deploy --architecture sparc
check "an unknown architecture is refused" bash -c "[[ $status != 0 ]] && grep -q 'x86_64 or arm64' '$W/out' && [[ ! -s '$W/log' ]]"

# Failures are loud.
new_workspace
STUB_FAIL="sam build" deploy --secret-file "$TMP/secret.txt"
check "sam build failing fails the script" bash -c "[[ $status != 0 ]] && grep -q '^error: sam build failed' '$W/out'"
check "nothing deployed after a failed build" not_logged "sam [deploy]"
new_workspace
STUB_FAIL="sam deploy" deploy
check "sam deploy failing fails the script" bash -c "[[ $status != 0 ]] && grep -q '^error: sam deploy --guided failed' '$W/out'"
new_workspace
STUB_FAIL="aws ssm put-parameter" deploy --secret-file "$TMP/secret.txt"
check "a failed put-parameter stops before building" bash -c "[[ $status != 0 ]] && grep -q 'put-parameter failed' '$W/out' && ! grep -q '^sam' '$W/log'"
check "a failed put-parameter leaks no secret" no_secret_in_output "$SECRET"
new_workspace
deploy --secret-file "$TMP/secret.txt" --cert-file "$TMP/cert.pem"
check "two credentials refused" bash -c "[[ $status != 0 ]] && grep -q 'give one of' '$W/out' && [[ ! -s '$W/log' ]]"
new_workspace
deploy --secret-file "$TMP/secret.txt" --credential-only
check "--credential-only: stores and stops" bash -c "[[ $status == 0 ]] && grep -q 'client-secret' '$W/log' && ! grep -q '^sam' '$W/log'"

printf '%s passed, %s failed\n' "$passed" "$failed"
(( failed == 0 ))
