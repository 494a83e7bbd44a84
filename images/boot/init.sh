#!/bin/busybox sh
# PID 1 of a PyTI guest VM (runs from the initramfs; no systemd). It loads the virtio and ext4
# modules, mounts the job's root disk (a throwaway overlay, serial pyti-root), leaves its read-only
# input disk (serial pyti-input) and its scratch disk (serial pyti-scratch) to the attach script the
# agent runs when the host initializes it, lays out the same mounts as the sandbox backend, starts
# the vm-agent on the virtio-serial port named org.pyti.agent, and powers off when the agent exits.
/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "pyti-init: $*"; }
fail() { say "FATAL: $*"; poweroff -f; }
# The host's accelerator probe boots with pyti.probe: answer and power off at once.
case " $(cat /proc/cmdline) " in *" pyti.probe "*) say "probe ok"; poweroff -f ;; esac
while read -r m; do
  case "$m" in ''|'#'*) continue ;; esac
  insmod "/modules/${m##*/}.ko" 2>/dev/null || say "insmod $m failed"
done < /modules.txt
# Settings from the kernel command line: pyti.tmp=BYTES pyti.work=BYTES
tmp_size=1073741824; work_size=4294967296
for a in $(cat /proc/cmdline); do
  case "$a" in pyti.tmp=*) tmp_size=${a#pyti.tmp=} ;; pyti.work=*) work_size=${a#pyti.work=} ;; esac
done
root=; input=; scratch=; i=0
while [ $i -lt 50 ]; do
  for b in /sys/block/vd*; do
    [ -e "$b/serial" ] || continue
    case "$(cat "$b/serial")" in
      pyti-root) root=/dev/${b##*/} ;; pyti-input) input=/dev/${b##*/} ;; pyti-scratch) scratch=/dev/${b##*/} ;;
    esac
  done
  [ -n "$root" ] && [ -n "$input" ] && [ -n "$scratch" ] && break
  i=$((i + 1)); sleep 0.1
done
[ -n "$root" ] || fail "no root disk (serial pyti-root)"
[ -n "$input" ] || fail "no input disk (serial pyti-input)"
[ -n "$scratch" ] || fail "no scratch disk (serial pyti-scratch)"
mount -t ext4 -o noatime "$root" /newroot || fail "cannot mount the root disk $root"
r=/newroot
# The console is a virtio console (hvc0): it works across snapshot and restore, a UART does not.
[ -e /dev/hvc0 ] && exec > /dev/hvc0 2>&1
# The agent is copied out of the input disk, which is then released: the input disk is mounted only
# when the host initializes the agent (the attach script below), so a booted, idle guest can be
# snapshotted and restored with another job's input disk.
mkdir -p /in $r/run/pyti
mount -t ext4 -o ro "$input" /in || fail "cannot mount the input disk $input"
cp /in/agent/agent.mjs $r/run/pyti/agent.mjs || fail "no agent on the input disk"
umount /in
blockdev --flushbufs "$input" 2>/dev/null
# The attach script runs on the critical path of every job (before the agent's hello): it uses this
# static busybox, whose applets start in about 8 ms under TCG, where the root's dynamically linked
# mount, mkdir and chmod take 60–85 ms each (23 of them cost about 1.5 s per job).
bb=/run/pyti/busybox
cp /bin/busybox $r$bb && chmod 755 $r$bb || fail "cannot copy busybox into the root"
cat > $r/run/pyti/attach-input <<ATTACH
#!/bin/sh
# Written by the PyTI init: mounts the job's input disk read-only and binds its parts in place, and
# puts /tmp and /work (with the home, /work/home) on the job's scratch disk (until then they are small tmpfs).
# Buffers first: a restored guest may still cache blocks of the disks its template was booted with.
set -e
$bb blockdev --flushbufs $input 2>/dev/null || true
$bb blockdev --flushbufs $scratch 2>/dev/null || true
$bb mkdir -p /opt/pyti/in
$bb mount -t ext4 -o ro,noexec,nodev,nosuid $input /opt/pyti/in
for p in input:/input wheelhouse:/wheelhouse agent:/opt/pyti/agent tasks:/opt/pyti/tasks; do
  $bb mount --bind /opt/pyti/in/\${p%%:*} \${p#*:}
  $bb mount -o remount,bind,ro \${p#*:}
done
$bb mkdir -p /opt/pyti/scratch
$bb mount -t ext4 -o noatime,nodev,nosuid $scratch /opt/pyti/scratch
$bb mkdir -p /opt/pyti/scratch/tmp /opt/pyti/scratch/work
$bb chmod 1777 /opt/pyti/scratch/tmp
$bb chmod 755 /opt/pyti/scratch/work
for p in tmp:/tmp work:/work; do
  $bb umount \${p#*:} 2>/dev/null || $bb umount -l \${p#*:}
  $bb mount --bind /opt/pyti/scratch/\${p%%:*} \${p#*:}
done
ATTACH
chmod 700 $r/run/pyti/attach-input
mount -t tmpfs -o size=$tmp_size,mode=1777 tmpfs $r/tmp
mount -t tmpfs -o size=$work_size,mode=755 tmpfs $r/work
mount -t proc proc $r/proc
mount -t devtmpfs devtmpfs $r/dev
# ptys: every task has one as its controlling terminal (vm-agent/src/task-terminal.ts)
mkdir -p $r/dev/pts && mount -t devpts -o ptmxmode=0666,mode=0620 devpts $r/dev/pts
mount -t sysfs -o ro sysfs $r/sys
port=
for p in /sys/class/virtio-ports/vport*; do
  [ "$(cat "$p/name" 2>/dev/null)" = org.pyti.agent ] && port=/dev/${p##*/}
done
[ -n "$port" ] || fail "no virtio-serial port named org.pyti.agent"
hostname alex-thinkpad
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null
echo 3 > /proc/sys/vm/drop_caches
say "ready: starting the agent on $port"
chroot $r /usr/bin/env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 PYTI_GUEST=vm PYTI_ATTACH=/run/pyti/attach-input \
  node /run/pyti/agent.mjs --port "$port"
say "agent ended ($?)"
sync
poweroff -f
