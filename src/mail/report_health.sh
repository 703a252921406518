#!/bin/bash
# mailinfra: reports the gateway's state to the SSM parameter $PARAMETER, which `mailinfra
# status` and `mailinfra plan` read. The instance's role may write this one parameter and no
# other. Run by mailinfra-health.timer every 5 minutes, and by the boot script when it ends or
# a step of it fails. Reports: the time, the instance, the SHA-256 of the user data it booted
# with (compared with what the blueprint renders), how the boot went (the failed step and
# why), whether Postfix runs and OpenDKIM answers, a failing DKIM key (or SES credentials)
# fetch, and the queue.
set -uo pipefail
REGION='{{region}}'
PARAMETER='{{health_parameter}}'
STATE_DIR='/var/lib/mailinfra'
CLOUD_DIR='/var/lib/cloud'
POSTFIX_CONFIG=''
MILTER_PORT='{{milter_port}}'

# A JSON string of $1: backslashes and quotes escaped, control characters dropped, at most
# 500 characters (a Standard parameter holds 4 KB).
json() {
  printf '"%s"' "$(printf '%s' "$1" | head -c 500 | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}
# $1 or null when empty.
json_or_null() {
  if [ -n "$1" ]; then json "$1"; else printf 'null'; fi
}

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
instance=$(cat "$CLOUD_DIR/data/instance-id" 2>/dev/null || true)
# The user data as cloud-init received it is gzip (mailinfra compresses it); the hash is of
# the script inside, as mailinfra computes it (gzip -f passes plain user data through).
user_data=$(gzip -dcf "$CLOUD_DIR/instance/user-data.txt" 2>/dev/null | sha256sum | cut -d' ' -f1 || true)

boot='running'
step=''
reason=''
if [ -f "$STATE_DIR/boot.failed" ]; then
  boot='failed'
  IFS=$'\t' read -r _ step reason < "$STATE_DIR/boot.failed" || true
elif [ -f "$STATE_DIR/boot.done" ]; then
  boot='ok'
fi

postfix=(postfix)
postqueue=(postqueue)
if [ -n "$POSTFIX_CONFIG" ]; then
  postfix+=(-c "$POSTFIX_CONFIG")
  postqueue+=(-c "$POSTFIX_CONFIG")
fi
postfix_running=false
if "${postfix[@]}" status >/dev/null 2>&1; then postfix_running=true; fi
# OpenDKIM runs when its milter port answers: that is what Postfix connects to. Relaying
# through SES there is no OpenDKIM (no port): the SMTP credentials fetch counts instead.
opendkim_running=false
if [ -n "$MILTER_PORT" ] && (exec 3<>"/dev/tcp/127.0.0.1/$MILTER_PORT") 2>/dev/null; then opendkim_running=true; fi
key_failed=''
if [ -f "$STATE_DIR/dkim-key.failed" ]; then key_failed=$(cat "$STATE_DIR/dkim-key.failed"); fi
credentials_failed=''
if [ -f "$STATE_DIR/ses-credentials.failed" ]; then credentials_failed=$(cat "$STATE_DIR/ses-credentials.failed"); fi
queue=null
deferred=null
if [ "$postfix_running" = true ] && listing=$("${postqueue[@]}" -j 2>/dev/null); then
  queue=$(printf '%s' "$listing" | grep -c '"queue_id"' || true)
  deferred=$(printf '%s' "$listing" | grep -c '"queue_name": *"deferred"' || true)
fi

report="{\"time\":$(json "$now"),\"instance\":$(json "$instance"),\"user_data_sha256\":$(json "$user_data"),\"boot\":$(json "$boot"),\"boot_step\":$(json_or_null "$step"),\"boot_reason\":$(json_or_null "$reason"),\"postfix_running\":$postfix_running,\"opendkim_running\":$opendkim_running,\"dkim_key_failed\":$(json_or_null "$key_failed"),\"ses_credentials_failed\":$(json_or_null "$credentials_failed"),\"queue\":$queue,\"deferred\":$deferred}"
if ! error=$(aws ssm put-parameter --region "$REGION" --name "$PARAMETER" --type String \
    --overwrite --value "$report" 2>&1 >/dev/null); then
  echo "mailinfra: health report to SSM $PARAMETER failed: $error" >&2
  exit 1
fi
echo "mailinfra: health reported to SSM $PARAMETER: $report"
