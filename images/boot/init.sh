#!/bin/busybox sh
# PID 1 of a PyTI guest VM (runs from the initramfs; no systemd). It loads the virtio and ext4
# modules, mounts the job's root disk (a throwaway overlay, serial pyti-root) and its scratch disk
# (serial pyti-scratch: /tmp and /work), leaves its read-only input disk (serial pyti-input) to the
# attach script the agent runs when the host initializes it, lays out the same mounts as the sandbox
# backend, starts the vm-agent on the virtio-serial port named org.pyti.agent, and powers off when
# the agent exits.
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
# noinit_itable: no background zeroing of inode tables (ext4lazyinit) competing with the jobs.
mount -t ext4 -o noatime,noinit_itable "$root" /newroot || fail "cannot mount the root disk $root"
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
# /tmp and /work (with the home, /work/home) are on the scratch disk, mounted now: a guest restored
# from a warm template wakes with it mounted (the template's scratch disk, empty of any job, is
# copied with its root overlay), so attaching it costs a job nothing.
mkdir -p $r/opt/pyti/scratch
mount -t ext4 -o noatime,noinit_itable,nodev,nosuid "$scratch" $r/opt/pyti/scratch || fail "cannot mount the scratch disk $scratch"
mkdir -p $r/opt/pyti/scratch/tmp $r/opt/pyti/scratch/work
chmod 1777 $r/opt/pyti/scratch/tmp
chmod 755 $r/opt/pyti/scratch/work
mount --bind $r/opt/pyti/scratch/tmp $r/tmp || fail "cannot bind /tmp"
mount --bind $r/opt/pyti/scratch/work $r/work || fail "cannot bind /work"
# The attach script runs on the critical path of every job (before the agent's hello), so it is a
# static busybox shell that the agent starts at its own start and leaves waiting for the job's clock
# (vm-agent/src/attach-helper.ts: no fork of the agent per job). Busybox applets start in about 8 ms
# under TCG, where the root's dynamically linked mount and date take 60-85 ms each. It runs two at
# once: the clock (@SECONDS, when the host's differs) and one `mount -a` of the table below: the
# input disk read-only, noexec, nodev and nosuid, its parts bound in place with the same flags.
# Nothing of the input disk is cached when it is mounted (its buffers were flushed above, before any
# snapshot, and nothing opens it until then), so a pooled guest reads the job's disk, rewritten after
# its restore.
bb=/run/pyti/busybox
cp /bin/busybox $r$bb && chmod 755 $r$bb || fail "cannot copy busybox into the root"
mkdir -p $r/opt/pyti/in
cat > $r/run/pyti/input.fstab <<FSTAB
$input /opt/pyti/in ext4 ro,noexec,nodev,nosuid 0 0
/opt/pyti/in/input /input none bind,ro,noexec,nodev,nosuid 0 0
/opt/pyti/in/wheelhouse /wheelhouse none bind,ro,noexec,nodev,nosuid 0 0
/opt/pyti/in/agent /opt/pyti/agent none bind,ro,noexec,nodev,nosuid 0 0
/opt/pyti/in/tasks /opt/pyti/tasks none bind,ro,noexec,nodev,nosuid 0 0
FSTAB
cat > $r/run/pyti/attach-input <<ATTACH
#!$bb sh
# Written by the PyTI init: sets the clock to \$1 (@SECONDS; - or nothing: leave it) and mounts the
# job's input disk. With --wait, the agent starts it at once and it waits for that argument on stdin.
set -e
clock=\$1
[ "\$clock" != --wait ] || read -r clock
[ -z "\$clock" ] || [ "\$clock" = - ] || $bb date -u -s "\$clock" >/dev/null &
$bb mount -a -T /run/pyti/input.fstab
wait \$! 2>/dev/null || true
ATTACH
chmod 700 $r/run/pyti/attach-input
mount -t proc proc $r/proc
mount -t devtmpfs devtmpfs $r/dev
# ptys: every task has one as its controlling terminal (the task launcher, vm-agent/launcher/pyti-launch.c)
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
