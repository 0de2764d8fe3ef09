#!/usr/bin/env bash
# Side-by-side sysbench benchmark: TiProxy vs HAProxy (TCP mode, same backends) vs a direct connection,
# interleaved (A B C, B C A, C A B, ...) so drift on a shared machine hits every target alike.
#
#   bench/run.sh                 # default: 3 rounds x 10 s, --backends 1 (~16-18 min)
#   bench/run.sh --quick         # 1 round x 3 s (~3 min)
#   bench/run.sh --backends 3    # proxy and HAProxy spread over 3 backends (direct still uses one)
#
# Options:
#   --rounds N          rounds (default 3; --quick: 1)
#   --time S            seconds per sysbench run (default 10; --quick: 3)
#   --warmup S          warm-up chunk: each workload runs through TiProxy in chunks of S seconds until
#                       its CPU per query settles (at most 6 chunks), once through HAProxy (default 5; --quick: 3)
#   --backends 1|3      backends behind TiProxy and HAProxy (default 1: like for like with direct)
#   --threads "8 32"    sysbench thread counts
#   --workloads LIST    comma-separated, from: point_select_ps,point_select_text,read_write,range1000
#   --targets LIST      comma-separated, from: proxy,haproxy,direct (default all three)
#   --tables N --table-size N   sysbench data set on every backend (default 4 x 10000)
#   --io-threads N      TiProxy event-loop threads (-Dtiproxy.io-threads; default: the proxy's own default)
#   --jfr               record the proxy with JFR for the whole run (bench/.work/results/*/proxy.jfr)
#   --proxy-b-jar PATH  A/B test: also run a second TiProxy (target "proxy-b") from this jar ...
#   --proxy-b-opts "O"  ... and/or with these extra JVM options (e.g. "-Dtiproxy.io-threads=1");
#                       the report then adds proxy-b/proxy ratios
# Environment: BENCH_PORT_BASE (default 24000), BENCH_JAR (prebuilt jar), BENCH_PROXY_JAVA_OPTS,
# BENCH_BACKEND_TRACKING=full|default (session_track_* globals of the backends; see bench/lib.sh).
#
# Output: a Markdown summary on stdout, saved with every raw sysbench output under
# bench/.work/results/<date>/ (runs.tsv has one line per run).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmdline="bench/run.sh $*"
rounds=3
run_time=10
warmup=5
backends=1
threads_list="8 32"
workloads="point_select_ps,point_select_text,read_write,range1000"
targets="proxy,haproxy,direct"
tables=4
table_size=10000
io_threads=""
jfr=0
proxy_b_jar=""
proxy_b_opts=""
quick=0
rounds_set=0 time_set=0 warmup_set=0

while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --rounds) rounds=$2; rounds_set=1; shift ;;
    --time) run_time=$2; time_set=1; shift ;;
    --warmup) warmup=$2; warmup_set=1; shift ;;
    --backends) backends=$2; shift ;;
    --threads) threads_list=$2; shift ;;
    --workloads) workloads=$2; shift ;;
    --targets) targets=$2; shift ;;
    --tables) tables=$2; shift ;;
    --table-size) table_size=$2; shift ;;
    --io-threads) io_threads=$2; shift ;;
    --jfr) jfr=1 ;;
    --proxy-b-jar) proxy_b_jar=$2; shift ;;
    --proxy-b-opts) proxy_b_opts=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
if ((quick)); then
  ((rounds_set)) || rounds=1
  ((time_set)) || run_time=3
  ((warmup_set)) || warmup=3
fi
[[ $backends == 1 || $backends == 3 ]] || die "--backends must be 1 or 3"
IFS=, read -ra workload_list <<<"$workloads"
IFS=, read -ra target_list <<<"$targets"
if [[ -n $proxy_b_jar || -n $proxy_b_opts ]] && [[ " ${target_list[*]} " != *" proxy-b "* ]]; then
  target_list+=(proxy-b)
fi
read -ra thread_counts <<<"$threads_list"

