#!/usr/bin/env bash
# Installs Slipway as a systemd service from this checkout: /opt/slipway, data in /var/lib/slipway.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
src=$(cd "$(dirname "$0")/.." && pwd)
id slipway >/dev/null 2>&1 || useradd --system --home /var/lib/slipway --shell /usr/sbin/nologin slipway
# Docker and libvirt access for the modules that use them.
for g in docker libvirt; do getent group "$g" >/dev/null && usermod -aG "$g" slipway; done
install -d -o slipway -g slipway -m 0700 /var/lib/slipway
install -d -m 0755 /etc/slipway /opt/slipway
[ -f /etc/slipway/slipway.env ] || printf 'SLIPWAY_LISTEN=127.0.0.1:8420\n' >/etc/slipway/slipway.env
cp -a "$src/package.json" "$src/package-lock.json" "$src/server" "$src/modules" "$src/web" "$src/tsconfig"*.json "$src/bin" /opt/slipway/
cd /opt/slipway
npm_config_nodedir=/usr npm ci --no-audit --no-fund
npm run build
npm prune --omit=dev
install -m 0644 "$src/deploy/slipway.service" /etc/systemd/system/slipway.service
systemctl daemon-reload
systemctl enable --now slipway
echo "Slipway is starting; the setup link is in: journalctl -u slipway"
