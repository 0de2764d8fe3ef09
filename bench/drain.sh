#!/usr/bin/env bash
# Session migration: how fast TiProxy drains a backend, and what a drain does to running traffic.
#
#   bench/drain.sh               # 1,000 idle sessions x 6 drain rounds; p99: read_write and point_select, 3 rounds (~9 min)
#   bench/drain.sh --quick       # 1,000 idle sessions x 3 drain rounds; p99: read_write, 2 rounds (~4 min)
# (times measured on a 2-core host at load average 20-35, without the Maven build)
#
# 1. Drain time. MySqlBench opens N authenticated idle sessions through TiProxy (3 MariaDB backends),
#    each with state of its own (two user variables and time_zone). DrainTimer gathers all of them on
#    one backend (by draining the other two), undrains the others, drains that backend
#    (POST /api/backends/{addr}/drain) and polls every 10 ms, until it holds no session, both TiProxy's
#    count (GET /api/backends) and the backend's own (information_schema.PROCESSLIST). Rounds rotate
#    over the backends. Afterwards every session must still be open and answer with its own state.
# 2. p99 during a drain. sysbench through TiProxy (--report-interval=1), interleaved per round: a
#    steady run and a run in which the backend holding most of sysbench's sessions is drained at
#    --drain-at seconds and undrained 5 s later. The p99 of the seconds of the drain is compared with
#    the p99 of as many seconds just before it (steady runs: the same seconds, as a control).
#    Debian's sysbench 1.0.20 crashes when it has to reconnect: a session the proxy drops is a crash.
#
# Options:
#   --sessions N        idle sessions to drain (default 1000)
#   --drain-rounds N    drain-time rounds, rotating over the 3 backends (default 6; --quick: 3)
#   --workloads LIST    p99 workloads, from point_select_ps,point_select_text,read_write
#                       (default read_write,point_select_ps; --quick: read_write)
#   --rounds N          p99 rounds, each one steady and one drain run per workload (default 3; --quick: 2)
#   --time S            seconds per sysbench run (default 20; --quick: 14)
#   --drain-at S        second of a run at which the drain starts (default 10; --quick: 7)
#   --threads N         sysbench threads (default 8)
#   --proxy-yaml FILE   YAML appended to TiProxy's config, e.g. a balance: section with other migration
#                       rates (must not contain proxy:, api:, log: or backend:, which the script writes)
#   --skip-idle / --skip-p99
# Environment: BENCH_PORT_BASE (default 24000), BENCH_JAR (prebuilt jar), BENCH_PROXY_JAVA_OPTS,
# BENCH_BACKEND_TRACKING=full|default (session_track_* globals of the backends; see bench/lib.sh).
# Output: bench/.work/results/<date>-drain/ (drain.tsv, p99.tsv, report.md, raw outputs and poll timelines).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmdline="bench/drain.sh $*"
sessions=1000
drain_rounds=6
workloads="read_write,point_select_ps"
rounds=3
run_time=20
drain_at=10
threads=8
proxy_yaml=""
do_idle=1
do_p99=1
quick=0
dr_set=0 wl_set=0 rounds_set=0 time_set=0 at_set=0
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --sessions) sessions=$2; shift ;;
    --drain-rounds) drain_rounds=$2; dr_set=1; shift ;;
    --workloads) workloads=$2; wl_set=1; shift ;;
    --rounds) rounds=$2; rounds_set=1; shift ;;
    --time) run_time=$2; time_set=1; shift ;;
    --drain-at) drain_at=$2; at_set=1; shift ;;
    --threads) threads=$2; shift ;;
    --proxy-yaml) proxy_yaml=$2; shift ;;
    --skip-idle) do_idle=0 ;;
    --skip-p99) do_p99=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
if ((quick)); then
  ((dr_set)) || drain_rounds=3
  ((wl_set)) || workloads=read_write
  ((rounds_set)) || rounds=2
  ((time_set)) || run_time=14
  ((at_set)) || drain_at=7
