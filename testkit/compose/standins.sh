#!/usr/bin/env bash
# Builds the stand-in images the compose test runs docker-compose.yml with: `postgres:16` and
# `rabbitmq:3.13-management` (Docker Hub, where the real ones live, cannot be reached here), and
# a receiver. They are test fixtures made from Debian's own packages, honouring the part of the
# official images' contract the compose file relies on; they are never part of Herald.
#
# Each image carries a label with a hash of what it is made from: an image already built from the
# same files is kept, so only the first run on a machine (or a change to its files) pays for the
# build. The Debian root filesystem they share is made once with debootstrap and kept in $cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${HERALD_FIXTURE_CACHE:-/var/cache/herald-test}
suite=bookworm
packages=postgresql-15,rabbitmq-server,python3-minimal,ca-certificates
label=org.herald.fixture
base_version=$(echo "$suite $packages" | sha256sum | cut -c1-16)

current() { # image version -> true when the image exists and carries that version
  [ "$(docker image inspect --format "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null)" = "$2" ]
}

# A real image of the same name (pulled from Docker Hub on a machine that can) is never replaced.
for tag in postgres:16 rabbitmq:3.13-management herald-fixture/receiver:latest; do
  if docker image inspect "$tag" >/dev/null 2>&1 &&
    [ -z "$(docker image inspect --format "{{index .Config.Labels \"$label\"}}" "$tag")" ]; then
    echo "standins: $tag exists and is not a stand-in; remove it or use another Docker engine" >&2
    exit 1
  fi
done

rootfs_tar="$cache/debian-$base_version.tar"
if ! [ -s "$rootfs_tar" ]; then
  echo "standins: debootstrap $suite with $packages (once per machine)" >&2
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase --include="$packages" "$suite" "$work/root" http://deb.debian.org/debian >"$work/log" 2>&1 ||
    { tail -n 40 "$work/log" >&2; exit 1; }
  # The cluster Debian's postinst creates is not the one the stand-in serves; apt's lists and
  # caches only make the images larger.
  rm -rf "$work/root/var/lib/postgresql/15/main" "$work/root/etc/postgresql/15/main" \
    "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
  tar -C "$work/root" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$rootfs_tar"
  rm -rf "$work"
  trap - EXIT
fi

# Each image is one imported layer: the Debian root with the stand-in's own files (the directory
# of its name here) added, its configuration given as Dockerfile instructions. `docker build`
# would copy the whole root filesystem for every instruction on the vfs storage driver.
standin() { # tag directory instruction...
  local tag=$1 dir=$here/$2 version image
  shift 2
  version=$( (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum && echo "$base_version $*") |
    sha256sum | cut -c1-16)
  if current "$tag" "$version"; then return 0; fi
  echo "standins: building $tag" >&2
  image=$(mktemp "$cache/image.XXXXXX")
  trap 'rm -f "$image"' EXIT
  cp "$rootfs_tar" "$image"
  # Files only: their directories are the base's, with its owners and modes.
  (cd "$dir" && find . -type f | sort | tar --owner=0 --group=0 --files-from=- -rf "$image")
  local changes=(--change "LABEL $label=$version")
  for instruction in "$@"; do changes+=(--change "$instruction"); done
  local replaced
  replaced=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  docker import "${changes[@]}" "$image" "$tag" >/dev/null
  rm -f "$image"
  trap - EXIT
  # The stand-in this one replaces, now untagged.
  if [ -n "$replaced" ]; then docker rmi "$replaced" >/dev/null 2>&1 || true; fi
}

standin postgres:16 postgres \
  'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  'ENV PGDATA=/var/lib/postgresql/data' \
  'VOLUME /var/lib/postgresql/data' \
  'EXPOSE 5432' \
  'ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]'
standin rabbitmq:3.13-management rabbitmq \
  'ENV HOME=/var/lib/rabbitmq' \
  'VOLUME /var/lib/rabbitmq' \
  'EXPOSE 5672 15672' \
  'ENTRYPOINT ["/usr/local/bin/rabbitmq-entrypoint"]'
standin herald-fixture/receiver:latest receiver \
  'USER nobody' \
  'EXPOSE 8000' \
  'ENTRYPOINT ["python3", "-u", "/usr/local/bin/receiver.py"]'
