#!/bin/bash
# mailinfra: fetches the gateway's Amazon SES SMTP credentials (`user:password`) from SSM,
# with the instance's role, into Postfix's SASL password map. systemd runs it before every
# start of Postfix (ExecStartPre of the drop-in postfix@-.service.d/mailinfra.conf), so every
# boot fetches them again. It retries with backoff; when every attempt fails it records why
# in $STATE_DIR/ses-credentials.failed (and in the journal) and fails, so Postfix stays down:
# without credentials SES would refuse the mail (530), and the senders keep it meanwhile.
# The credentials are never printed.
set -uo pipefail
REGION='{{region}}'
CREDENTIALS_PARAMETER='{{credentials_parameter}}'
MAP_PATH='{{map_path}}'
NEXT_HOP='{{next_hop}}'
STATE_DIR='/var/lib/mailinfra'
ATTEMPTS=6
umask 077
mkdir -p "$STATE_DIR" "$(dirname "$MAP_PATH")"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
delay=2
error=''
for attempt in $(seq 1 "$ATTEMPTS"); do
  if error=$(aws ssm get-parameter --region "$REGION" --name "$CREDENTIALS_PARAMETER" --with-decryption \
      --query Parameter.Value --output text 2>&1 >"$tmp") && grep -q '^[^:[:space:]]\+:[^[:space:]]\+$' "$tmp"; then
    printf '%s %s\n' "$NEXT_HOP" "$(cat "$tmp")" > "$tmp.map"
    install -m 0600 -o root -g root "$tmp.map" "$MAP_PATH"
    rm -f "$tmp.map" "$STATE_DIR/ses-credentials.failed"
    date -u +%Y-%m-%dT%H:%M:%SZ > "$STATE_DIR/ses-credentials.fetched"
    echo "mailinfra: SES SMTP credentials fetched from SSM $CREDENTIALS_PARAMETER (attempt $attempt)"
    exit 0
  fi
  [ -n "$error" ] || error='the value is not `user:password`'
  error=$(printf '%s' "$error" | tr -s '\n' ' ')
  echo "mailinfra: SES SMTP credentials fetch from SSM $CREDENTIALS_PARAMETER, attempt $attempt of $ATTEMPTS, failed: $error" >&2
  if [ "$attempt" -lt "$ATTEMPTS" ]; then
    sleep "$delay"
    delay=$((delay * 2))
  fi
done
printf '%s %s attempts; last error: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$ATTEMPTS" "$error" > "$STATE_DIR/ses-credentials.failed"
echo "mailinfra: SES SMTP credentials not fetched after $ATTEMPTS attempts; postfix stays stopped and mail waits at the senders (systemd tries again in 30 s): $error" >&2
exit 1
