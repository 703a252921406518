#!/bin/bash
# mailinfra relay gateway for blueprint {{blueprint}}: Postfix relays for the
# allowed networks, OpenDKIM signs. Rendered by mailinfra; safe to run twice.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
GATEWAY_HOSTNAME='{{hostname}}'
REGION='{{region}}'
KEY_PARAMETER='{{key_parameter}}'

hostnamectl set-hostname "$GATEWAY_HOSTNAME" 2>/dev/null || hostname "$GATEWAY_HOSTNAME"
echo "$GATEWAY_HOSTNAME" > /etc/mailname
echo "postfix postfix/main_mailer_type select Internet Site" | debconf-set-selections
echo "postfix postfix/mailname string $GATEWAY_HOSTNAME" | debconf-set-selections
apt-get update -q
apt-get install -y -q postfix opendkim awscli

# Postfix: relay for mynetworks only, sign through OpenDKIM, TLS when offered.
{{postconf}}
# OpenDKIM: signing mode, one key table entry per signing domain.
install -d -m 0750 -o opendkim -g opendkim /etc/opendkim {{key_dir}}
{{opendkim_files}}
# The private key, from SSM with the instance's own role; readable by opendkim alone.
umask 077
TMP_KEY=$(mktemp)
aws ssm get-parameter --region "$REGION" --name "$KEY_PARAMETER" --with-decryption --query Parameter.Value --output text > "$TMP_KEY"
install -m 0600 -o opendkim -g opendkim "$TMP_KEY" {{key_path}}
rm -f "$TMP_KEY"

systemctl enable opendkim postfix
systemctl restart opendkim postfix
