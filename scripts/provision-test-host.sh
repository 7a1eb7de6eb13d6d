#!/usr/bin/env bash
# Installs and starts the real engines Slipway's tests talk to. Idempotent: safe to run again.
# Debian 12, root. Only Debian's packages and the npm registry are reachable.
set -euo pipefail

log() { printf '[provision] %s\n' "$*"; }

# What the tests need besides the modules' own host packages (modules/<id>/packages.txt, the list
# scripts/install.sh installs on a server too).
PACKAGES=(
  busybox-static                    # containers tests: locally built images
  openssh-server openssh-client     # SSH process runner and remote hosts
  chromium fonts-dejavu-core        # browser e2e tests through playwright-core
  debootstrap iproute2 procps       # systemd test host, network namespaces
  ipxe-qemu                         # netboot tests: iPXE ROMs for QEMU test machines
  shellcheck                        # every script under scripts/ is checked (install project)
  wrk                               # bench/api.ts: the external HTTP load generator
)
mapfile -t module_packages < <(bash "$(dirname "$0")/module-packages.sh")
PACKAGES+=("${module_packages[@]}")

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps postinst scripts from trying to start daemons without systemd
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/slipway-apt.log 2>&1 \
    || { tail -40 /tmp/slipway-apt.log; exit 1; }
  rm -f /usr/sbin/policy-rc.d
fi

wait_for() { # wait_for <seconds> <command...>
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Docker Engine
if ! docker -H unix:///var/run/docker.sock info >/dev/null 2>&1; then
  log "starting dockerd"
  (dockerd >/var/log/dockerd.log 2>&1 &)
  wait_for 30 docker -H unix:///var/run/docker.sock info || { tail -30 /var/log/dockerd.log; exit 1; }
fi

# Local busybox image: no registry is reachable, so build it from the static busybox binary.
if ! docker image inspect slipway-test/busybox:1 >/dev/null 2>&1; then
  log "building slipway-test/busybox:1"
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/www" "$root/tmp" "$root/etc"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'hello from busybox' >"$root/www/index.html"
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - slipway-test/busybox:1 >/dev/null
  rm -rf "$root"
fi

# Caddy: admin API on loopback only. An empty config; Slipway loads its own through /load.
if ! curl -fsS http://127.0.0.1:2019/config/ >/dev/null 2>&1; then
  log "starting caddy"
  (caddy run >/var/log/caddy-slipway.log 2>&1 &)
  wait_for 20 curl -fsS http://127.0.0.1:2019/config/ || { tail -30 /var/log/caddy-slipway.log; exit 1; }
fi

# Netdata (API v1 on 127.0.0.1:19999)
if ! curl -fsS http://127.0.0.1:19999/api/v1/info >/dev/null 2>&1; then
  log "starting netdata"
  mkdir -p /var/cache/netdata /var/lib/netdata /var/log/netdata
  chown -R netdata:netdata /var/cache/netdata /var/lib/netdata /var/log/netdata 2>/dev/null || true
  netdata -D -i 127.0.0.1 >/var/log/netdata-slipway.log 2>&1 &
  wait_for 60 curl -fsS http://127.0.0.1:19999/api/v1/info || log "warning: netdata did not answer"
fi

# tgt iSCSI target daemon
if ! tgtadm --lld iscsi --op show --mode target >/dev/null 2>&1; then
  log "starting tgtd"
  (tgtd -f >/var/log/tgtd.log 2>&1 &)
  wait_for 10 tgtadm --lld iscsi --op show --mode target || log "warning: tgtd did not answer"
fi

# libvirt (vps module): no systemd here, so start the daemons directly.
# /dev/kvm comes up root-only (no udev rule here). libvirt probes QEMU as root (sees KVM) but then
# checks /dev/kvm as libvirt-qemu: the mismatch invalidates its capability cache on every call, and
# each `virsh define` re-probes QEMU (~55 s). Group kvm (libvirt-qemu is a member) fixes it; guests
# still run under TCG (accel.ts decides, see ENGINES.md).
if [ -c /dev/kvm ] && getent group kvm >/dev/null 2>&1; then
  { chgrp kvm /dev/kvm && chmod 660 /dev/kvm; } || true
fi
if command -v libvirtd >/dev/null 2>&1 && ! virsh -c qemu:///system version >/dev/null 2>&1; then
  log "starting virtlogd and libvirtd"
  virtlogd -d || true
  libvirtd -d
  wait_for 20 virsh -c qemu:///system version || { log "error: libvirtd did not answer"; exit 1; }
fi

# --- server module: a real systemd host for tests -------------------------------------------
# A Debian rootfs with systemd as PID 1, sshd and nginx, imported as slipway-test/systemd:1.
# Built once (~40 s) and reused; tests run it as a container and reach it over SSH.
if ! docker image inspect slipway-test/systemd:1 >/dev/null 2>&1; then
  log "building slipway-test/systemd:1 (debootstrap, ~1 min)"
  sysroot=$(mktemp -d /var/tmp/slipway-systemd.XXXXXX)
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,openssh-server,nginx \
    bookworm "$sysroot" http://deb.debian.org/debian >/tmp/slipway-debootstrap.log 2>&1 \
    || { tail -40 /tmp/slipway-debootstrap.log; rm -rf "$sysroot"; exit 1; }
  mkdir -p "$sysroot/root/.ssh" && chmod 700 "$sysroot/root/.ssh"
  # sshd's host keys are generated at first boot of each container, not baked into the image
  rm -f "$sysroot"/etc/ssh/ssh_host_*
  ln -sf /lib/systemd/system/ssh.service "$sysroot/etc/systemd/system/multi-user.target.wants/ssh.service"
  cat >"$sysroot/etc/systemd/system/ssh-hostkeys.service" <<'UNIT'
[Unit]
Description=Generate SSH host keys
Before=ssh.service
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
UNIT
  ln -sf /etc/systemd/system/ssh-hostkeys.service "$sysroot/etc/systemd/system/multi-user.target.wants/ssh-hostkeys.service"
  tar -C "$sysroot" -c . | docker import - slipway-test/systemd:1 >/dev/null
  rm -rf "$sysroot"
fi

# --- vps module: the Debian cloud-init guest its real-guest test boots -------------------------
# debootstrap + Debian's cloud kernel + GRUB, built once per machine into /var/cache/slipway-ci
# (keyed by the script's hash; the .debs are kept there too). Instant when cached.
guest_t0=$SECONDS
guest_dir=$(sh "$(dirname "$0")/build-debian-guest.sh") || { log "error: the Debian test guest did not build"; exit 1; }
log "Debian test guest: $guest_dir ($((SECONDS - guest_t0)) s)"

mkdir -p /run/sshd
log "ready"
