#!/usr/bin/env bash
# Where the proxy spends its CPU: a JFR recording of TiProxy under one sysbench workload (or the
# connect/login loop), aggregated into hot methods, and the system calls and context switches per
# query of TiProxy and HAProxy under the same load (perf stat on syscall tracepoints).
#
#   bench/profile.sh                       # point_select (prepared), 8 threads, JFR 30 s (~2 min)
#   bench/profile.sh --workload range1000  # any workload of bench/run.sh
#   bench/profile.sh --connrate            # the login path: connect + login + SELECT 1 + quit in a loop
#
# Options:
#   --workload W     point_select_ps (default), point_select_text, read_write, range1000
#   --threads N      sysbench threads / connrate client threads (default 8)
#   --time S         seconds recorded with JFR (default 30)
#   --syscall-time S seconds per target for the syscall count (default 10; 0 skips it; needs perf)
#   --backends 1|3   backends behind the proxies (default 1)
#   --io-threads N   TiProxy event-loop threads
# JFR runs with settings=profile (10 ms Java sampling) and -XX:+DebugNonSafepoints; the recording
# starts after a 10 s warm-up so JIT compilation is not in it.
# Output: bench/.work/results/<date>-profile/ (proxy.jfr, jfr-hot.txt, syscalls.txt).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmdline="bench/profile.sh $*"
workload=point_select_ps
threads=8
jfr_time=30
sc_time=10
backends=1
io_threads=""
connrate=0
while (($#)); do
  case $1 in
    --workload) workload=$2; shift ;;
    --threads) threads=$2; shift ;;
    --time) jfr_time=$2; shift ;;
    --syscall-time) sc_time=$2; shift ;;
    --backends) backends=$2; shift ;;
    --io-threads) io_threads=$2; shift ;;
    --connrate) connrate=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
((connrate)) || workload_args "$workload" >/dev/null
[[ $backends == 1 || $backends == 3 ]] || die "--backends must be 1 or 3"

bench_init
ensure_deps
used_backends=("${BACKEND_PORTS[@]:0:$backends}")
check_ports_free "${used_backends[@]}" "$PROXY_PORT" "$HAPROXY_PORT" "$API_PORT"
build_jar
compile_tools
stamp=$(date +%Y%m%d-%H%M%S)
results=$WORK/results/$stamp-profile
mkdir -p "$results/raw"
what=$workload
((connrate)) && what="connrate"
{
  echo "date: $(date -Is)"
  echo "command: $cmdline"
  echo "proxy jar: $JAR ($(stat -c '%y' "$JAR" | cut -d. -f1))"
  echo "host: $(uname -srm), $(nproc) cores; java: $(java -version 2>&1 | head -1)"
  echo "backends: session_track_* globals $BACKEND_TRACKING (BENCH_BACKEND_TRACKING); proxy: backend.service-user set"
  echo "load: $what, $threads threads; JFR ${jfr_time}s; syscall count ${sc_time}s per target; backends=$backends"
} | tee "$results/env.txt" >&2

for i in "${!used_backends[@]}"; do
  start_backend $((i + 1)) "${used_backends[$i]}" 1000
done
set_sysbench_data 4 10000
if ((!connrate)); then
  for port in "${used_backends[@]}"; do prepare_sysbench "$port"; done
fi
# frame pointers let perf walk Java stacks; DebugNonSafepoints makes JFR's attribution precise
PROXY_EXTRA_OPTS+=(-XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints -XX:+PreserveFramePointer)
[[ -n $io_threads ]] && PROXY_EXTRA_OPTS+=("-Dtiproxy.io-threads=$io_threads")
start_proxy "${used_backends[@]}"
start_haproxy "${used_backends[@]}"