fi
UNDRAIN_AFTER=5   # seconds from a drain to its undrain in a drain run
WINDOW=3          # seconds compared: the drain's first WINDOW seconds (longer if it takes longer) vs before
((drain_at >= WINDOW + 2)) || die "--drain-at must be at least $((WINDOW + 2)) (steady seconds are needed before the drain)"
((run_time >= drain_at + UNDRAIN_AFTER + 2)) || die "--time must be at least --drain-at + $((UNDRAIN_AFTER + 2))"
[[ -z $proxy_yaml || -f $proxy_yaml ]] || die "--proxy-yaml $proxy_yaml does not exist"
IFS=, read -ra workload_list <<<"$workloads"
for w in "${workload_list[@]}"; do
  case $w in point_select_ps|point_select_text|read_write) ;; *) die "unsupported workload $w" ;; esac
done

bench_init
ensure_deps
((2 * sessions + 300 <= OPEN_FILES)) || die "$sessions proxied sessions need ~$((2 * sessions + 300)) open files; the limit here is $OPEN_FILES"
check_ports_free "${BACKEND_PORTS[@]}" "$PROXY_PORT" "$API_PORT"
build_jar
compile_tools

stamp=$(date +%Y%m%d-%H%M%S)
results=$WORK/results/$stamp-drain
mkdir -p "$results/raw"
PROXY_EXTRA_YAML=$SERVICE_YAML
if [[ -n $proxy_yaml ]]; then
  PROXY_EXTRA_YAML+=$'\n'$(cat "$proxy_yaml")
fi
{
  echo "date: $(date -Is)"
  echo "command: $cmdline"
  echo "proxy jar: $JAR ($(stat -c '%y' "$JAR" | cut -d. -f1))"
  echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n $(git -C "$REPO" status --porcelain -- src pom.xml 2>/dev/null) ]] && echo ' (plus uncommitted changes)')"
  echo "host: $(uname -srm), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); java: $(java -version 2>&1 | head -1); $(sysbench --version)"
  echo "backends: session_track_* globals $BACKEND_TRACKING (BENCH_BACKEND_TRACKING); proxy: backend.service-user set"
  echo "drain time: $sessions sessions x $drain_rounds rounds; p99: [${workload_list[*]}] x $rounds rounds x (steady, drain), $run_time s per run, $threads threads, drain at ${drain_at} s"
  echo "proxy config additions:"
  sed 's/^/  /; s/\(password: \).*/\1"******"/' <<<"$PROXY_EXTRA_YAML"
} | tee "$results/env.txt" >&2

for i in "${!BACKEND_PORTS[@]}"; do
  start_backend $((i + 1)) "${BACKEND_PORTS[$i]}" $((sessions + 300))
done
backend_addrs=()
for p in "${BACKEND_PORTS[@]}"; do backend_addrs+=("127.0.0.1:$p"); done

