#!/usr/bin/env bash
# The newcomer's demo: three MariaDB servers on 127.0.0.1:13306-13308 and TiProxy on 127.0.0.1:6000
# in front of them. Data lives in run/demo/ and is reused by later runs. Ctrl-C stops everything
# this script started.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

backend_ports=(13306 13307 13308)
proxy_port=6000
api_port=3080
run_dir=$repo/run/demo
os_user=$(id -un)

say() { printf 'demo: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

port_in_use() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

# ---- processes we started, stopped on exit (Ctrl-C, SIGTERM, error or the proxy ending) ----
proxy_pid=""
backend_pids=()

# shellcheck disable=SC2317 # reached through the EXIT trap
stop_pid() { # pid name seconds: SIGTERM, wait, then SIGKILL
  local pid=$1 name=$2 seconds=$3
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + seconds))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name (pid $pid) did not stop within ${seconds}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  trap - EXIT
  trap '' INT TERM # a second Ctrl-C must not cut the (bounded) cleanup short
  if [[ -n $proxy_pid ]]; then
    say "stopping the proxy (pid $proxy_pid)"
    stop_pid "$proxy_pid" tiproxy 30
  fi
  local pid
  for pid in "${backend_pids[@]}"; do
    say "stopping mariadbd (pid $pid)"
    stop_pid "$pid" mariadbd 60
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 0. tools ----
./scripts/deps.sh

# ---- 1. ports: fail early and clearly ----
for port in "${backend_ports[@]}" "$proxy_port" "$api_port"; do
  if port_in_use "$port"; then
    hint=""
    pid_file=$run_dir/mariadb-$port/mysqld.pid
    if [[ -f $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
      hint=" by a demo mariadbd (pid $(cat "$pid_file")): is another demo running? Stop it with Ctrl-C there, or: kill $(cat "$pid_file")"
    fi
    die "port $port on 127.0.0.1 is already in use$hint. The demo needs ports ${backend_ports[*]}, $proxy_port and $api_port."
  fi
done

# ---- 2. the proxy jar, built unless up to date ----
jar=target/tiproxy.jar
if [[ ! -f $jar ]] || [[ -n $(find src/main pom.xml -newer "$jar" -print -quit) ]]; then
  say "building $jar (mvn -B -q -DskipTests package)..."
  mvn -B -q -DskipTests package || die "build failed"
fi

# ---- 3. three MariaDB servers ----
cli() { # port: the mariadb client as the OS user over the unix socket (socket auth as root)
  mariadb --no-defaults --protocol=SOCKET --socket="$run_dir/mariadb-$1/mysqld.sock" --user="$os_user" \
    --batch --skip-column-names --connect-timeout=5 "${@:2}"
}

start_backend() { # index port
  local index=$1 port=$2
  local dir=$run_dir/mariadb-$port
  mkdir -p "$dir/tmp"
  cat >"$dir/my.cnf" <<EOF
[mysqld]
user=$os_user
port=$port
bind-address=127.0.0.1
socket=$dir/mysqld.sock
datadir=$dir/data
pid-file=$dir/mysqld.pid
log-error=$dir/error.log
tmpdir=$dir/tmp
server-id=$index
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
performance_schema=OFF
skip-name-resolve
max_connections=1000
max_connect_errors=1000000
local-infile=1
EOF
  if [[ ! -d $dir/data/mysql ]]; then
    say "initialising $dir"
    rm -rf "$dir/data"
    mariadb-install-db --defaults-file="$dir/my.cnf" --skip-test-db --auth-root-authentication-method=socket \
      >"$dir/install.log" 2>&1 || { tail -20 "$dir/install.log" >&2; die "mariadb-install-db failed for port $port"; }
  fi
  mariadbd --defaults-file="$dir/my.cnf" >>"$dir/mariadbd.out" 2>&1 </dev/null &
  local pid=$!
  backend_pids+=("$pid")

  local deadline=$((SECONDS + 60))
  until mariadb-admin --no-defaults --protocol=SOCKET --socket="$dir/mysqld.sock" --user="$os_user" \
      --connect-timeout=2 ping >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$dir/error.log" >&2 || true
      die "mariadbd on port $port exited while starting (log: $dir/error.log)"
    fi
    ((SECONDS < deadline)) || { tail -20 "$dir/error.log" >&2 || true; die "mariadbd on port $port not up within 60s"; }
    sleep 0.2
  done

  if [[ ! -f $dir/accounts.done ]]; then
    cli "$port" <<'SQL' || die "creating the demo accounts on port $port failed"
CREATE DATABASE IF NOT EXISTS test;
CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('app-pass');
GRANT ALL PRIVILEGES ON *.* TO 'app'@'%';
CREATE USER IF NOT EXISTS 'tiproxy_svc'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('svc-pass');
GRANT SELECT ON mysql.global_priv TO 'tiproxy_svc'@'%';
GRANT SELECT ON mysql.user TO 'tiproxy_svc'@'%';
SQL
    touch "$dir/accounts.done"
  fi
  say "mariadbd on 127.0.0.1:$port is up (pid $pid, server_id $index, data $dir)"
}

mkdir -p "$run_dir"
for i in "${!backend_ports[@]}"; do
  start_backend $((i + 1)) "${backend_ports[$i]}"
done

# ---- 4. the proxy's config: conf/proxy.yaml with the demo's backends and loopback addresses ----
backends=$(printf '"127.0.0.1:%s", ' "${backend_ports[@]}")
backends="[${backends%, }]"
sed -E \
  -e "s|^  addr: \"[^\"]*:$proxy_port\"|  addr: \"127.0.0.1:$proxy_port\"|" \
  -e "s|^  addr: \"[^\"]*:$api_port\"|  addr: \"127.0.0.1:$api_port\"|" \
  -e "s|^  backends: .*|  backends: $backends|" \
  -e 's|^  service-user: .*|  service-user: "tiproxy_svc"|' \
  -e 's|^  service-password: .*|  service-password: "svc-pass"|' \
  conf/proxy.yaml >"$run_dir/proxy.yaml"
grep -qF "  backends: $backends" "$run_dir/proxy.yaml" \
  || die "could not set the backends in $run_dir/proxy.yaml: has the format of conf/proxy.yaml changed?"

# ---- 5. the proxy ----
say "starting: bin/tiproxy --config run/demo/proxy.yaml"
bin/tiproxy --config "$run_dir/proxy.yaml" </dev/null &
proxy_pid=$!

deadline=$((SECONDS + 60))
until port_in_use "$proxy_port"; do
  kill -0 "$proxy_pid" 2>/dev/null || { wait "$proxy_pid" || true; proxy_pid=""; die "the proxy exited while starting (see its output above)"; }
  ((SECONDS < deadline)) || die "the proxy did not listen on port $proxy_port within 60s"
  sleep 0.2
done

cat >&2 <<EOF

  TiProxy is listening on 127.0.0.1:$proxy_port, in front of MariaDB on ports ${backend_ports[*]}.
  Connect with:

    mariadb -h127.0.0.1 -P$proxy_port -uapp -papp-pass test

  Try SELECT @@server_id; several times from new connections to see the backends.
  HTTP API and /metrics: http://127.0.0.1:$api_port   (admin CLI: bin/tiproxyctl)
  Ctrl-C stops the proxy and the three servers.

EOF

status=0
wait "$proxy_pid" || status=$?
if ! kill -0 "$proxy_pid" 2>/dev/null; then
  wait "$proxy_pid" 2>/dev/null || true
  proxy_pid=""
  say "the proxy exited (status $status)"
fi
exit "$status"