# load OUT PORT SECONDS: runs the load; LOAD_COUNT = how many queries (or connections) it completed
load() {
  local out=$1 port=$2 seconds=$3
  if ((connrate)); then
    spawn client "$out" java -Xss256k -Xmx512m -cp "$WORK/classes" MySqlBench connrate --port "$port" \
      --threads "$threads" --seconds "$seconds"
    local pid=$SPAWNED_PID
    wait "$pid" || true
    unset "STARTED[$pid]"
    LOAD_COUNT=$(awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "conns") print kv[2] } }' "$out")
  else
    run_sysbench "$out" "$port" "$threads" "$seconds" "$workload" || true
    LOAD_COUNT=$(parse_sysbench "$out" | awk '{ print $8 }')
  fi
  LOAD_COUNT=${LOAD_COUNT:-0}
}
unit=query units=queries
((connrate)) && unit=connection units=connections

say "warm-up: 10 s of $what through the proxy"
load "$WORK/logs/profile-warmup.txt" "$PROXY_PORT" 10

# ---- JFR ----
jfr_file=$results/proxy.jfr
jcmd "$PROXY_PID" JFR.start name=bench settings=profile >"$results/raw/jfr-start.txt" 2>&1 \
  || die "jcmd JFR.start failed: $(cat "$results/raw/jfr-start.txt")"
read -r u0 s0 < <(cpu_seconds "$PROXY_PID")
say "JFR: recording the proxy for ${jfr_time}s of $what"
load "$results/raw/jfr-load.txt" "$PROXY_PORT" "$jfr_time"
count=$LOAD_COUNT
read -r u1 s1 < <(cpu_seconds "$PROXY_PID")
jcmd "$PROXY_PID" JFR.stop name=bench filename="$jfr_file" >"$results/raw/jfr-stop.txt" 2>&1 \
  || die "jcmd JFR.stop failed: $(cat "$results/raw/jfr-stop.txt")"
{
  awk -v u0="$u0" -v u1="$u1" -v s0="$s0" -v s1="$s1" -v n="${count:-0}" -v t="$jfr_time" -v unit="$unit" -v units="$units" 'BEGIN {
    printf "during the recording: %d %s in %d s (%.0f/s); proxy CPU %.1f s user + %.1f s sys = %.1f us per %s (%.0f%% of it user = Java + JVM)\n\n",
      n, units, t, n / t, u1 - u0, s1 - s0, (n > 0 ? (u1 - u0 + s1 - s0) / n * 1e6 : 0), unit, ((u1 - u0 + s1 - s0) > 0 ? 100 * (u1 - u0) / (u1 - u0 + s1 - s0) : 0) }'
  java -cp "$WORK/classes" JfrHot "$jfr_file" 30
} >"$results/jfr-hot.txt"
jfr summary "$jfr_file" >"$results/raw/jfr-summary.txt" 2>&1 || true

# ---- syscalls and context switches per query (perf stat on tracepoints) ----
sc_events="raw_syscalls:sys_enter,context-switches"
for s in read write readv writev recvfrom sendto recvmsg sendmsg epoll_wait epoll_pwait epoll_pwait2 epoll_ctl futex splice \
    accept4 connect socket close shutdown setsockopt getsockopt getsockname getpeername ioctl fcntl; do
  sc_events+=",syscalls:sys_enter_$s"
