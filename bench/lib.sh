#!/usr/bin/env bash
# Shared by bench/run.sh, bench/idle.sh, bench/profile.sh and bench/drain.sh: dependencies, the proxy jar, MariaDB
# backends, TiProxy and HAProxy started the same way (each under setsid, see below), /proc sampling,
# and cleanup of every process the script started. Source it; do not run it.
#
# Why setsid: the kernel groups CPU time by session (sched_autogroup_enabled=1). A process started
# from this script would otherwise share one autogroup with sysbench, while another started elsewhere
# gets its own, and the comparison would measure the scheduler instead of the proxy. So every process
# of a benchmark (backends, TiProxy, HAProxy, sysbench, the Java clients) gets its own session.

# shellcheck disable=SC2034 # variables used by the scripts that source this file

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
WORK=$BENCH_DIR/.work
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# Ports (loopback only). BENCH_PORT_BASE moves all of them, e.g. BENCH_PORT_BASE=25000.
PORT_BASE=${BENCH_PORT_BASE:-24000}
PROXY_PORT=$((PORT_BASE + 0))
HAPROXY_PORT=$((PORT_BASE + 1))
PROXY_B_PORT=$((PORT_BASE + 2))    # bench/run.sh's optional second TiProxy (target proxy-b)
API_PORT=$((PORT_BASE + 80))
API_B_PORT=$((PORT_BASE + 81))
BACKEND_PORTS=($((PORT_BASE + 306)) $((PORT_BASE + 307)) $((PORT_BASE + 308)))

DB_USER=app
DB_PASSWORD=app-pass
DB_NAME="test"
# The service account TiProxy reads account hashes with (backend.service-user), so that MySQL/MariaDB
# sessions can log in again on another backend when they are moved: bench/drain.sh needs it.
SVC_USER=tiproxy_svc
SVC_PASSWORD=svc-pass
OS_USER=$(id -un)
CLK_TCK=$(getconf CLK_TCK)

PROXY_JAVA_OPTS=${BENCH_PROXY_JAVA_OPTS:--Xms64m -Xmx1g -XX:+UseG1GC -Dio.netty.leakDetection.level=disabled}

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---------------------------------------------------------------- processes and cleanup

declare -A STARTED=()   # pid -> name, stopped in reverse order on exit
STARTED_ORDER=()
PROXY_PID=""
HAPROXY_PID=""
BACKEND_PIDS=()
PROXY_EXTRA_OPTS=()   # extra JVM options for the proxy (e.g. -Dtiproxy.io-threads=2, JFR)
# The proxy's backend section: the service account, as a MySQL/MariaDB deployment that migrates
# sessions configures it (with it the proxy also answers logins of cached accounts itself).
SERVICE_YAML="backend:
  service-user: \"$SVC_USER\"
  service-password: \"$SVC_PASSWORD\""
PROXY_EXTRA_YAML=$SERVICE_YAML   # extra top-level sections for the proxy's config
# BENCH_BACKEND_TRACKING=full (default): the backends' my.cnf sets the session_track_* globals the way
# docs/operations.md recommends for a proxied MySQL/MariaDB, so TiProxy sends no tracking SET at login;
# "default" leaves MariaDB's own defaults (TiProxy then sends one SET per login).
BACKEND_TRACKING=${BENCH_BACKEND_TRACKING:-full}
backend_tracking_cnf() {
  case $BACKEND_TRACKING in
    full) printf '%s\n' "# session tracking as docs/operations.md recommends behind TiProxy" \
      "session_track_system_variables=*" "session_track_schema=ON" "session_track_state_change=ON" \
      "session_track_transaction_info=CHARACTERISTICS" ;;
    default) ;;
    *) die "BENCH_BACKEND_TRACKING must be full or default, got $BACKEND_TRACKING" ;;
  esac
}

