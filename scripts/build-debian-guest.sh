#!/bin/sh
# Builds the VPS module's Debian test guest once per machine and caches it (idempotent, safe to run
# in parallel: a lock serialises builds, the result is moved into place atomically).
#
#   scripts/build-debian-guest.sh   -> prints the cache directory holding
#        debian.qcow2    a bootable 2 GiB Debian 12 (bookworm) disk: one MBR partition (ext4, /),
#                        GRUB (i386-pc) in the MBR gap with its menu on ttyS0, Debian's
#                        linux-image-cloud-amd64, systemd, udev, ifupdown + DHCP client,
#                        openssh-server, sudo, cloud-init (datasource NoCloud only) and
#                        cloud-guest-utils (growpart: the root grows to the VPS's disk)
#        manifest.json
#
# Only Debian's packages, from the machine's configured mirror (debootstrap; no other download).
# No loop device, no mount: the file system is written with `mkfs.ext4 -d` at the partition's
# offset, and GRUB's boot.img + core.img (grub-mkimage, run inside the new root) are written into
# the MBR and the gap before the partition (what grub-install does for a BIOS disk).
#
# The VPS module boots it like any uploaded image: a qcow2 overlay resized to the plan's disk, and
# a NoCloud seed ISO (label cidata). cloud-init's default user is `debian` (sudo without password,
# password locked): the seed's ssh_authorized_keys go there. Only ed25519 host keys are generated
# at first boot (RSA key generation takes many seconds under TCG).
#
# Cache: $SLIPWAY_CI_CACHE (default /var/cache/slipway-ci)/debian-guest-v1-<hash of this script>.
set -eu

CACHE=${SLIPWAY_CI_CACHE:-/var/cache/slipway-ci}
VERSION=debian-guest-v1
SELF_HASH=$(sha256sum "$0" | cut -c1-12)
OUT="$CACHE/$VERSION-$SELF_HASH"
SIZE_MIB=2048

mkdir -p "$CACHE"
exec 9>"$CACHE/.debian-guest.lock"
flock 9

if [ -f "$OUT/manifest.json" ]; then
  echo "$OUT"
  exit 0
fi

need() { command -v "$1" >/dev/null 2>&1 || { echo "build-debian-guest: missing $1 ($2)" >&2; exit 1; }; }
need debootstrap debootstrap
need mkfs.ext4 e2fsprogs
need qemu-img qemu-utils
[ "$(id -u)" = 0 ] || { echo "build-debian-guest: must run as root (debootstrap)" >&2; exit 1; }

# The machine's Debian mirror (deb822 sources first, then the one-line format).
MIRROR=$(sed -n 's/^URIs: *\([^ ]*\/debian\)\/\{0,1\}$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$MIRROR" ] || MIRROR=$(sed -n 's/^deb  *\(\[[^]]*\]  *\)\{0,1\}\([^ ]*\/debian\)\/\{0,1\}  *bookworm .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1)
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian

