#!/bin/bash
# mailinfra: fetches the gateway's DKIM private key from SSM, with the instance's role, into
# OpenDKIM's key file. systemd runs it before every start of opendkim (ExecStartPre of the
# drop-in opendkim.service.d/mailinfra.conf), so every boot fetches the key again. It retries
# with backoff; when every attempt fails it records why in $STATE_DIR/dkim-key.failed (and in
# the journal) and fails, so opendkim stays down, Postfix keeps mail waiting
# (milter_default_action = tempfail) rather than sending it unsigned, and systemd tries again.
set -uo pipefail
REGION='{{region}}'
KEY_PARAMETER='{{key_parameter}}'
KEY_PATH='{{key_path}}'
STATE_DIR='/var/lib/mailinfra'
ATTEMPTS=6
umask 077
mkdir -p "$STATE_DIR"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
delay=2
error=''
for attempt in $(seq 1 "$ATTEMPTS"); do
  if error=$(aws ssm get-parameter --region "$REGION" --name "$KEY_PARAMETER" --with-decryption \
      --query Parameter.Value --output text 2>&1 >"$tmp") && [ -s "$tmp" ]; then
    install -m 0600 -o opendkim -g opendkim "$tmp" "$KEY_PATH"
    rm -f "$STATE_DIR/dkim-key.failed"
    date -u +%Y-%m-%dT%H:%M:%SZ > "$STATE_DIR/dkim-key.fetched"
    echo "mailinfra: DKIM key fetched from SSM $KEY_PARAMETER (attempt $attempt)"
    exit 0
  fi
  error=$(printf '%s' "${error:-empty value}" | tr -s '\n' ' ')
  echo "mailinfra: DKIM key fetch from SSM $KEY_PARAMETER, attempt $attempt of $ATTEMPTS, failed: $error" >&2
  if [ "$attempt" -lt "$ATTEMPTS" ]; then
    sleep "$delay"
    delay=$((delay * 2))
  fi
done
printf '%s %s attempts; last error: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$ATTEMPTS" "$error" > "$STATE_DIR/dkim-key.failed"
echo "mailinfra: DKIM key not fetched after $ATTEMPTS attempts; opendkim stays stopped and mail waits (systemd tries again in 30 s): $error" >&2
exit 1