# spawn NAME LOGFILE CMD...: starts CMD in its own session, sets SPAWNED_PID to its pid
spawn() {
  local name=$1 log=$2
  shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  SPAWNED_PID=$!
  STARTED[$SPAWNED_PID]=$name
  STARTED_ORDER+=("$SPAWNED_PID")
}

# stop_pid PID NAME SECONDS: SIGTERM, wait, then SIGKILL; only for processes this script started
stop_pid() {
  local pid=$1 name=$2 seconds=$3
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + seconds))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name (pid $pid) did not stop within ${seconds}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  unset "STARTED[$pid]"
}

# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local i pid
  for ((i = ${#STARTED_ORDER[@]} - 1; i >= 0; i--)); do
    pid=${STARTED_ORDER[$i]}
    [[ -n ${STARTED[$pid]:-} ]] || continue
    stop_pid "$pid" "${STARTED[$pid]}" 30
  done
  exit "$status"
}

install_cleanup() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# ---------------------------------------------------------------- environment

ensure_deps() {
  if [[ -x $REPO/scripts/deps.sh ]]; then
    "$REPO/scripts/deps.sh"
  else
    local missing=()
    command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server mariadb-client)
    command -v sysbench >/dev/null 2>&1 || missing+=(sysbench)
    command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
    command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
    command -v mvn >/dev/null 2>&1 || missing+=(maven)
    if ((${#missing[@]} > 0)); then
      local sudo_cmd=()
      ((EUID == 0)) || sudo_cmd=(sudo)
      say "installing ${missing[*]}"
      "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
      "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
  fi
  local tool
  for tool in mariadbd mariadb-install-db mariadb sysbench haproxy java javac; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
  done
}

raise_open_files() {
  local hard
  hard=$(ulimit -Hn)
  if [[ $hard == unlimited ]]; then hard=1048576; fi
  ulimit -n "$hard" 2>/dev/null || true
  OPEN_FILES=$(ulimit -n)
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

check_ports_free() {
  local port
  for port in "$@"; do
    if port_in_use "$port"; then
      die "port $port on 127.0.0.1 is in use (another benchmark running? set BENCH_PORT_BASE to move all ports)"
    fi
  done
}

wait_port() { # port pid name seconds
  local port=$1 pid=$2 name=$3 seconds=$4
  local deadline=$((SECONDS + seconds))
  until port_in_use "$port"; do
    kill -0 "$pid" 2>/dev/null || die "$name exited while starting (log in $WORK/logs)"
    ((SECONDS < deadline)) || die "$name did not listen on port $port within ${seconds}s"
    sleep 0.1
  done
}

# build_jar: sets JAR. BENCH_JAR=path uses a prebuilt jar instead.
build_jar() {
  if [[ -n ${BENCH_JAR:-} ]]; then
    JAR=$BENCH_JAR
    [[ -f $JAR ]] || die "BENCH_JAR=$JAR does not exist"
    return
  fi
  JAR=$REPO/target/tiproxy.jar
  if [[ -f $JAR ]] && [[ -z $(find "$REPO/src/main" "$REPO/pom.xml" -newer "$JAR" -print -quit) ]]; then
    say "proxy jar up to date: $JAR"
    return
  fi
  say "building $JAR (mvn -B -q -Dmaven.test.skip=true package)"
  # offline first: works without network when ~/.m2 has everything; a fresh machine downloads
  (cd "$REPO" && { mvn -B -q -o -Dmaven.test.skip=true package >"$WORK/logs/mvn.log" 2>&1 \
      || mvn -B -q -Dmaven.test.skip=true package >>"$WORK/logs/mvn.log" 2>&1; }) \
    || { tail -30 "$WORK/logs/mvn.log" >&2; die "build failed (log: $WORK/logs/mvn.log)"; }
  [[ -f $JAR ]] || die "build produced no $JAR"
}

compile_tools() {
  local classes=$WORK/classes
  if [[ -f $classes/.stamp ]] && [[ -z $(find "$BENCH_DIR/java" -name '*.java' -newer "$classes/.stamp" -print -quit) ]]; then
    return
  fi
  rm -rf "$classes"
  mkdir -p "$classes"
  javac -d "$classes" "$BENCH_DIR"/java/*.java || die "compiling bench/java failed"
  touch "$classes/.stamp"
}

# ---------------------------------------------------------------- /proc

# cpu_seconds PID: utime+stime of the whole process (all threads) as "user sys" in seconds
cpu_seconds() {
  local stat rest
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo "nan nan"; return; }
  rest=${stat##*) }
  local -a f
  read -ra f <<<"$rest"
  awk -v u="${f[11]}" -v s="${f[12]}" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f %.2f\n", u / hz, s / hz }'
}

# host_cpu: "busy total" jiffies from /proc/stat
host_cpu() {
  awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; total = busy + $5 + $6; print busy, total; exit }' /proc/stat
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# ---------------------------------------------------------------- MariaDB backends

cli() { # port args...: the mariadb client as the OS user over the unix socket (socket auth)
  local port=$1
  shift
  mariadb --no-defaults --protocol=SOCKET --socket="$WORK/mariadb-$port/mysqld.sock" --user="$OS_USER" \
    --batch --skip-column-names --connect-timeout=5 "$@"
}

# start_backend INDEX PORT MAX_CONNECTIONS
start_backend() {
  local index=$1 port=$2 max_conn=$3
  local dir=$WORK/mariadb-$port
  mkdir -p "$dir/tmp"
  cat >"$dir/my.cnf" <<EOF
[mysqld]
user=$OS_USER
port=$port
bind-address=127.0.0.1
socket=$dir/mysqld.sock
datadir=$dir/data
pid-file=$dir/mysqld.pid
log-error=$dir/error.log
tmpdir=$dir/tmp
server-id=$index
innodb_buffer_pool_size=128M
innodb_log_file_size=64M
# the benchmark measures proxies, not the disk: commits do not wait for fsync
innodb_flush_log_at_trx_commit=2
performance_schema=OFF
skip-name-resolve
max_connections=$max_conn
max_connect_errors=1000000
thread_cache_size=256
back_log=1024
$(backend_tracking_cnf)
EOF
  if [[ ! -f $dir/accounts.done ]]; then
    rm -rf "$dir/data"
    mariadb-install-db --defaults-file="$dir/my.cnf" --skip-test-db --auth-root-authentication-method=socket \
      >"$dir/install.log" 2>&1 || { tail -20 "$dir/install.log" >&2; die "mariadb-install-db failed for port $port"; }
  fi
  spawn "mariadbd:$port" "$dir/mariadbd.out" mariadbd --defaults-file="$dir/my.cnf"
  local pid=$SPAWNED_PID
  BACKEND_PIDS+=("$pid")
  local deadline=$((SECONDS + 60))
  until mariadb-admin --no-defaults --protocol=SOCKET --socket="$dir/mysqld.sock" --user="$OS_USER" \
      --connect-timeout=2 ping >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$dir/error.log" >&2; die "mariadbd on port $port exited while starting"; }
    ((SECONDS < deadline)) || die "mariadbd on port $port not up within 60s (log: $dir/error.log)"
    sleep 0.1
  done
  if [[ ! -f $dir/accounts.done ]]; then
    cli "$port" <<SQL || die "creating accounts on port $port failed"
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('$DB_PASSWORD');
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%';
SQL
    touch "$dir/accounts.done"
  fi
  say "mariadbd 127.0.0.1:$port up (pid $pid, max_connections $(cli "$port" -e 'SELECT @@max_connections'))"
  ensure_service_account "$port"
}

# ensure_service_account PORT: creates SVC_USER on one backend if missing (also on data directories
# made by earlier runs, which did not create it)
ensure_service_account() {
  cli "$1" <<SQL || die "creating the service account $SVC_USER on port $1 failed"
CREATE USER IF NOT EXISTS '$SVC_USER'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('$SVC_PASSWORD');
GRANT SELECT ON mysql.global_priv TO '$SVC_USER'@'%';
GRANT SELECT ON mysql.user TO '$SVC_USER'@'%';
SQL
}

# ---------------------------------------------------------------- TiProxy and HAProxy

# api_call METHOD PATH [PORT]: one request to TiProxy's HTTP API over bash's /dev/tcp (no curl needed);
# prints the body; returns 1 unless the answer is 2xx. Bounded: the request asks the API to close after
# its answer (Connection: close), and the read gives up after 10 s.
api_call() {
  local method=$1 path=$2 port=${3:-$API_PORT} fd response status
  exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' \
    "$method" "$path" "$port" >&"$fd"
  response=$(timeout 10 cat <&"$fd") || true
  exec {fd}>&-
  status=${response%%$'\r'*}
  status=${status#HTTP/1.1 }
  status=${status%% *}
  printf '%s\n' "${response#*$'\r\n\r\n'}"
  [[ $status == 2?? ]]
}

# api_sessions ADDR: the session count TiProxy's API shows for backend ADDR (host:port), or -1
api_sessions() {
  local body
  body=$(api_call GET /api/backends) || { echo -1; return; }
  awk -v addr="$1" 'BEGIN { RS = "{"; found = -1 }
    index($0, "\"addr\":\"" addr "\"") && match($0, /"sessions": *[0-9]+/) {
      s = substr($0, RSTART, RLENGTH); sub(/.*: */, "", s); found = s }
    END { print found }' <<<"$body"
}

# start_proxy PORT... (backend ports); extra JVM options in PROXY_EXTRA_OPTS (array)
start_proxy() {
  start_tiproxy_instance tiproxy "$PROXY_PORT" "$API_PORT" "$JAR" "$*" "${PROXY_EXTRA_OPTS[@]}"
  PROXY_PID=$SPAWNED_PID
}

# start_tiproxy_instance NAME PORT API_PORT JAR "BACKEND_PORTS" [JVM options...]: sets SPAWNED_PID
start_tiproxy_instance() {
  local name=$1 port=$2 api=$3 jar=$4 backend_ports=$5
  shift 5
  local backends="" p
  for p in $backend_ports; do backends+="\"127.0.0.1:$p\", "; done
  cat >"$WORK/$name.yaml" <<EOF
proxy:
  addr: "127.0.0.1:$port"
  backends: [${backends%, }]
api:
  addr: "127.0.0.1:$api"
log:
  level: "warn"
$PROXY_EXTRA_YAML
EOF
  # shellcheck disable=SC2086 # PROXY_JAVA_OPTS is a list of options
  spawn "$name" "$WORK/logs/$name.log" java $PROXY_JAVA_OPTS "$@" -jar "$jar" --config "$WORK/$name.yaml"
  local pid=$SPAWNED_PID
  wait_port "$port" "$pid" "$name" 60
  say "$name 127.0.0.1:$port up (pid $pid, backends $backend_ports, jar $jar, JVM: $PROXY_JAVA_OPTS $*)"
  SPAWNED_PID=$pid
}

# start_haproxy PORT... (backend ports)
start_haproxy() {
  local servers="" p i=1
  for p in "$@"; do
    servers+="  server b$i 127.0.0.1:$p"$'\n'
    i=$((i + 1))
  done
  cat >"$WORK/haproxy.cfg" <<EOF
global
  maxconn 9990
defaults
  mode tcp
  maxconn 9990
  timeout connect 5s
  timeout client 1h
  timeout server 1h
listen mysql
  bind 127.0.0.1:$HAPROXY_PORT
  balance leastconn
$servers
EOF
  spawn haproxy "$WORK/logs/haproxy.log" haproxy -f "$WORK/haproxy.cfg" -db
  HAPROXY_PID=$SPAWNED_PID
  wait_port "$HAPROXY_PORT" "$HAPROXY_PID" haproxy 30
  say "haproxy 127.0.0.1:$HAPROXY_PORT up (pid $HAPROXY_PID, balance leastconn, backends $*)"
}

# ---------------------------------------------------------------- sysbench

workload_args() { # name -> sysbench test and options
  case $1 in
    point_select_ps) echo "oltp_point_select" ;;
    point_select_text) echo "oltp_point_select --db-ps-mode=disable" ;;
    read_write) echo "oltp_read_write" ;;
    range1000) echo "oltp_read_only --range_size=1000 --simple_ranges=1 --sum_ranges=0 --order_ranges=0 --distinct_ranges=0 --point_selects=0 --skip_trx=on" ;;
    *) die "unknown workload $1 (point_select_ps, point_select_text, read_write, range1000)" ;;
  esac
}

