#!/bin/sh
# Builds the interdict Debian package from a built binary:
#   images/deb/build.sh BINARY OUTDIR [VERSION]
# dpkg-deb (part of dpkg, on every Debian machine) assembles it: the
# package is a binary plus a few files, with no build of its own, so
# neither debhelper nor a packaging tool from outside Debian (nfpm) is
# needed. The .deb is written to OUTDIR; its path is printed.
set -eu
bin=$1
out=$2
version=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ -z "$version" ]; then
	version=$(git -C "$repo" describe --tags --always 2>/dev/null || echo 0)
fi
# Debian versions start with a digit: an untagged commit becomes 0~gitHASH.
case $version in
[0-9]*) ;;
*) version="0~git$version" ;;
esac
version=$(printf %s "$version" | tr -c 'A-Za-z0-9.+~\n' '~')
arch=$(dpkg --print-architecture)

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"
install -D -m 0755 "$bin" "$root/usr/bin/interdict"
install -D -m 0644 "$repo/images/systemd/interdict.service" "$root/lib/systemd/system/interdict.service"
install -D -m 0644 "$repo/images/systemd/tun.conf" "$root/usr/share/interdict/systemd/tun.conf"
install -D -m 0644 "$repo/images/systemd/logrotate" "$root/etc/logrotate.d/interdict"
install -D -m 0644 "$here/config.yaml" "$root/etc/interdict/config.yaml"
install -D -m 0644 "$repo/configs/prometheus/alerts.yaml" "$root/usr/share/interdict/prometheus/alerts.yaml"
install -D -m 0644 "$repo/configs/grafana/interdict.json" "$root/usr/share/interdict/grafana/interdict.json"
install -D -m 0644 "$repo/README.md" "$root/usr/share/doc/interdict/README.md"
for f in "$repo"/docs/*.md; do
	install -D -m 0644 "$f" "$root/usr/share/doc/interdict/docs/$(basename "$f")"
done
install -D -m 0644 "$repo/LICENSE" "$root/usr/share/doc/interdict/copyright"

mkdir -p "$root/DEBIAN"
size=$(du -sk "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: interdict
Version: $version
Architecture: $arch
Maintainer: interdict developers <interdict@localhost>
Installed-Size: $size
Section: net
Priority: optional
Homepage: https://github.com/interdict/interdict
Description: userspace intrusion prevention appliance
 interdict terminates every flow that crosses it in a userspace TCP/IP
 stack (gVisor netstack), inspects each direction's bytes with Suricata
 rules and forwards only what was inspected. Runs as a WireGuard hub or on
 a TUN device; EVE JSON, Prometheus metrics, an admin API.
CONTROL
printf '%s\n' /etc/interdict/config.yaml /etc/logrotate.d/interdict >"$root/DEBIAN/conffiles"
install -m 0755 "$here/postinst" "$root/DEBIAN/postinst"
install -m 0755 "$here/prerm" "$root/DEBIAN/prerm"
install -m 0755 "$here/postrm" "$root/DEBIAN/postrm"

mkdir -p "$out"
deb="$out/interdict_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
