#!/usr/bin/env bash
# Builds the container image (Dockerfile at the top of the tree): `make docker`.
# Needs the docker command and a running Docker engine; says clearly which one is missing otherwise.
# Image name: $TIPROXY_IMAGE (default tiproxy-java:dev). Extra `docker build` arguments pass through.
set -euo pipefail

home=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
image=${TIPROXY_IMAGE:-tiproxy-java:dev}

if ! command -v docker >/dev/null 2>&1; then
  echo "make docker: the docker command is not installed here; install Docker, or build the image elsewhere with: docker build -t $image ." >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "make docker: no Docker engine is running here ('docker info' fails); start one, or build the image on a machine that has it: docker build -t $image ." >&2
  exit 1
fi
exec docker build -t "$image" "$@" "$home"