set_sysbench_data() { # tables table_size: sets SB_COMMON
  SB_COMMON=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user="$DB_USER" --mysql-password="$DB_PASSWORD"
    --mysql-db="$DB_NAME" --tables="$1" --table-size="$2")
  SB_TABLES=$1
}

prepare_sysbench() { # port: drop and create the sysbench tables directly on one backend
  local port=$1
  say "preparing sysbench tables on 127.0.0.1:$port (${SB_COMMON[*]: -2})"
  sysbench oltp_common "${SB_COMMON[@]}" --mysql-port="$port" cleanup >"$WORK/logs/prepare-$port.log" 2>&1 || true
  timeout 600 sysbench oltp_common "${SB_COMMON[@]}" --mysql-port="$port" --threads="$SB_TABLES" prepare \
    >>"$WORK/logs/prepare-$port.log" 2>&1 || { tail "$WORK/logs/prepare-$port.log" >&2; die "sysbench prepare failed on $port"; }
}

# run_sysbench OUT PORT THREADS SECONDS WORKLOAD: one bounded sysbench run in its own session
run_sysbench() {
  local out=$1 port=$2 threads=$3 seconds=$4 workload=$5
  local -a wargs
  read -ra wargs <<<"$(workload_args "$workload")"
  spawn sysbench "$out" timeout -k 5 $((seconds + 60)) sysbench "${wargs[0]}" "${SB_COMMON[@]}" "${wargs[@]:1}" \
    --mysql-port="$port" --threads="$threads" --time="$seconds" --percentile=99 --histogram=on run
  local pid=$SPAWNED_PID rc=0
  wait "$pid" || rc=$?
  unset "STARTED[$pid]"
  return "$rc"
}