for w in "${workload_list[@]}"; do workload_args "$w" >/dev/null; done
for t in "${target_list[@]}"; do
  [[ $t == proxy || $t == haproxy || $t == direct || $t == proxy-b ]] || die "unknown target $t"
done

bench_init
ensure_deps
used_backends=("${BACKEND_PORTS[@]:0:$backends}")
check_ports_free "${used_backends[@]}" "$PROXY_PORT" "$HAPROXY_PORT" "$API_PORT" "$PROXY_B_PORT" "$API_B_PORT"
build_jar
[[ -z $proxy_b_jar || -f $proxy_b_jar ]] || die "--proxy-b-jar $proxy_b_jar does not exist"
compile_tools

stamp=$(date +%Y%m%d-%H%M%S)
results=$WORK/results/$stamp
mkdir -p "$results/raw"
{
  echo "date: $(date -Is)"
  echo "command: $cmdline"
  echo "proxy jar: $JAR ($(stat -c '%y' "$JAR" | cut -d. -f1))"
  echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" status --porcelain 2>/dev/null | grep -q . && echo ' (dirty)')"
  echo "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo)"
  echo "backends: session_track_* globals $BACKEND_TRACKING (BENCH_BACKEND_TRACKING); proxy: backend.service-user set"
  echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "java: $(java -version 2>&1 | head -1)"
  echo "sysbench: $(sysbench --version)  haproxy: $(haproxy -v | head -1 | awk '{print $3}')  mariadb: $(mariadbd --version | awk '{print $3}')"
  [[ " ${target_list[*]} " == *" proxy-b "* ]] && echo "proxy-b: jar ${proxy_b_jar:-$JAR}, extra JVM options: ${proxy_b_opts:-none}"
  echo "rounds=$rounds time=${run_time}s warmup=${warmup}s backends=$backends threads=[$threads_list] tables=${tables}x$table_size io-threads=${io_threads:-default}"
  echo "open files: $OPEN_FILES  load before start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$results/env.txt" >&2

# ---- backends, data, proxies ----
for i in "${!used_backends[@]}"; do
  start_backend $((i + 1)) "${used_backends[$i]}" 1000
done

set_sysbench_data "$tables" "$table_size"
for port in "${used_backends[@]}"; do prepare_sysbench "$port"; done

[[ -n $io_threads ]] && PROXY_EXTRA_OPTS+=("-Dtiproxy.io-threads=$io_threads")
((jfr)) && PROXY_EXTRA_OPTS+=("-XX:StartFlightRecording=settings=profile,filename=$results/proxy.jfr,dumponexit=true")
start_proxy "${used_backends[@]}"
start_haproxy "${used_backends[@]}"
PROXY_B_PID=""
if [[ " ${target_list[*]} " == *" proxy-b "* ]]; then
  read -ra b_opts <<<"$proxy_b_opts"
  start_tiproxy_instance tiproxy-b "$PROXY_B_PORT" "$API_B_PORT" "${proxy_b_jar:-$JAR}" "${used_backends[*]}" "${b_opts[@]}"
  PROXY_B_PID=$SPAWNED_PID
fi

target_port() {
  case $1 in
    proxy) echo "$PROXY_PORT" ;;
    proxy-b) echo "$PROXY_B_PORT" ;;
    haproxy) echo "$HAPROXY_PORT" ;;
    direct) echo "${used_backends[0]}" ;;
  esac
}
target_pid() {
  case $1 in
    proxy) echo "$PROXY_PID" ;;
    proxy-b) echo "$PROXY_B_PID" ;;
    haproxy) echo "$HAPROXY_PID" ;;
    *) echo "" ;;
  esac
}

