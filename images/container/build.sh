#!/bin/sh
# Builds the container image with buildah from a built static binary, with
# no base image to pull and no daemon:
#   images/container/build.sh BINARY TAG [CONFIG]
# CONFIG (default images/container/config.yaml) becomes
# /etc/interdict/config.yaml; the Hyperscan variant passes
# config-hyperscan.yaml with its binary (make image-hyperscan).
# It stages bin/image-root (the binary, the host's CA bundle, passwd and
# group) and bin/image-empty and runs the Containerfile with
# BINARY_FROM=prebuilt. vfs storage and chroot isolation work without
# overlayfs, user namespaces or a container runtime. BUILDAH_FLAGS adds
# global flags (tests pass --root/--runroot of a throwaway store).
set -eu
bin=$1
tag=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
config=${3:-$repo/images/container/config.yaml}
buildah="buildah --storage-driver vfs ${BUILDAH_FLAGS:-}"

[ -x "$bin" ] || { echo "$bin: no such executable (make build)" >&2; exit 1; }
[ -r "$config" ] || { echo "$config: no such config" >&2; exit 1; }
ca=/etc/ssl/certs/ca-certificates.crt
[ -r "$ca" ] || { echo "$ca missing (apt-get install ca-certificates)" >&2; exit 1; }

root="$repo/bin/image-root"
rm -rf "$root" "$repo/bin/image-empty"
mkdir -p "$repo/bin/image-empty"
install -D -m 0755 "$bin" "$root/usr/bin/interdict"
install -D -m 0644 "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
install -m 0644 "$repo/images/container/passwd" "$repo/images/container/group" "$root/etc/"
install -D -m 0644 "$config" "$root/etc/interdict/config.yaml"
mkdir -p "$root/var/lib" "$root/var/log" "$root/run"
# /tmp as on every Unix (sticky, world-writable): `interdict demo` and Go's
# os.TempDir expect it. COPY keeps the mode.
mkdir -p "$root/tmp" && chmod 1777 "$root/tmp"

# --layers --force-rm: without them buildah 1.28 leaves the prebuilt
# stage's working container behind in the store after every build.
$buildah bud --isolation chroot --quiet --layers --force-rm --build-arg BINARY_FROM=prebuilt \
	-f "$repo/images/container/Containerfile" -t "$tag" "$repo" >/dev/null
$buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$tag"
