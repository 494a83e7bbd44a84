#!/bin/busybox sh
# PID 1 of a PyTI guest VM (runs from the initramfs; no systemd). It loads the virtio and ext4
# modules, mounts the job's root disk (a throwaway overlay, serial pyti-root) and its read-only input
# disk (serial pyti-input), lays out the same mounts as the sandbox backend, starts the vm-agent on
# the virtio-serial port named org.pyti.agent, and powers off when the agent exits.
/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "pyti-init: $*" > /dev/console; }
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
root=; input=; i=0
while [ $i -lt 50 ]; do
  for b in /sys/block/vd*; do
    [ -e "$b/serial" ] || continue
    case "$(cat "$b/serial")" in pyti-root) root=/dev/${b##*/} ;; pyti-input) input=/dev/${b##*/} ;; esac
  done
  [ -n "$root" ] && [ -n "$input" ] && break
  i=$((i + 1)); sleep 0.1
done
[ -n "$root" ] || fail "no root disk (serial pyti-root)"
[ -n "$input" ] || fail "no input disk (serial pyti-input)"
mount -t ext4 -o noatime "$root" /newroot || fail "cannot mount the root disk $root"
r=/newroot
mkdir -p $r/opt/pyti/in
mount -t ext4 -o ro,noexec,nodev,nosuid "$input" $r/opt/pyti/in || fail "cannot mount the input disk $input"
mount --bind $r/opt/pyti/in/input $r/input && mount -o remount,bind,ro $r/input
mount --bind $r/opt/pyti/in/wheelhouse $r/wheelhouse && mount -o remount,bind,ro $r/wheelhouse
mount --bind $r/opt/pyti/in/agent $r/opt/pyti/agent && mount -o remount,bind,ro $r/opt/pyti/agent
mount --bind $r/opt/pyti/in/tasks $r/opt/pyti/tasks && mount -o remount,bind,ro $r/opt/pyti/tasks
mount -t tmpfs -o size=$tmp_size,mode=1777 tmpfs $r/tmp
mount -t tmpfs -o size=$work_size,mode=755 tmpfs $r/work
mount -t tmpfs -o size=$tmp_size,mode=755 tmpfs $r/home/pyti
mount -t proc proc $r/proc
mount -t devtmpfs devtmpfs $r/dev
mount -t sysfs -o ro sysfs $r/sys
port=
for p in /sys/class/virtio-ports/vport*; do
  [ "$(cat "$p/name" 2>/dev/null)" = org.pyti.agent ] && port=/dev/${p##*/}
done
[ -n "$port" ] || fail "no virtio-serial port named org.pyti.agent"
hostname pyti-guest
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null
say "ready: starting the agent on $port"
chroot $r /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8 node /opt/pyti/agent/agent.mjs --port "$port" 2> /dev/console
say "agent exited with $?"
sync
poweroff -f
