#!/bin/bash
# mailinfra relay gateway for blueprint {{blueprint}}: Postfix relays for the
# allowed networks, OpenDKIM signs. Rendered by mailinfra; safe to run twice.
set -Eeuo pipefail
export DEBIAN_FRONTEND=noninteractive
GATEWAY_HOSTNAME='{{hostname}}'
REGION='{{region}}'
KEY_PARAMETER='{{key_parameter}}'

# Health: the gateway reports its state to SSM {{health_parameter}} (read by `mailinfra
# status` and `plan`). A failed step is recorded with its name and command, and reported at
# once; the report runs every 5 minutes from a timer once the boot is done.
install -d -m 0755 {{state_dir}}
rm -f {{state_dir}}/boot.failed {{state_dir}}/boot.done
cat > {{health_path}} <<'MAILINFRA_EOF'
{{health_script}}MAILINFRA_EOF
chmod 0755 {{health_path}}
step='start'
boot_failed() {
  local code=$?
  printf '%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$step" "exit $code: $BASH_COMMAND" > {{state_dir}}/boot.failed
  {{health_path}} || true
}
trap boot_failed ERR

step='install awscli'

hostnamectl set-hostname "$GATEWAY_HOSTNAME" 2>/dev/null || hostname "$GATEWAY_HOSTNAME"
echo "$GATEWAY_HOSTNAME" > /etc/mailname
echo "postfix postfix/main_mailer_type select Internet Site" | debconf-set-selections
echo "postfix postfix/mailname string $GATEWAY_HOSTNAME" | debconf-set-selections
apt-get update -q
# awscli first: without it no failure can be reported.
apt-get install -y -q awscli

# Patching: everything the image shipped is brought up to date before the gateway serves,
# then unattended-upgrades installs Debian's security updates daily and reboots at the
# window when one needs it.
step='upgrade packages'
apt-get -y -q -o Dpkg::Options::=--force-confold upgrade
apt-get install -y -q unattended-upgrades
cat > {{unattended_path}} <<'MAILINFRA_EOF'
{{unattended_conf}}MAILINFRA_EOF
cat > {{auto_upgrades_path}} <<'MAILINFRA_EOF'
{{auto_upgrades_conf}}MAILINFRA_EOF

step='install packages'
apt-get install -y -q postfix opendkim python3

step='configure postfix'
# Postfix: relay for mynetworks only, sign through OpenDKIM (mail waits while it is down),
# TLS when offered.
{{postconf}}install -d -m 0755 /etc/postfix/mailinfra
{{postfix_tables}}step='configure opendkim'
# OpenDKIM: signing mode, one key table entry per signing domain.
install -d -m 0750 -o opendkim -g opendkim /etc/opendkim {{key_dir}}
{{opendkim_files}}
# The private key: fetched from SSM ($KEY_PARAMETER in $REGION) with the instance's own role
# before every start of opendkim, so every boot fetches it again; readable by opendkim alone.
# A failed fetch is retried and left in {{state_dir}}/dkim-key.failed.
cat > {{fetch_key_path}} <<'MAILINFRA_EOF'
{{fetch_key_script}}MAILINFRA_EOF
chmod 0755 {{fetch_key_path}}
install -d -m 0755 "$(dirname {{drop_in_path}})"
cat > {{drop_in_path}} <<'MAILINFRA_EOF'
{{drop_in}}MAILINFRA_EOF
systemctl daemon-reload

step='record bounces'
# Hard bounces: recorded every minute in the log group that outlives this instance
# (`mailinfra bounces` lists them); with suppress_hard_bounces, refused at RCPT TO, the table
# rebuilt from the log group first.
cat > {{record_bounces_path}} <<'MAILINFRA_EOF'
{{record_bounces_script}}MAILINFRA_EOF
chmod 0755 {{record_bounces_path}}
touch {{bounced_path}}
postmap {{bounced_path}}
{{record_bounces_path}} restore || echo "mailinfra: the bounce list was not restored; the next recorded bounce adds to it" >&2
cat > {{bounces_service_path}} <<'MAILINFRA_EOF'
{{bounces_service}}MAILINFRA_EOF
cat > {{bounces_timer_path}} <<'MAILINFRA_EOF'
{{bounces_timer}}MAILINFRA_EOF
systemctl daemon-reload
systemctl enable --now mailinfra-bounces.timer

step='start postfix'
systemctl enable opendkim postfix
systemctl restart postfix
# Starting opendkim runs the key fetch. When it fails, systemd starts it again every 30
# seconds, and Postfix answers 451 (try again later) until OpenDKIM signs.
step='start opendkim'
systemctl restart opendkim || echo "mailinfra: opendkim is not running yet (see {{state_dir}}/dkim-key.failed); systemd keeps trying" >&2

step='start the health report'
cat > {{health_service_path}} <<'MAILINFRA_EOF'
{{health_service}}MAILINFRA_EOF
cat > {{health_timer_path}} <<'MAILINFRA_EOF'
{{health_timer}}MAILINFRA_EOF
systemctl daemon-reload
systemctl enable --now mailinfra-health.timer
date -u +%Y-%m-%dT%H:%M:%SZ > {{state_dir}}/boot.done
{{health_path}} || echo "mailinfra: the first health report failed; the timer tries again in 5 minutes" >&2