START=$(date +%s)
WORK=$(mktemp -d /var/tmp/slipway-debian-guest.XXXXXX)
R="$WORK/root"
cleanup() {
  for m in "$R/dev/pts" "$R/dev" "$R/proc" "$R/sys"; do umount "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

PKGS=systemd-sysv,udev,dbus,kmod,ifupdown,isc-dhcp-client,iproute2,netbase,openssh-server,sudo,cloud-init,cloud-guest-utils,fdisk,e2fsprogs,linux-image-cloud-amd64,grub-pc-bin,ca-certificates,python3-cffi-backend
export DEBIAN_FRONTEND=noninteractive
# (debootstrap keeps the packages' postinst scripts from starting daemons in the chroot)
# python3-cffi-backend: debootstrap does not resolve virtual packages (python3-cryptography needs
# python3-cffi-backend-api-min). The .debs are kept in $CACHE/debs for the next build.
mkdir -p "$CACHE/debs"
debootstrap --variant=minbase --cache-dir="$CACHE/debs" --include="$PKGS" bookworm "$R" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { cat "$R/debootstrap/debootstrap.log" >"$CACHE/debian-guest-debootstrap.log" 2>/dev/null; tail -20 "$WORK/debootstrap.log" >&2; echo "build-debian-guest: see $CACHE/debian-guest-debootstrap.log" >&2; exit 1; }

# shellcheck disable=SC2012  # kernel version directory names are plain
KVER=$(ls "$R/lib/modules" | head -n1)
if [ ! -f "$R/boot/vmlinuz-$KVER" ] || [ ! -f "$R/boot/initrd.img-$KVER" ]; then
  echo "build-debian-guest: kernel or initramfs missing" >&2; exit 1
fi
UUID=$(cat /proc/sys/kernel/random/uuid)

# --- configuration -----------------------------------------------------------------------------
echo "debian" >"$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
printf 'UUID=%s\t/\text4\tdefaults,errors=remount-ro\t0\t1\n' "$UUID" >"$R/etc/fstab"
printf 'auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n' >"$R/etc/network/interfaces"
mkdir -p "$R/etc/network/interfaces.d"
: >"$R/etc/machine-id"   # a new one at first boot of every VPS
rm -f "$R/var/lib/dbus/machine-id"
rm -f "$R"/etc/ssh/ssh_host_*   # cloud-init generates the guest's own host keys

cat >"$R/etc/cloud/cloud.cfg.d/90-slipway.cfg" <<'EOF'
# Slipway test guest: the NoCloud seed ISO only (no network datasource probing at boot).
datasource_list: [ NoCloud ]
datasource:
  NoCloud:
    fs_label: cidata
ssh_genkeytypes: [ ed25519 ]
ssh_deletekeys: true
locale: false
# no package mirror is reachable from the guest
apt_preserve_sources_list: true
package_update: false
package_upgrade: false
EOF
# ds-identify: NoCloud only, decided without probing others
printf 'datasource: NoCloud\npolicy: enabled\n' >"$R/etc/cloud/ds-identify.cfg"

# The serial console: GRUB and the kernel on ttyS0 (systemd starts serial-getty@ttyS0 from it).
CMDLINE="root=UUID=$UUID ro console=tty0 console=ttyS0,115200n8 net.ifnames=0 quiet"
mkdir -p "$R/boot/grub/i386-pc"
cp "$R"/usr/lib/grub/i386-pc/*.mod "$R"/usr/lib/grub/i386-pc/*.lst "$R/boot/grub/i386-pc/"
cat >"$R/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
set default=0
menuentry 'Debian GNU/Linux (Slipway test guest)' {
  insmod part_msdos
  insmod ext2
  search --no-floppy --fs-uuid --set=root $UUID
  linux /boot/vmlinuz-$KVER $CMDLINE
  initrd /boot/initrd.img-$KVER
}
EOF
chroot "$R" grub-mkimage -O i386-pc -o /tmp/core.img -p '(hd0,msdos1)/boot/grub' \
  biosdisk part_msdos ext2 search search_fs_uuid normal linux serial terminal configfile echo test
cp "$R/tmp/core.img" "$WORK/core.img"
cp "$R/usr/lib/grub/i386-pc/boot.img" "$WORK/boot.img"

# Smaller image: no package lists, caches, docs or logs.
chroot "$R" apt-get clean
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/usr/share/doc/* "$R"/usr/share/man/* \
  "$R"/usr/share/info/* "$R"/var/log/*.log "$R"/tmp/* "$R"/var/cache/debconf/*-old
find "$R/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true

# --- disk: MBR, GRUB, ext4 at 1 MiB --------------------------------------------------------------
D="$WORK/disk.raw"
truncate -s "${SIZE_MIB}M" "$D"
# one primary partition, bootable, type 83, LBA 2048 to the end (CHS fields "beyond 8 GiB")
# shellcheck disable=SC2059  # an octal escape built from a number, not user text
le32() { n=$1; i=0; while [ $i -lt 4 ]; do printf "\\$(printf %o $((n & 255)))"; n=$((n >> 8)); i=$((i + 1)); done; }
{ printf '\200\376\377\377\203\376\377\377'; le32 2048; le32 $((SIZE_MIB * 2048 - 2048)); } \
  | dd of="$D" bs=1 seek=446 conv=notrunc status=none
printf '\125\252' | dd of="$D" bs=1 seek=510 conv=notrunc status=none
CORE_SECTORS=$(( ($(stat -c %s "$WORK/core.img") + 511) / 512 ))
[ "$CORE_SECTORS" -lt 2047 ] || { echo "build-debian-guest: core.img too large ($CORE_SECTORS sectors)" >&2; exit 1; }
dd if="$WORK/boot.img" of="$D" bs=440 count=1 conv=notrunc status=none
dd if="$WORK/core.img" of="$D" bs=512 seek=1 conv=notrunc status=none
mkfs.ext4 -q -F -L slipway-root -U "$UUID" -E offset=1048576 -d "$R" "$D" "$(( (SIZE_MIB - 1) * 1024 ))k" >/dev/null
qemu-img convert -q -f raw -O qcow2 -c "$D" "$WORK/debian.qcow2"

mkdir -p "$OUT.tmp"
mv "$WORK/debian.qcow2" "$OUT.tmp/"
CI_VER=$(sed -n '/^Package: cloud-init$/,/^$/s/^Version: //p' "$R/var/lib/dpkg/status")
cat >"$OUT.tmp/manifest.json" <<EOF
{"version":"$VERSION","scriptHash":"$SELF_HASH","suite":"bookworm","mirror":"$MIRROR","kernelVersion":"$KVER","cloudInit":"$CI_VER","rootUuid":"$UUID","defaultUser":"debian","sha256":"$(sha256sum "$OUT.tmp/debian.qcow2" | cut -d' ' -f1)","virtualSizeMiB":$SIZE_MIB,"buildSeconds":$(( $(date +%s) - START )),"builtAt":$(date +%s)000}
EOF
chmod 0644 "$OUT.tmp"/*
chmod 0755 "$OUT.tmp"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "$OUT"