# wait_healthy: until the API lists every backend as healthy (the first health checks have run)
wait_healthy() {
  local deadline=$((SECONDS + 60)) body
  while true; do
    body=$(api_call GET /api/backends 2>/dev/null) || body=""
    (($(grep -o '"state":"healthy"' <<<"$body" | wc -l) == ${#BACKEND_PORTS[@]})) && return
    ((SECONDS < deadline)) || die "TiProxy does not list ${#BACKEND_PORTS[@]} healthy backends within 60 s: $body"
    sleep 0.2
  done
}

client() { # output-file main-class args...: a Java tool in its own session; sets CLIENT_PID
  spawn client "$1" java -Xss256k -Xmx512m -cp "$WORK/classes" "${@:2}"
  CLIENT_PID=$SPAWNED_PID
}
wait_pid() { # pid: wait for a process this script spawned, return its status
  local rc=0
  wait "$1" || rc=$?
  unset "STARTED[$1]"
  return "$rc"
}
kv() { # key line: the value of key=value in a line of a tool's output
  awk -v k="$2" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' <<<"$1"
}
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# ---------------------------------------------------------------- 1. drain time of idle sessions
drain_tsv=$results/drain.tsv
printf 'round\tbackend\tsessions\tgather_ms\tapi_zero_ms\tbackend_zero_ms\tfirst_move_ms\tapi_total\tbackend_total\tstatus\tbackend_total_at_zero\tpoll_mean_ms\n' >"$drain_tsv"
idle_summary=""
if ((do_idle)); then
  start_proxy "${BACKEND_PORTS[@]}"
  wait_healthy
  hold=$results/raw/hold-idle
  idle_out=$results/raw/idle-client.txt
  say "drain time: opening $sessions idle sessions with state through TiProxy"
  client "$idle_out" MySqlBench idle --port "$PROXY_PORT" --sessions "$sessions" --threads 16 --state \
    --hold-file "$hold" --max-hold 1800
  idle_pid=$CLIENT_PID
  deadline=$((SECONDS + 300))
  until grep -q '^READY' "$idle_out" 2>/dev/null; do
    kill -0 "$idle_pid" 2>/dev/null || { cat "$idle_out" >&2; die "idle client exited early"; }
    ((SECONDS < deadline)) || die "idle client did not open $sessions sessions within 300 s"
    sleep 0.2
  done
  ready=$(grep '^READY' "$idle_out")
  opened=$(kv "$ready" opened)
  say "drain time: $ready"
  ((opened > 0)) || die "no session opened (see $idle_out)"
  say "drain time: $drain_rounds rounds of gather-then-drain over ${backend_addrs[*]}"
  timer_out=$results/raw/drain-timer.txt
  client "$timer_out" DrainTimer --api "127.0.0.1:$API_PORT" --backends "$(IFS=,; echo "${backend_addrs[*]}")" \
    --sessions "$opened" --rounds "$drain_rounds" --poll-ms 10 --timeout 60 --settle-timeout 180 \
    --timeline-dir "$results/raw"
  timer_pid=$CLIENT_PID
  timer_deadline=$((SECONDS + drain_rounds * 250 + 60))
  while kill -0 "$timer_pid" 2>/dev/null && ((SECONDS < timer_deadline)); do sleep 0.5; done
  kill -0 "$timer_pid" 2>/dev/null && { say "DrainTimer still running after its bound; stopping it"; stop_pid "$timer_pid" DrainTimer 10; }
  timer_rc=0
  wait_pid "$timer_pid" || timer_rc=$?
  ((timer_rc == 0)) || say "DrainTimer ended with status $timer_rc (see $timer_out)"
  while read -r line; do
    say "drain time: $line"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(kv "$line" r)" "$(kv "$line" backend)" "$(kv "$line" sessions)" \
      "$(kv "$line" gather_ms)" "$(kv "$line" api_zero_ms)" "$(kv "$line" backend_zero_ms)" "$(kv "$line" first_move_ms)" \
      "$(kv "$line" api_total)" "$(kv "$line" backend_total)" "$(kv "$line" status)" "$(kv "$line" backend_total_at_zero)" \
      "$(kv "$line" poll_mean_ms)" >>"$drain_tsv"
  done < <(grep '^ROUND' "$timer_out" || true)
  touch "$hold"
  wait_pid "$idle_pid" || say "idle client ended with an error (see $idle_out)"
  checked=$(grep '^CHECKED' "$idle_out" || echo "CHECKED ok=0 bad=0 errors=0 by_port=")
  closed=$(grep '^CLOSED' "$idle_out" || echo "CLOSED alive_before_close=0")
  grep -E '^(BAD|ERROR)' "$idle_out" | head -5 >&2 || true
  idle_summary="opened $opened of $sessions (open errors $(kv "$ready" errors)); alive after the rounds $(kv "$closed" alive_before_close); state intact $(kv "$checked" ok), wrong $(kv "$checked" bad), failed to answer $(kv "$checked" errors); sessions per backend port at the end: $(kv "$checked" by_port)"
  idle_errors=$((sessions - $(kv "$checked" ok)))
  say "drain time: $idle_summary"
  stop_pid "$PROXY_PID" tiproxy 30   # part 2 starts from a fresh proxy: no health history from part 1
fi

# ---------------------------------------------------------------- 2. p99 during a drain vs steady
p99_tsv=$results/p99.tsv
printf 'workload\tround\tcase\tbackend\tmoved\tdrain_ms\tdrain_second\twindow_s\tp99_before_ms\tp99_window_ms\tratio\tqps_before\tqps_window\terrors\treconnects\trc\n' >"$p99_tsv"

# window_stats OUT FIRST LEN: "p99_before p99_window qps_before qps_window errors reconnects" from sysbench's
# per-second lines: the worst per-second p99 and the mean QPS over seconds FIRST..FIRST+LEN-1 (window) and
# over the LEN seconds before FIRST (before; never second 1, which includes connecting)
window_stats() {
  awk -v first="$2" -v len="$3" '
    /^\[ *[0-9]+s \]/ {
      s = $2; sub(/s$/, "", s); if (s == "") { s = $3; sub(/s$/, "", s) }
      line = $0
      sub(/.*lat \(ms,99%\): */, "", line); split(line, a, " "); p99[s] = a[1]
      line = $0; sub(/.* qps: */, "", line); split(line, a, " "); qps[s] = a[1]
      line = $0; sub(/.*err\/s: */, "", line); split(line, a, " "); err += a[1]
      line = $0; sub(/.*reconn\/s: */, "", line); split(line, a, " "); rec += a[1]
    }
    function stat(from, to, which,   i, m, sum, n) {
      m = -1; sum = 0; n = 0
      for (i = from; i <= to; i++) {
        if (!(i in p99)) continue
        if (which == "p99") { if (p99[i] + 0 > m) m = p99[i] + 0 } else { sum += qps[i]; n++ }
      }
      if (which == "p99") return m < 0 ? "-" : m
      return n ? sprintf("%.0f", sum / n) : "-"
    }
    END {
      b0 = first - len; if (b0 < 2) b0 = 2
      printf "%s %s %s %s %.0f %.0f\n", stat(b0, first - 1, "p99"), stat(first, first + len - 1, "p99"),
        stat(b0, first - 1, "qps"), stat(first, first + len - 1, "qps"), err, rec
    }' "$1"
}

# busiest_backend: the backend address holding most sessions by the API, and the count
busiest_backend() {
  local best="" most=-1 a n
  for a in "${backend_addrs[@]}"; do
    n=$(api_sessions "$a")
    if ((n > most)); then best=$a; most=$n; fi
  done
  echo "$best $most"
}

# p99_run WORKLOAD ROUND CASE(steady|drain|warmup)
p99_run() {
  local w=$1 round=$2 kind=$3
  local out=$results/raw/sb-$w-$kind-r$round.txt
  [[ $kind == warmup ]] && out=$WORK/logs/drain-warmup-$w.txt
  local -a wargs
  read -ra wargs <<<"$(workload_args "$w")"
  local secs=$run_time at=$drain_at
  if [[ $kind == warmup ]]; then secs=$((UNDRAIN_AFTER + 4)); at=2; fi   # a short run: drain at 2 s, undrain at 7 s
  local spawn_ms start_ms
  spawn_ms=$(now_ms)
  spawn sysbench "$out" timeout -k 5 $((secs + 60)) sysbench "${wargs[0]}" "${SB_COMMON[@]}" "${wargs[@]:1}" \
    --mysql-port="$PROXY_PORT" --threads="$threads" --time="$secs" --percentile=99 --report-interval=1 run
  local sb_pid=$SPAWNED_PID
  local deadline=$((SECONDS + 60))
  until grep -q 'Threads started' "$out" 2>/dev/null; do
    kill -0 "$sb_pid" 2>/dev/null || break
    ((SECONDS < deadline)) || break
    sleep 0.02
  done
  start_ms=$(now_ms)
  ((start_ms - spawn_ms < 60000)) || start_ms=$spawn_ms
  local target="-" moved="-" drain_ms=$((start_ms + at * 1000)) dur="-"
  local wait_ms=$((start_ms + at * 1000 - $(now_ms)))
  ((wait_ms > 0)) && sleep "$(awk -v m="$wait_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
  if [[ $kind != steady ]] && kill -0 "$sb_pid" 2>/dev/null; then
    read -r target moved < <(busiest_backend)
    drain_ms=$(now_ms)
    if api_call POST "/api/backends/$target/drain" >/dev/null; then
      local zero_deadline=$((drain_ms + (UNDRAIN_AFTER - 1) * 1000)) n
      while true; do
        n=$(api_sessions "$target")
        if ((n == 0)); then dur=$(($(now_ms) - drain_ms)); break; fi
        if (($(now_ms) >= zero_deadline)) || ! kill -0 "$sb_pid" 2>/dev/null; then break; fi
        sleep 0.05
      done
      wait_ms=$((drain_ms + UNDRAIN_AFTER * 1000 - $(now_ms)))
      ((wait_ms > 0)) && sleep "$(awk -v m="$wait_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
      api_call DELETE "/api/backends/$target/drain" >/dev/null || say "undrain of $target failed"
    else
      say "drain of $target failed"
      dur=failed
    fi
  fi
  local rc=0
  wait_pid "$sb_pid" || rc=$?
  [[ $kind == warmup ]] && return 0
  # the drain's second: sysbench's line "[ Ns ]" covers (N-1 s, N s] after its threads started
  local second=$(((drain_ms - start_ms) / 1000 + 1))
  local len=$WINDOW
  if [[ $dur =~ ^[0-9]+$ ]] && (((dur + 999) / 1000 + 1 > len)); then len=$(((dur + 999) / 1000 + 1)); fi
  [[ $dur == "-" && $kind == drain ]] && len=$UNDRAIN_AFTER
  local stats
  read -r -a stats < <(window_stats "$out" "$second" "$len")
  local ratio
  ratio=$(awk -v a="${stats[1]}" -v b="${stats[0]}" 'BEGIN { if (b + 0 > 0 && a != "-") printf "%.2f", a / b; else print "-" }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$round" "$kind" "$target" "$moved" "$dur" \
    "$second" "$len" "${stats[0]}" "${stats[1]}" "$ratio" "${stats[2]}" "${stats[3]}" "${stats[4]}" "${stats[5]}" "$rc" >>"$p99_tsv"
  say "p99 $w r$round $(printf '%-6s' "$kind"): p99 ${stats[0]} ms before, ${stats[1]} ms in seconds $second..$((second + len - 1)) (${ratio}x)$( [[ $kind == drain ]] && echo "; drained $target ($moved sessions) in $dur ms"), errors ${stats[4]}, reconnects ${stats[5]}, exit $rc"
  if ((rc != 0)); then
    say "sysbench exited with $rc: a crash here usually means the proxy dropped a session (see $out)"
    grep -E 'FATAL|error|Segmentation' "$out" | head -3 >&2 || true
  fi
}

if ((do_p99)); then
  set_sysbench_data 4 10000
  for p in "${BACKEND_PORTS[@]}"; do prepare_sysbench "$p"; done
  start_proxy "${BACKEND_PORTS[@]}"
  wait_healthy
  for w in "${workload_list[@]}"; do
    say "p99: warm-up run of $w through TiProxy with one drain (not recorded)"
    p99_run "$w" 0 warmup
  done
  for ((round = 1; round <= rounds; round++)); do
    for w in "${workload_list[@]}"; do
      if ((round % 2)); then cases=(steady drain); else cases=(drain steady); fi
      for kind in "${cases[@]}"; do
        p99_run "$w" "$round" "$kind"
        sleep 1
      done
    done
  done
fi

# ---------------------------------------------------------------- report
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
{
  echo "# bench/drain.sh results $stamp"
  echo
  sed 's/^/    /' "$results/env.txt"
  if ((do_idle)); then
    echo
    echo "## Drain time: $sessions idle sessions with state, one backend drained per round"
    echo
    echo "Time from the drain request until the backend held no session: by TiProxy's API and by the backend's"
    echo "processlist (polled every 10 ms). Drain time = the later of the two. Gathering (not timed) first moves"
    echo "every session onto the round's backend. Backend connections at 0: the benchmark account's connections on"
    echo "all backends when the drained one was empty; sessions after: once both counts equal the sessions, or 5 s later."
    echo "Poll interval: the mean time between two polls (10 ms asked; longer when the machine is busy)."
    echo
    echo "| round | backend | sessions | first move ms | API 0 ms | backend 0 ms | drain time ms | backend connections at 0 | sessions after (API / backends) | poll interval ms | status |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---|"
    awk -F'\t' 'NR > 1 { d = ($5 < 0 || $6 < 0) ? "-" : ($5 > $6 ? $5 : $6)
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |\n", $1, $2, $3, $7, $5, $6, d, $11, $8, $9, $12, $10 }' "$drain_tsv"
    times=$(awk -F'\t' 'NR > 1 && $10 == "ok" { print ($5 > $6 ? $5 : $6) }' "$drain_tsv")
    ok_rounds=$(grep -c . <<<"$times" || true)
    # rounds that did not complete cleanly, or never reported (DrainTimer failed: see raw/drain-timer.txt)
    bad_rounds=$(awk -F'\t' -v n="$opened" -v want="$drain_rounds" 'NR > 1 { seen++; if ($10 != "ok" || $8 != n || $9 != n) bad++ }
      END { print bad + (want > seen ? want - seen : 0) }' "$drain_tsv")
    med=$(median <<<"$times")
    max=$(sort -g <<<"$times" | tail -1)
    echo
    echo "Sessions: $idle_summary."
    echo
    printf 'Drain time over %s completed rounds: median %s ms, max %s ms; rounds that timed out, lost or gained sessions or never reported: %s.\n' \
      "$ok_rounds" "$med" "${max:-nan}" "$bad_rounds"
    errors_total=$((idle_errors + bad_rounds))
    verdict=$(awk -v m="${max:-nan}" -v e="$errors_total" -v n="$ok_rounds" 'BEGIN { print (n > 0 && m != "nan" && m <= 1000 && e == 0) ? "met" : "NOT met" }')
    printf 'Target (drain %s idle sessions <= 1 s in every round, 0 errors): %s (errors: %s)\n' "$sessions" "$verdict" "$errors_total"
  fi
  if ((do_p99)); then
    echo
    echo "## p99 during a drain vs steady ($threads sysbench threads, ${run_time} s runs, drain at ${drain_at} s, undrain ${UNDRAIN_AFTER} s later)"
    echo
    echo "p99 = the worst of sysbench's per-second p99 (ms) over the drain window (the drain's first $WINDOW seconds, longer"
    echo "if it took longer) and over as many seconds just before it. Steady runs: the same seconds without a drain."
    echo
    echo "| workload | round | case | backend drained | sessions moved | drain ms | p99 before | p99 window | ratio | QPS before | QPS window | errors | reconnects | exit |"
    echo "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $9, $10, $11, $12, $13, $14, $15, $16 }' "$p99_tsv"
    echo
    echo "| workload | drain runs: p99 window/before (median) | steady runs: same (control) | drain window / steady window (median of rounds) | failed runs | target <= 2x |"
    echo "|---|---:|---:|---:|---:|---|"
    for w in "${workload_list[@]}"; do
      dr=$(awk -F'\t' -v w="$w" 'NR > 1 && $1 == w && $3 == "drain" && $11 != "-" { print $11 }' "$p99_tsv" | median)
      st=$(awk -F'\t' -v w="$w" 'NR > 1 && $1 == w && $3 == "steady" && $11 != "-" { print $11 }' "$p99_tsv" | median)
      cross=$(awk -F'\t' -v w="$w" 'NR > 1 && $1 == w { v[$2, $3] = $10; r[$2] = 1 }
        END { for (k in r) if (v[k, "drain"] != "" && v[k, "drain"] != "-" && v[k, "steady"] + 0 > 0) print v[k, "drain"] / v[k, "steady"] }' "$p99_tsv" | median)
      failed=$(awk -F'\t' -v w="$w" 'NR > 1 && $1 == w && ($16 != 0 || $14 > 0 || $15 > 0 || $6 == "failed")' "$p99_tsv" | wc -l)
      verdict=$(awk -v r="$dr" -v f="$failed" 'BEGIN { print (r != "nan" && r <= 2 && f == 0) ? "met" : "NOT met" }')
      printf '| %s | %s | %s | %s | %s | %s |\n' "$w" "$(printf '%.2fx' "$dr" 2>/dev/null || echo "$dr")" \
        "$(printf '%.2fx' "$st" 2>/dev/null || echo "$st")" "$(printf '%.2fx' "$cross" 2>/dev/null || echo "$cross")" "$failed" "$verdict"
    done
  fi
} >"$results/report.md"
echo
cat "$results/report.md"
echo
say "raw outputs in $results"
