#!/usr/bin/env bash
# PyTI guest root filesystem recipe (Debian bookworm, minbase).
# Usage: recipe.sh TARGET_DIR
# The Debian mirror is taken from $PYTI_DEBIAN_MIRROR, else from the host's apt sources.
# Everything that changes the image's contents lives in this file or in packages.txt:
# the image cache key is the hash of this directory.
set -euo pipefail
target=$1
here=$(cd "$(dirname "$0")" && pwd)
suite=bookworm

mirror=${PYTI_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -hoE '^(URIs:[[:space:]]*|deb[[:space:]]+)[^[:space:]]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -n1 | awk '{print $NF}' || true)
fi
[ -n "$mirror" ] || { echo "recipe: no Debian mirror configured (set PYTI_DEBIAN_MIRROR)" >&2; exit 2; }

packages=$(grep -vE '^\s*(#|$)' "$here/packages.txt" | tr '\n' ',' | sed 's/,$//')
echo "step 1/3: debootstrap $suite (minbase) from the host's mirror"
debootstrap --variant=minbase --include="$packages" "$suite" "$target" "$mirror"

echo "step 2/3: configure the guest"
# The unprivileged users that run package code: one per parallel task slot (uid 2000+i). They look
# like a laptop's developers, not a sandbox (payloads check for "sandbox" names), and each home
# /home/<name> is a symlink to /work/home: the home is on the work tree's mount, so a rename(2) from
# the work tree into ~ works (across mount points it is EXDEV). The agent creates /work/home.
i=0
for who in "alex:Alex Morgan" "sam:Sam Carter" "maria:Maria Lopez" "daniel:Daniel Novak" \
           "emma:Emma Fischer" "lucas:Lucas Martin" "sofia:Sofia Rossi" "james:James Walker"; do
  uid=$((2000 + i)); name=${who%%:*}
  echo "$name:x:$uid:$uid:${who#*:},,,:/home/$name:/bin/bash" >> "$target/etc/passwd"
  echo "$name:x:$uid:" >> "$target/etc/group"
  ln -sfn /work/home "$target/home/$name"
  i=$((i + 1))
done
# Mount points for the agent, the task helpers, inputs and the work areas.
mkdir -p "$target/opt/pyti/agent" "$target/opt/pyti/tasks" "$target/input" "$target/wheelhouse" \
         "$target/work"
# There is no network inside. Name lookups still happen (and are traced): they go to loopback.
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$target/etc/resolv.conf"
printf '127.0.0.1 localhost\n127.0.1.1 alex-thinkpad\n::1 localhost\n' > "$target/etc/hosts"
printf 'alex-thinkpad\n' > "$target/etc/hostname"
# Modules malware assumes without declaring them (requests, colorama, dnspython,
# psutil and their dependencies) move out of dist-packages into /opt/pyti/fallback-modules, without
# their metadata: pip and importlib.metadata do not see them, so a declared dependency still resolves
# to what the wheelhouse has, and the traced phases append the directory to the end of sys.path.
fallback="$target/opt/pyti/fallback-modules"
mkdir -p "$fallback"
for m in requests urllib3 idna certifi chardet charset_normalizer colorama dns psutil; do
  src="$target/usr/lib/python3/dist-packages/$m"
  [ -e "$src" ] && mv "$src" "$fallback/"
  rm -rf "$target/usr/lib/python3/dist-packages/$m"-*.dist-info "$target/usr/lib/python3/dist-packages/$m"-*.egg-info
done
for f in "$target"/usr/lib/python3/dist-packages/_cffi_backend*.so; do [ -e "$f" ] && mv "$f" "$fallback/"; done
rm -rf "$target"/usr/lib/python3/dist-packages/dnspython-* "$target"/usr/lib/python3/dist-packages/cffi-*.egg-info \
       "$target"/usr/lib/python3/dist-packages/charset_normalizer-* "$target"/usr/lib/python3/dist-packages/psutil-*
ls "$fallback" > "$target/opt/pyti/fallback-modules.txt"
# Keep the image small: apt lists, caches and docs are not needed at run time.
rm -rf "$target/var/cache/apt/archives/"*.deb "$target/var/lib/apt/lists/"* \
       "$target/usr/share/doc/"* "$target/usr/share/man/"* "$target/usr/share/info/"*

echo "step 3/3: record versions"
chroot "$target" /usr/bin/python3 - <<'PY' > "$target/opt/pyti/image-versions.json"
import json, platform, sys, importlib.metadata as md
names = ["pip", "setuptools", "wheel", "build", "pytest", "coverage", "pylint", "pycodestyle"]
out = {"python": platform.python_version(), "platform": sys.platform, "machine": platform.machine()}
for n in names:
    try:
        out[n] = md.version(n)
    except md.PackageNotFoundError:
        out[n] = None
print(json.dumps(out))
PY
echo "recipe: done"
