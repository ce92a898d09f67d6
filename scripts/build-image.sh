#!/usr/bin/env bash
# Builds flapwatch's image from deploy/Dockerfile, its OCI labels filled in from package.json and git:
#   bash scripts/build-image.sh TAG [more arguments for the builder]
# BUILDER names the tool: docker (the default), podman or buildah; each takes `build -f … -t … --build-arg …`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 1 ]]; then
  echo "usage: $0 TAG [builder arguments]" >&2
  exit 2
fi
tag=$1
shift
builder=${BUILDER:-docker}
version=$(sed -n 's/^  "version": "\([^"]*\)",$/\1/p' package.json)
args=(-f deploy/Dockerfile -t "$tag"
  --build-arg VERSION="$version" --build-arg REVISION="$(git rev-parse HEAD)"
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)")
# BuildKit finds deploy/Dockerfile.dockerignore beside the Dockerfile by itself; buildah and podman are told
[[ $builder == docker ]] || args+=(--ignorefile deploy/Dockerfile.dockerignore)
exec "$builder" build "${args[@]}" "$@" .
