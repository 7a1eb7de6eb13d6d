#!/bin/sh
# Builds the VPS module's test guest once and caches it (idempotent, safe to run in parallel).
#
#   scripts/build-test-guest.sh            -> prints the cache directory holding
#        vmlinuz      Debian's linux-image-*-cloud-amd64 kernel (apt-get download, no install)
#        initrd.img   busybox-static initramfs whose /init reads a NoCloud seed (ISO labelled
#                     "cidata"): sets the hostname from meta-data, installs ssh_authorized_keys
#                     from user-data, prints final_message, takes a DHCP lease, counts boots on
#                     the disk, handles the ACPI power button, and runs getty on ttyS0
#        base.qcow2   a 64 MiB ext4 disk (the "image" VPS disks are overlays on)
#        manifest.json
#
# Why this guest and not a full Debian + cloud-init image: it reaches its login prompt in ~2-4 s
# under TCG (a full systemd Debian needs 15-23 s, see ENGINES.md), so the real-libvirt test can
# boot it, reboot it and revert a snapshot inside a CI budget on two shared cores. It proves the
# panel's side of cloud-init (seed ISO layout, label, meta-data/user-data/network-config, keys and
# hostname merged in, disk overlay and resize, serial console, DHCP reservation), not cloud-init
# itself. Every line it prints for tests starts with "SLIPWAY-GUEST: ".
set -eu

CACHE=${SLIPWAY_TEST_CACHE:-/var/cache/slipway-test}
VERSION=guest-v1
SELF_HASH=$(sha256sum "$0" | cut -c1-12)
OUT="$CACHE/$VERSION-$SELF_HASH"

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock 9

if [ -f "$OUT/manifest.json" ]; then
  echo "$OUT"
  exit 0
fi

need() { command -v "$1" >/dev/null 2>&1 || { echo "build-test-guest: missing $1 ($2)" >&2; exit 1; }; }
need busybox busybox-static
need apt-get apt
need dpkg-deb dpkg
need mkfs.ext4 e2fsprogs
need qemu-img qemu-utils

WORK=$(mktemp -d "$CACHE/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# --- kernel -------------------------------------------------------------------------------------
KPKG=$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)
[ -n "$KPKG" ] || { echo "build-test-guest: cannot resolve linux-image-cloud-amd64" >&2; exit 1; }
apt-get download "$KPKG" >/dev/null 2>&1 || { echo "build-test-guest: apt-get download $KPKG failed" >&2; exit 1; }
dpkg-deb -x ./"$KPKG"_*.deb k
# shellcheck disable=SC2012  # kernel version directory names are plain
KVER=$(ls k/lib/modules | head -n1)
cp k/boot/vmlinuz-"$KVER" vmlinuz

# --- initramfs ----------------------------------------------------------------------------------
R=root
mkdir -p $R/bin $R/etc/acpi/PWRF $R/proc $R/sys $R/dev $R/run $R/tmp $R/seed $R/mnt $R/root $R/usr/share/udhcpc $R/lib/modules/"$KVER"
cp "$(command -v busybox)" $R/bin/busybox
for a in $(busybox --list); do [ -e $R/bin/"$a" ] || ln -s busybox $R/bin/"$a"; done
ln -s bin $R/sbin
ln -s ../bin $R/usr/bin
ln -s ../bin $R/usr/sbin

busybox depmod -b k "$KVER"
MODS="virtio_pci virtio_blk virtio_net ata_piix sr_mod isofs button evdev"
for m in $MODS; do
  line=$(grep -E "/$m\.ko:" k/lib/modules/"$KVER"/modules.dep)
  for f in $(echo "$line" | tr -d ':'); do
    mkdir -p "$R/lib/modules/$KVER/$(dirname "$f")"
    cp "k/lib/modules/$KVER/$f" "$R/lib/modules/$KVER/$f"
  done
done
busybox depmod -b $R "$KVER"

cat >$R/etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
cat >$R/etc/group <<'EOF'
root:x:0:
EOF
# no password: getty shows "login:", and a login (password locked) never succeeds
cat >$R/etc/shadow <<'EOF'
root:!:19000:0:99999:7:::
EOF
chmod 600 $R/etc/shadow

cat >$R/etc/inittab <<'EOF'
::sysinit:/etc/rc.sh
ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100
::ctrlaltdel:/sbin/reboot
::shutdown:/etc/rc.shutdown
EOF

cat >$R/etc/acpi/PWRF/00000080 <<'EOF'
#!/bin/sh
echo "SLIPWAY-GUEST: acpi power button" >/dev/ttyS0
poweroff
EOF
chmod +x $R/etc/acpi/PWRF/00000080

cat >$R/etc/rc.shutdown <<'EOF'
#!/bin/sh
echo "SLIPWAY-GUEST: shutting down" >/dev/ttyS0
sync
umount /mnt 2>/dev/null
EOF
chmod +x $R/etc/rc.shutdown

