#!/bin/bash
# mailinfra relay gateway for blueprint {{blueprint}}, relaying through Amazon SES: Postfix
# relays for the allowed networks to {{endpoint}} over verified TLS with SMTP credentials;
# SES signs (DKIM of the identity). Rendered by mailinfra; safe to run twice.
set -Eeuo pipefail
export DEBIAN_FRONTEND=noninteractive
GATEWAY_HOSTNAME='{{hostname}}'
REGION='{{region}}'
CREDENTIALS_PARAMETER='{{credentials_parameter}}'

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
# libsasl2-modules: Postfix's SASL client needs its PLAIN and LOGIN mechanisms for SES.
apt-get install -y -q postfix libsasl2-modules ca-certificates

step='configure postfix'
# Postfix: relay for mynetworks only, on to SES with TLS required and verified, and SASL.
{{postconf}}install -d -m 0755 /etc/postfix/mailinfra
{{postfix_tables}}
# The SMTP credentials: fetched from SSM ($CREDENTIALS_PARAMETER in $REGION) with the
# instance's own role before every start of Postfix, so every boot fetches them again;
# readable by root alone. A failed fetch is retried and left in {{state_dir}}/ses-credentials.failed,
# and Postfix stays stopped: application hosts keep the mail in their queues.
cat > {{fetch_path}} <<'MAILINFRA_EOF'
{{fetch_script}}MAILINFRA_EOF
chmod 0755 {{fetch_path}}
install -d -m 0755 "$(dirname {{drop_in_path}})"
cat > {{drop_in_path}} <<'MAILINFRA_EOF'
{{drop_in}}MAILINFRA_EOF
systemctl daemon-reload

step='start postfix'
systemctl enable postfix
systemctl restart postfix || echo "mailinfra: postfix is not running yet (see {{state_dir}}/ses-credentials.failed); systemd keeps trying" >&2

step='start the health report'
cat > {{health_service_path}} <<'MAILINFRA_EOF'
{{health_service}}MAILINFRA_EOF
cat > {{health_timer_path}} <<'MAILINFRA_EOF'
{{health_timer}}MAILINFRA_EOF
systemctl daemon-reload
systemctl enable --now mailinfra-health.timer
date -u +%Y-%m-%dT%H:%M:%SZ > {{state_dir}}/boot.done
{{health_path}} || echo "mailinfra: the first health report failed; the timer tries again in 5 minutes" >&2
