#!/usr/bin/env bash
# Installs what building and testing TiProxy for Java needs on Debian/Ubuntu, if it is missing:
# JDK 17, Maven, MariaDB server and client, Galera, rsync (Galera's SST), etcd, sysbench, HAProxy,
# make, curl, openssl (test certificates) and Prometheus (promtool checks the /metrics output). Safe to run again: when everything is there it only checks and says so.
set -euo pipefail

# package -> a command it provides ("" = check the package itself with dpkg)
packages=(
  "openjdk-17-jdk-headless:javac"
  "maven:mvn"
  "mariadb-server:mariadbd"
  "mariadb-client:mariadb"
  "galera-4:"
  "rsync:rsync"
  "etcd-server:etcd"
  "etcd-client:etcdctl"
  "sysbench:sysbench"
  "haproxy:haproxy"
  "make:make"
  "curl:curl"
  "openssl:openssl"
  "prometheus:promtool"
)

log() { printf 'deps: %s\n' "$*" >&2; }

# mariadbd lives in /usr/sbin, which an ordinary user's PATH may lack
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

is_installed() {
  local pkg=$1 cmd=$2
  if [[ -n $cmd ]] && ! command -v "$cmd" >/dev/null 2>&1; then
    return 1
  fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for entry in "${packages[@]}"; do
  pkg=${entry%%:*}
  cmd=${entry#*:}
  is_installed "$pkg" "$cmd" || missing+=("$pkg")
done

# javac must be 17 or newer (an older default JDK would fail the build with a confusing error)
if command -v javac >/dev/null 2>&1; then
  javac_major=$(javac -version 2>&1 | sed -E 's/^javac ([0-9]+).*/\1/')
  if [[ $javac_major =~ ^[0-9]+$ ]] && (( javac_major < 17 )); then
    log "javac $javac_major found; JDK 17 is needed"
    [[ " ${missing[*]} " == *" openjdk-17-jdk-headless "* ]] || missing+=(openjdk-17-jdk-headless)
  fi
fi

if (( ${#missing[@]} == 0 )); then
  log "all dependencies present"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  log "missing: ${missing[*]}"
  log "no apt-get here: install these by hand (see README)"
  exit 1
fi

sudo_cmd=()
if (( EUID != 0 )); then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    log "missing: ${missing[*]}"
    log "not root and no sudo: install them as root with: apt-get install ${missing[*]}"
    exit 1
  fi
fi

log "installing: ${missing[*]}"
apt_log=$(mktemp)
trap 'rm -f "$apt_log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$apt_log" 2>&1; then
  cat "$apt_log" >&2
  log "apt-get update failed"
  exit 1
fi
if ! "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq "${missing[@]}" >"$apt_log" 2>&1; then
  cat "$apt_log" >&2
  log "apt-get install failed"
  exit 1
fi

still_missing=()
for entry in "${packages[@]}"; do
  pkg=${entry%%:*}
  cmd=${entry#*:}
  is_installed "$pkg" "$cmd" || still_missing+=("$pkg")
done
if (( ${#still_missing[@]} > 0 )); then
  log "still missing after install: ${still_missing[*]}"
  exit 1
fi
log "installed: ${missing[*]}"