# parse_sysbench OUT: "qps tps p95 p99 avg errors reconnects queries seconds" from sysbench's report;
# p99 is sysbench's own (--percentile=99), p95 comes from the same latency histogram (--histogram=on)
parse_sysbench() {
  awk '
    /^ +queries:/ { queries = $2; qps = $3; sub(/\(/, "", qps) }
    /^ +transactions:/ { tps = $3; sub(/\(/, "", tps) }
    /^ +ignored errors:/ { errors = $3 }
    /^ +reconnects:/ { reconnects = $2 }
    /^ +avg:/ { avg = $2 }
    /^ +99th percentile:/ { p99 = $3 }
    /^ +total time:/ { t = $3; sub(/s$/, "", t) }
    /^ +[0-9.]+ \|[* ]* [0-9]+$/ { n++; v[n] = $1; c[n] = $NF; total += $NF }
    END {
      p95 = "-"
      if (total > 0) { cum = 0; for (i = 1; i <= n; i++) { cum += c[i]; if (cum >= 0.95 * total) { p95 = v[i]; break } } }
      if (qps == "") { print "- - - - - - - 0 -"; exit }
      print qps, tps, p95, p99, avg, errors + 0, reconnects + 0, queries, t
    }' "$1"
}

bench_init() {
  mkdir -p "$WORK/logs"
  raise_open_files
  install_cleanup
}