done
if ((sc_time > 0)) && command -v perf >/dev/null 2>&1 && perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
  {
    echo "System calls and context switches per $unit, ${sc_time}s of $what at $threads threads per target (perf stat -p <pid>)"
    echo
    printf '| target | %s/s | CPU µs/%s | syscalls/%s | ctx switches/%s | top syscalls per %s |\n' "$units" "$unit" "$unit" "$unit" "$unit"
    echo "|---|---:|---:|---:|---:|---|"
  } >"$results/syscalls.txt"
  for t in proxy haproxy; do
    pid=$PROXY_PID port=$PROXY_PORT
    [[ $t == haproxy ]] && pid=$HAPROXY_PID port=$HAPROXY_PORT
    perf_out=$results/raw/perf-$t.csv
    spawn perf "$WORK/logs/perf-$t.log" perf stat -x, -o "$perf_out" -e "$sc_events" -p "$pid"
    perf_pid=$SPAWNED_PID
    sleep 0.5
    read -r u0 s0 < <(cpu_seconds "$pid")
    load "$results/raw/perf-load-$t.txt" "$port" "$sc_time"
    n=$LOAD_COUNT
    read -r u1 s1 < <(cpu_seconds "$pid")
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    unset "STARTED[$perf_pid]"
    awk -F, -v t="$t" -v n="${n:-0}" -v secs="$sc_time" -v cpu="$(awk -v a="$u0" -v b="$u1" -v c="$s0" -v d="$s1" 'BEGIN { print b - a + d - c }')" '
      $3 ~ /raw_syscalls:sys_enter/ { total = $1 }
      $3 == "context-switches" { cs = $1 }
      $3 ~ /^syscalls:sys_enter_/ { name = $3; sub(/^syscalls:sys_enter_/, "", name); if ($1 + 0 > 0) c[name] = $1 }
      END {
        top = ""
        m = 0; for (k in c) { keys[++m] = k }
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (c[keys[j]] > c[keys[i]]) { x = keys[i]; keys[i] = keys[j]; keys[j] = x }
        for (i = 1; i <= m && i <= 10; i++) top = top sprintf("%s %.2f, ", keys[i], n > 0 ? c[keys[i]] / n : 0)
        sub(/, $/, "", top)
        printf "| %s | %.0f | %.1f | %.2f | %.2f | %s |\n", t, n / secs, (n > 0 ? cpu / n * 1e6 : 0), (n > 0 ? total / n : 0), (n > 0 ? cs / n : 0), top
      }' "$perf_out" >>"$results/syscalls.txt"
    sleep 1
  done
else
  echo "(perf not available or not permitted: no syscall counts)" >"$results/syscalls.txt"
fi

# ---- perf record: CPU samples of the whole process, kernel and JIT-compiled Java alike ----
# (JFR's execution sampler only sees threads while they run Java code; with the native epoll
# transport most of the proxy's CPU is in system calls made from JNI, which only perf sees)
have_perf() { command -v perf >/dev/null 2>&1 && perf stat -e cpu-clock -- true >/dev/null 2>&1; }
if ((sc_time > 0)) && have_perf; then
  : >"$results/perf-top.txt"
  for t in proxy haproxy; do
    pid=$PROXY_PID port=$PROXY_PORT
    [[ $t == haproxy ]] && pid=$HAPROXY_PID port=$HAPROXY_PORT
    data=$results/raw/perf-$t.data
    spawn perf "$WORK/logs/perf-record-$t.log" perf record -F 499 -g -p "$pid" -o "$data"
    perf_pid=$SPAWNED_PID
    sleep 0.5
    load "$results/raw/perf-record-load-$t.txt" "$port" "$sc_time"
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    unset "STARTED[$perf_pid]"
    if [[ $t == proxy ]]; then
      jcmd "$pid" Compiler.perfmap >/dev/null 2>&1 || true   # /tmp/perf-<pid>.map: names of JIT-compiled code
    fi
    {
      echo "=== $t: perf record -F 499 -g, ${sc_time}s of $what ($LOAD_COUNT $units)"
      echo "--- by shared object"
      perf report -i "$data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -12 || true
      echo "--- inclusive (children), top entries: where system calls spend their time"
      perf report -i "$data" --children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -45 | cut -c1-140 || true
      echo "--- by symbol (self)"
      perf report -i "$data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -40 || true
      echo
    } >>"$results/perf-top.txt"
    rm -f "/tmp/perf-$pid.map"
    sleep 1
  done
fi

echo
cat "$results/env.txt"
echo
cat "$results/jfr-hot.txt"
echo
[[ -f $results/perf-top.txt ]] && cat "$results/perf-top.txt"
echo
cat "$results/syscalls.txt"
echo
say "recording and outputs in $results (open proxy.jfr with JDK Mission Control for flame graphs)"
