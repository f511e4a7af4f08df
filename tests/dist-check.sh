#!/usr/bin/env bash
# Smoke test for a release binary from `make dist` (nsqd, nsqlookupd, nsqadmin or a tool): ldd must call it
# static, `--version` must print the version line, and the daemon must bind 127.0.0.1:0,
# answer GET /ping with OK and exit 0 on SIGTERM. Usage: tests/dist-check.sh path/to/bin
set -euo pipefail

bin=${1:?usage: $0 path/to/nsqd-nsqlookupd-or-nsqadmin}
name=$(basename "$bin")
# Failure bound for startup and shutdown; polled, never slept through.
limit_s=20

fail() { echo "dist-check: $bin: $*" >&2; exit 1; }

ldd_out=$(ldd "$bin" 2>&1 || true)
grep -Eq "not a dynamic executable|statically linked" <<<"$ldd_out" \
    || fail "not statically linked; ldd says: $ldd_out"

# The tools (no listener): usage on -h, and Go's `<tool> v1.3.0` where Go has --version.
case "$name" in
    nsq_*|to_nsq)
        usage=$("$bin" -h 2>&1) || fail "-h exited non-zero"
        # Go's nsq_to_file names its flag set "nsqd", and its usage says so.
        grep -Eq "^Usage of ($bin|nsqd):" <<<"$usage" || fail "-h printed: $usage"
        if grep -q '^  -version$' <<<"$usage"; then
            version=$("$bin" --version) || fail "--version exited non-zero"
            [ "$version" = "$name v1.3.0" ] || fail "--version printed: $version"
        fi
        echo "dist-check: $bin: static, usage OK"
        exit 0
        ;;
esac

version=$("$bin" --version) || fail "--version exited non-zero"
grep -Eq "^$name v1\.3\.0 \(built w/[a-z0-9.-]+\)\$" <<<"$version" \
    || fail "--version printed: $version"

dir=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

# nsqadmin has only an HTTP listener and needs an upstream (not contacted to start).
case "$name" in
    nsqd) args=(--tcp-address=127.0.0.1:0 --data-path="$dir") ;;
    nsqadmin) args=(--nsqd-http-address=127.0.0.1:4151) ;;
    *) args=(--tcp-address=127.0.0.1:0) ;;
esac
: >"$dir/log"  # exists before the poll below reads it
"$bin" --http-address=127.0.0.1:0 "${args[@]}" >"$dir/log" 2>&1 &
pid=$!

# Poll the startup log for the bound HTTP address.
addr=
deadline=$((SECONDS + limit_s))
while [ -z "$addr" ]; do
    addr=$(grep -o 'HTTP: listening on [0-9.]*:[0-9]*' "$dir/log" | awk '{print $4}' || true)
    kill -0 "$pid" 2>/dev/null || fail "exited during startup: $(cat "$dir/log")"
    [ "$SECONDS" -lt "$deadline" ] || fail "no HTTP listen line in ${limit_s}s: $(cat "$dir/log")"
    [ -n "$addr" ] || sleep 0.1
done

# GET /ping over bash's /dev/tcp, so the check needs no HTTP client.
exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}"
printf 'GET /ping HTTP/1.0\r\nHost: %s\r\n\r\n' "$addr" >&3
reply=$(timeout "$limit_s" cat <&3 || true)
exec 3<&-
head -n1 <<<"$reply" | grep -q ' 200 ' || fail "GET /ping: $reply"
[ "$(tail -n1 <<<"$reply")" = "OK" ] || fail "GET /ping body: $reply"

kill -TERM "$pid"
deadline=$((SECONDS + limit_s))
while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "still running ${limit_s}s after SIGTERM"
    sleep 0.1
done
status=0
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || fail "exited $status after SIGTERM: $(cat "$dir/log")"

echo "dist-check: $bin: static, $version, /ping OK, clean SIGTERM exit"
