#!/bin/bash
# mailinfra relay gateway for blueprint {{blueprint}}, relaying through Amazon SES: Postfix
# relays for the allowed networks to {{endpoint}} over verified TLS with SMTP credentials;
# SES signs (DKIM of the identity). Rendered by mailinfra; safe to run twice.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
GATEWAY_HOSTNAME='{{hostname}}'
REGION='{{region}}'
CREDENTIALS_PARAMETER='{{credentials_parameter}}'

hostnamectl set-hostname "$GATEWAY_HOSTNAME" 2>/dev/null || hostname "$GATEWAY_HOSTNAME"
echo "$GATEWAY_HOSTNAME" > /etc/mailname
echo "postfix postfix/main_mailer_type select Internet Site" | debconf-set-selections
echo "postfix postfix/mailname string $GATEWAY_HOSTNAME" | debconf-set-selections
apt-get update -q
# libsasl2-modules: Postfix's SASL client needs its PLAIN and LOGIN mechanisms for SES.
apt-get install -y -q postfix libsasl2-modules ca-certificates awscli

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

systemctl enable postfix
systemctl restart postfix || echo "mailinfra: postfix is not running yet (see {{state_dir}}/ses-credentials.failed); systemd keeps trying" >&2