ours_cpu() { # user+sys seconds of every long-running process of this benchmark
  local pid total=0 u s
  for pid in "$PROXY_PID" "$HAPROXY_PID" $PROXY_B_PID "${BACKEND_PIDS[@]}"; do
    read -r u s < <(cpu_seconds "$pid")
    total=$(awk -v a="$total" -v b="$u" -v c="$s" 'BEGIN { printf "%.2f", a + b + c }')
  done
  echo "$total"
}
children_cpu() { # user+sys seconds of this shell's finished children (sysbench runs), from `times`
  times | awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); sub(/s$/, "", p[2]); t += p[1] * 60 + p[2] } printf "%.2f", t }'
}
backend_cpu() { # sum of user+sys seconds over the backends
  local pid total=0 u s
  for pid in "${BACKEND_PIDS[@]}"; do
    read -r u s < <(cpu_seconds "$pid")
    total=$(awk -v a="$total" -v b="$u" -v c="$s" 'BEGIN { printf "%.2f", a + b + c }')
  done
  echo "$total"
}

tsv=$results/runs.tsv
printf 'round\tworkload\tthreads\ttarget\tqps\ttps\tp95_ms\tp99_ms\tavg_ms\terrors\treconnects\tqueries\tseconds\tproxy_user_s\tproxy_sys_s\tbackend_cpu_s\tclient_cpu_s\thost_busy_pct\tforeign_cpu_pct\trc\n' >"$tsv"

run_one() { # round workload threads target
  local round=$1 workload=$2 threads=$3 target=$4
  local port pid out
  port=$(target_port "$target")
  pid=$(target_pid "$target")
  out=$results/raw/r$round-$workload-t$threads-$target.txt
  local u0=nan s0=nan u1=nan s1=nan b0 b1 hb0 ht0 hb1 ht1 o0 o1 c0 c1 rc=0
  [[ -n $pid ]] && read -r u0 s0 < <(cpu_seconds "$pid")
  b0=$(backend_cpu)
  o0=$(ours_cpu)
  c0=$(children_cpu)
  read -r hb0 ht0 < <(host_cpu)
  run_sysbench "$out" "$port" "$threads" "$run_time" "$workload" || rc=$?
  read -r hb1 ht1 < <(host_cpu)
  c1=$(children_cpu)
  o1=$(ours_cpu)
  [[ -n $pid ]] && read -r u1 s1 < <(cpu_seconds "$pid")
  b1=$(backend_cpu)
  local qps tps p95 p99 avg errors reconnects queries secs
  read -r qps tps p95 p99 avg errors reconnects queries secs < <(parse_sysbench "$out")
  [[ $qps == - && $rc == 0 ]] && rc=99
  local pu=- ps=- busy
  if [[ -n $pid ]]; then
    pu=$(awk -v a="$u0" -v b="$u1" 'BEGIN { printf "%.2f", b - a }')
    ps=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')
  fi
  busy=$(awk -v a="$hb0" -v b="$hb1" -v c="$ht0" -v d="$ht1" 'BEGIN { if (d > c) printf "%.0f", 100 * (b - a) / (d - c); else print "-" }')
  # CPU used by processes that are not part of this benchmark (other work on a shared host), in %
  # of the machine: host busy time minus sysbench (the client) and the proxies and backends
  local client foreign
  client=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
  foreign=$(awk -v hb="$((hb1 - hb0))" -v ht="$((ht1 - ht0))" -v hz="$CLK_TCK" -v o="$(awk -v a="$o0" -v b="$o1" 'BEGIN { print b - a }')" -v c="$client" \
    'BEGIN { if (ht <= 0) { print "-"; exit } f = 100 * (hb / hz - o - c) / (ht / hz); if (f < 0) f = 0; printf "%.0f", f }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$workload" "$threads" "$target" \
    "$qps" "$tps" "$p95" "$p99" "$avg" "$errors" "$reconnects" "$queries" "$secs" "$pu" "$ps" \
    "$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.2f", b - a }')" "$client" "$busy" "$foreign" "$rc" >>"$tsv"
  local cpu_note=""
  [[ -n $pid && $queries != 0 ]] && cpu_note=$(awk -v u="$pu" -v s="$ps" -v q="$queries" 'BEGIN { printf ", %.1f us CPU/query", (u + s) / q * 1e6 }')
  say "  r$round $workload t$threads $(printf '%-7s' "$target"): $qps qps, p95 $p95 ms, p99 $p99 ms$cpu_note, errors $errors, other load ${foreign}%$( ((rc)) && echo ", FAILED rc=$rc (see $out)")"
}