cat >$R/usr/share/udhcpc/default.script <<'EOF'
#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "${router:-}" ] && ip route replace default via "${router%% *}" dev "$interface"
    echo "SLIPWAY-GUEST: ip=$ip" >/dev/ttyS0
    ;;
esac
exit 0
EOF
chmod +x $R/usr/share/udhcpc/default.script

cat >$R/etc/rc.sh <<'EOF'
#!/bin/sh
say() { echo "SLIPWAY-GUEST: $*" >/dev/ttyS0; }
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for m in virtio_pci virtio_blk virtio_net ata_piix sr_mod isofs button evdev; do modprobe "$m" 2>/dev/null; done
say "init"
seed=""
i=0
while [ $i -lt 50 ]; do
  # busybox blkid misses CD-ROMs: read the ISO 9660 volume id (offset 0x8028) of each candidate
  for d in /dev/sr0 /dev/sr1 /dev/vd[b-z]; do
    [ -b "$d" ] || continue
    vol=$(dd if="$d" bs=1 skip=32808 count=32 2>/dev/null | tr -d ' ')
    [ "$vol" = "cidata" ] || [ "$vol" = "CIDATA" ] && { seed=$d; break; }
  done
  [ -n "$seed" ] && break
  i=$((i + 1)); sleep 0.1
done
if [ -n "$seed" ] && mount -t iso9660 -o ro "$seed" /seed; then
  say "seed=$seed"
  h=$(sed -n 's/^local-hostname: *//p' /seed/meta-data | tr -d "\"'")
  iid=$(sed -n 's/^instance-id: *//p' /seed/meta-data | tr -d "\"'")
  [ -n "$h" ] && hostname "$h" && echo "$h" >/etc/hostname
  say "instance-id=$iid"
  say "hostname=$(hostname)"
  mkdir -p /root/.ssh && chmod 700 /root/.ssh
  # the "- key" lines of the ssh_authorized_keys list (as the panel's YAML writer prints them)
  awk '/^ssh_authorized_keys:/ {on=1; next} on && /^ *- / {sub(/^ *- */, ""); gsub(/^["'"'"']|["'"'"']$/, ""); print; next} on && !/^ / {on=0}' /seed/user-data >/root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
  say "keys=$(grep -c . /root/.ssh/authorized_keys)"
  while read -r t k c; do [ -n "$t" ] && say "key $t $c"; done </root/.ssh/authorized_keys
  fm=$(sed -n 's/^final_message: *//p' /seed/user-data | sed "s/^[\"']//; s/[\"']\$//")
  [ -n "$fm" ] && say "final_message=$fm"
  [ -f /seed/network-config ] && say "network-config=yes"
else
  say "seed=none $(ls /dev | tr '\n' ' ') $(blkid | tr '\n' ' ')"
fi
if [ -b /dev/vda ]; then
  say "disk-bytes=$(( $(cat /sys/block/vda/size) * 512 ))"
  if mount -t ext4 /dev/vda /mnt 2>/dev/null; then
    n=$(cat /mnt/boot-count 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" >/mnt/boot-count; sync
    say "boot-count=$n"
    [ -f /mnt/slipway-image ] && say "image=$(cat /mnt/slipway-image)"
  fi
fi
ip link set lo up
if ip link show eth0 >/dev/null 2>&1; then
  ip link set eth0 up
  say "mac=$(cat /sys/class/net/eth0/address)"
  udhcpc -i eth0 -b -q -t 10 -T 1 -s /usr/share/udhcpc/default.script >/dev/null 2>&1 &
fi
acpid -c /etc/acpi 2>/dev/null
say "ready"
EOF
chmod +x $R/etc/rc.sh
ln -s bin/busybox $R/init 2>/dev/null || true
rm -f $R/init && ln -s /bin/init $R/init

(cd $R && find . | busybox cpio -o -H newc 2>/dev/null | gzip -9) >initrd.img

# --- base disk ----------------------------------------------------------------------------------
mkdir -p disk
echo "slipway-test-guest-v1" >disk/slipway-image
mkfs.ext4 -q -F -L slipway-root -d disk disk.raw 64M >/dev/null
qemu-img convert -q -f raw -O qcow2 disk.raw base.qcow2
rm -f disk.raw

mkdir -p "$OUT.tmp"
mv vmlinuz initrd.img base.qcow2 "$OUT.tmp/"
chmod 0644 "$OUT.tmp"/*
cat >"$OUT.tmp/manifest.json" <<EOF
{"version":"$VERSION","scriptHash":"$SELF_HASH","kernelPackage":"$KPKG","kernelVersion":"$KVER","cmdline":"console=ttyS0 loglevel=3 panic=-1","builtAt":$(date +%s)000}
EOF
chmod 0755 "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "$OUT"