# ---- warm-up, not recorded: every workload through each TiProxy until the JIT has settled (CPU per
# query of two consecutive chunks within 10 %, at most 6 chunks: on a busy 2-core host it takes
# ~100k queries), then once through HAProxy ----
warm_chunk() { # target workload: one warm-up chunk; WARM_CPU = the target's CPU us/query (or "-")
  local target=$1 w=$2 pid u0 s0 u1 s1 out=$WORK/logs/warmup-$1-$2.txt
  WARM_CPU=-
  pid=$(target_pid "$target")
  read -r u0 s0 < <(cpu_seconds "$pid")
  run_sysbench "$out" "$(target_port "$target")" 8 "$warmup" "$w" || return 0
  read -r u1 s1 < <(cpu_seconds "$pid")
  WARM_CPU=$(parse_sysbench "$out" | awk -v u0="$u0" -v s0="$s0" -v u1="$u1" -v s1="$s1" \
    '{ if ($8 > 0) printf "%.1f\n", (u1 - u0 + s1 - s0) / $8 * 1e6; else print "-" }')
}
if ((warmup > 0)); then
  for target in proxy proxy-b haproxy; do
    [[ " ${target_list[*]} " == *" $target "* ]] || continue
    for w in "${workload_list[@]}"; do
      prev="" cpus=""
      for ((chunk = 1; chunk <= 6; chunk++)); do
        warm_chunk "$target" "$w"
        cpu=$WARM_CPU
        cpus+="$cpu "
        [[ $target == haproxy || $cpu == - ]] && break
        if [[ -n $prev ]] && awk -v a="$prev" -v b="$cpu" 'BEGIN { d = (b - a) / a; exit !(d < 0.10 && d > -0.10) }'; then
          break
        fi
        prev=$cpu
      done
      read -ra done_chunks <<<"$cpus"
      say "warm-up: $w through $target, ${#done_chunks[@]} x ${warmup}s, CPU us/query: ${cpus% }"
    done
  done
fi

# ---- measured runs: for each round, each cell, the targets in rotated order ----
ncells=$((${#workload_list[@]} * ${#thread_counts[@]}))
total_runs=$((rounds * ncells * ${#target_list[@]}))
say "measuring: $total_runs runs of ${run_time}s (~$((total_runs * (run_time + 2) / 60 + 1)) min)"
for ((round = 1; round <= rounds; round++)); do
  k=0
  for w in "${workload_list[@]}"; do
    for th in "${thread_counts[@]}"; do
      n=${#target_list[@]}
      for ((j = 0; j < n; j++)); do
        target=${target_list[$(((j + round - 1 + k) % n))]}
        run_one "$round" "$w" "$th" "$target"
        sleep 1
      done
      k=$((k + 1))
    done
  done
done

# ---- summary ----
{
  echo "# bench/run.sh results $stamp"
  echo
  sed 's/^/    /' "$results/env.txt"
  echo "    load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  java -cp "$WORK/classes" Report "$tsv"
} >"$results/report.md"
kill -0 "$PROXY_PID" 2>/dev/null || say "WARNING: the proxy is no longer running"
echo
cat "$results/report.md"
echo
say "raw outputs and runs.tsv in $results"
if ((jfr)); then
  stop_pid "$PROXY_PID" tiproxy 30   # writes the recording
  if [[ -f $results/proxy.jfr ]]; then
    java -cp "$WORK/classes" JfrHot "$results/proxy.jfr" 25 >"$results/jfr-hot.txt" && say "JFR hot methods: $results/jfr-hot.txt"
  fi
fi
