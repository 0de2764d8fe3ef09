#!/usr/bin/env bash
# Idle sessions and connection rate: TiProxy vs HAProxy (TCP mode, same backends) [vs direct].
#
#   bench/idle.sh                # 1,000 and 9,900 idle sessions, then connection rate, 3 rounds x 10 s (~5 min)
#   bench/idle.sh --quick        # 1,000 idle sessions, connection rate 1 round x 3 s (~1 min)
#
# Idle: opens N authenticated sessions (connect, log in, SELECT 1, then idle) through each proxy and
# reports the proxy's RSS growth per session (VmRSS from /proc, before any forced GC, and again after
# a full GC), for TiProxy also the live Java heap per session (jcmd GC.heap_info after GC.run), and
# whether every session was still open when the client closed them. 9,900 is the most one machine
# holds with the 20,000 open-files limit (a proxy needs two sockets per session).
# Connection rate: N client threads loop connect + log in + SELECT 1 + COM_QUIT for T seconds,
# interleaved proxy, haproxy, direct; reports connections/s, the cycle's p99, and the proxy's CPU per
# connection.
#
# Options:
#   --sessions "1000 9900"   idle session counts (default; --quick: 1000)
#   --backends 1|3           backends behind the proxies (default 3; sessions spread over them)
#   --targets LIST           idle targets, from proxy,haproxy (default both)
#   --conn-threads N         connection-rate client threads (default 8)
#   --conn-time S            seconds per connection-rate run (default 10; --quick: 3)
#   --conn-rounds N          connection-rate rounds (default 3; --quick: 1)
#   --skip-idle / --skip-connrate
# Environment: BENCH_PORT_BASE (default 24000), BENCH_JAR (prebuilt jar), BENCH_PROXY_JAVA_OPTS,
# BENCH_BACKEND_TRACKING=full|default (session_track_* globals of the backends; see bench/lib.sh).
# Output: bench/.work/results/<date>-idle/ (idle.tsv, connrate.tsv, report.md, raw client outputs).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmdline="bench/idle.sh $*"
sessions_list="1000 9900"
backends=3
targets="proxy,haproxy"
conn_threads=8
conn_time=10
conn_rounds=3
do_idle=1
do_conn=1
quick=0
sessions_set=0 ctime_set=0 crounds_set=0
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --sessions) sessions_list=$2; sessions_set=1; shift ;;
    --backends) backends=$2; shift ;;
    --targets) targets=$2; shift ;;
    --conn-threads) conn_threads=$2; shift ;;
    --conn-time) conn_time=$2; ctime_set=1; shift ;;
    --conn-rounds) conn_rounds=$2; crounds_set=1; shift ;;
    --skip-idle) do_idle=0 ;;
    --skip-connrate) do_conn=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
if ((quick)); then
  ((sessions_set)) || sessions_list=1000
  ((ctime_set)) || conn_time=3
  ((crounds_set)) || conn_rounds=1
fi
[[ $backends == 1 || $backends == 3 ]] || die "--backends must be 1 or 3"
IFS=, read -ra target_list <<<"$targets"
read -ra session_counts <<<"$sessions_list"

bench_init
ensure_deps
max_sessions=0
for n in "${session_counts[@]}"; do if ((n > max_sessions)); then max_sessions=$n; fi; done
need_fds=$((2 * max_sessions + 200))
if ((do_idle && need_fds > OPEN_FILES)); then
  die "$max_sessions proxied sessions need ~$need_fds open files; the limit here is $OPEN_FILES (try --sessions \"1000 $(((OPEN_FILES - 200) / 2))\")"
fi
used_backends=("${BACKEND_PORTS[@]:0:$backends}")
check_ports_free "${used_backends[@]}" "$PROXY_PORT" "$HAPROXY_PORT" "$API_PORT"
build_jar
compile_tools

stamp=$(date +%Y%m%d-%H%M%S)
results=$WORK/results/$stamp-idle
mkdir -p "$results/raw"
{
  echo "date: $(date -Is)"
  echo "command: $cmdline"
  echo "proxy jar: $JAR ($(stat -c '%y' "$JAR" | cut -d. -f1))"
  echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "host: $(uname -srm), $(nproc) cores; java: $(java -version 2>&1 | head -1); haproxy $(haproxy -v | head -1 | awk '{print $3}')"
  echo "backends: session_track_* globals $BACKEND_TRACKING (BENCH_BACKEND_TRACKING); proxy: backend.service-user set"
  echo "backends=$backends sessions=[$sessions_list] conn: ${conn_threads} threads x ${conn_time}s x $conn_rounds rounds; open files $OPEN_FILES"
} | tee "$results/env.txt" >&2

per_backend=$(((max_sessions + backends - 1) / backends + 300))
for i in "${!used_backends[@]}"; do
  start_backend $((i + 1)) "${used_backends[$i]}" "$per_backend"
done
start_proxy "${used_backends[@]}"
start_haproxy "${used_backends[@]}"

client() { # output-file args...: the Java client in its own session; sets CLIENT_PID
  spawn client "$1" java -Xss256k -Xmx512m -cp "$WORK/classes" MySqlBench "${@:2}"
  CLIENT_PID=$SPAWNED_PID
}
wait_client() {
  local rc=0
  wait "$CLIENT_PID" || rc=$?
  unset "STARTED[$CLIENT_PID]"
  return "$rc"
}
target_port() {
  case $1 in proxy) echo "$PROXY_PORT" ;; haproxy) echo "$HAPROXY_PORT" ;; direct) echo "${used_backends[0]}" ;; esac
}
target_pid() {
  case $1 in proxy) echo "$PROXY_PID" ;; haproxy) echo "$HAPROXY_PID" ;; *) echo "" ;; esac
}
heap_used_kb() { # pid: used KB of the Java heap after a full GC
  jcmd "$1" GC.run >/dev/null 2>&1 || true
  sleep 1
  jcmd "$1" GC.heap_info 2>/dev/null | awk '/heap/ && /used/ { for (i = 1; i <= NF; i++) if ($i == "used") { v = $(i + 1); sub(/K.*/, "", v); print v; exit } }'
}
backend_sessions() {
  local p out=""
  for p in "${used_backends[@]}"; do
    out+="$(cli "$p" -e "SHOW GLOBAL STATUS LIKE 'Threads_connected'" | awk '{print $2}')/"
  done
  echo "${out%/}"
}
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# ---- warm-up: the proxy's login path (JIT), not recorded ----
# (the login path needs several seconds of traffic before the JIT has compiled it on a busy 2-core host)
warm=10
((quick)) && warm=5
for t in proxy haproxy; do
  secs=$warm
  [[ $t == haproxy ]] && secs=2
  say "warm-up: ${secs} s of connect/login/quit through $t"
  client "$WORK/logs/warmup-conn-$t.txt" connrate --port "$(target_port $t)" --threads 8 --seconds "$secs"
  wait_client || say "warm-up failed (see $WORK/logs/warmup-conn-$t.txt)"
done

# ---- idle sessions ----
idle_tsv=$results/idle.tsv
printf 'target\tsessions\topened\terrors\topen_ms\trss_before_kb\trss_open_kb\trss_open_gc_kb\trss_after_close_kb\theap_before_kb\theap_open_kb\tthreads\tfds\tbackend_sessions\talive\n' >"$idle_tsv"
if ((do_idle)); then
  for n in "${session_counts[@]}"; do
    for t in "${target_list[@]}"; do
      pid=$(target_pid "$t")
      [[ -n $pid ]] || die "idle target must be proxy or haproxy"
      heap0=-; heap1=-
      if [[ $t == proxy ]]; then
        heap0=$(heap_used_kb "$pid")
        jcmd "$pid" GC.class_histogram >"$results/raw/histo-before-$n.txt" 2>&1 || true
      fi
      sleep 1
      rss0=$(rss_kb "$pid")
      hold=$results/raw/hold-$t-$n
      out=$results/raw/idle-$t-$n.txt
      say "idle: opening $n sessions through $t (RSS before: $rss0 KB)"
      client "$out" idle --port "$(target_port "$t")" --sessions "$n" --threads 16 --hold-file "$hold" --max-hold 600
      deadline=$((SECONDS + 300))
      until grep -q '^READY' "$out" 2>/dev/null; do
        kill -0 "$CLIENT_PID" 2>/dev/null || { cat "$out" >&2; die "idle client exited early"; }
        ((SECONDS < deadline)) || die "idle client did not open $n sessions within 300 s"
        sleep 0.2
      done
      sleep 3
      rss1=$(rss_kb "$pid")
      threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
      fds=$(fd_count "$pid")
      bsess=$(backend_sessions)
      rss1gc=-
      if [[ $t == proxy ]]; then
        heap1=$(heap_used_kb "$pid")
        rss1gc=$(rss_kb "$pid")
        jcmd "$pid" GC.class_histogram >"$results/raw/histo-open-$n.txt" 2>&1 || true
      fi
      touch "$hold"
      wait_client || say "idle client ended with an error (see $out)"
      sleep 3
      rss2=$(rss_kb "$pid")
      read -r opened errors open_ms < <(awk '/^READY/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } print v["opened"], v["errors"], v["ms"] }' "$out")
      alive=$(awk -F= '/^CLOSED/ {print $2}' "$out")
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$n" "$opened" "$errors" "$open_ms" \
        "$rss0" "$rss1" "$rss1gc" "$rss2" "$heap0" "$heap1" "$threads" "$fds" "$bsess" "${alive:-?}" >>"$idle_tsv"
      say "idle: $t $n sessions: opened $opened (errors $errors) in $open_ms ms; RSS $rss0 -> $rss1 KB ($(( (rss1 - rss0) * 1024 / (opened > 0 ? opened : 1) )) B/session)$( [[ $t == proxy ]] && echo ", after full GC $rss1gc KB, heap $heap0 -> $heap1 KB"); backends hold $bsess; alive at close: ${alive:-?}"
    done
  done
fi

# ---- connection rate ----
conn_tsv=$results/connrate.tsv
printf 'round\ttarget\tconns\terrors\tseconds\trate\tavg_ms\tp99_ms\tproxy_user_s\tproxy_sys_s\n' >"$conn_tsv"
if ((do_conn)); then
  conn_targets=(proxy haproxy direct)
  for ((round = 1; round <= conn_rounds; round++)); do
    for ((j = 0; j < 3; j++)); do
      t=${conn_targets[$(((j + round - 1) % 3))]}
      pid=$(target_pid "$t")
      u0=nan s0=nan u1=nan s1=nan
      [[ -n $pid ]] && read -r u0 s0 < <(cpu_seconds "$pid")
      out=$results/raw/conn-r$round-$t.txt
      client "$out" connrate --port "$(target_port "$t")" --threads "$conn_threads" --seconds "$conn_time"
      rc=0
      wait_client || rc=$?
      [[ -n $pid ]] && read -r u1 s1 < <(cpu_seconds "$pid")
      line=$(grep '^RESULT' "$out" || true)
      if [[ -z $line ]]; then
        say "connrate: $t round $round failed (rc $rc, see $out)"
        continue
      fi
      read -r conns errors secs rate avg p99 < <(awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } print v["conns"], v["errors"], v["seconds"], v["rate"], v["avg_ms"], v["p99_ms"] }' <<<"$line")
      pu=-; ps=-
      if [[ -n $pid ]]; then
        pu=$(awk -v a="$u0" -v b="$u1" 'BEGIN { printf "%.2f", b - a }')
        ps=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')
      fi
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$t" "$conns" "$errors" "$secs" "$rate" "$avg" "$p99" "$pu" "$ps" >>"$conn_tsv"
      say "connrate r$round $(printf '%-7s' "$t"): $rate conn/s, p99 $p99 ms, errors $errors$( [[ -n $pid && $conns != 0 ]] && awk -v u="$pu" -v s="$ps" -v c="$conns" 'BEGIN { printf ", %.0f us CPU/connection", (u + s) / c * 1e6 }')"
      grep '^ERROR' "$out" | head -3 >&2 || true
      sleep 1
    done
  done
fi

# ---- report ----
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
{
  echo "# bench/idle.sh results $stamp"
  echo
  sed 's/^/    /' "$results/env.txt"
  if ((do_idle)); then
    echo
    echo "Idle sessions (RSS from /proc/<pid>/status VmRSS; per session = growth / sessions opened)"
    echo
    echo "| target | sessions | opened | errors | open time s | RSS before MB | RSS open MB | RSS/session KB | RSS/session after full GC KB | live heap/session KB | RSS after close MB | threads | fds | backend sessions | alive at close |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
    awk -F'\t' 'NR > 1 {
      per = $3 > 0 ? ($7 - $6) / $3 : 0
      pergc = ($8 == "-" || $3 == 0) ? "-" : sprintf("%.1f", ($8 - $6) / $3)
      heap = ($10 == "-" || $11 == "-" || $10 == "" || $11 == "" || $3 == 0) ? "-" : sprintf("%.1f", ($11 - $10) / $3)
      printf "| %s | %d | %d | %d | %.1f | %.1f | %.1f | %.1f | %s | %s | %.1f | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 / 1000, $6 / 1024, $7 / 1024, per, pergc, heap, $9 / 1024, $12, $13, $14, $15
    }' "$idle_tsv"
  fi
  if ((do_idle)); then
    # what the proxy's live heap holds per idle session: class histogram with N sessions minus before
    n=${session_counts[-1]}
    if [[ -s $results/raw/histo-open-$n.txt && " ${target_list[*]} " == *" proxy "* ]]; then
      echo
      echo "TiProxy's live heap per idle session at $n sessions, by class (GC.class_histogram with the sessions open minus before; top 15)"
      echo
      echo "| class | objects/session | bytes/session |"
      echo "|---|---:|---:|"
      awk -v n="$n" '
        FNR == 1 { file++ }
        $1 ~ /^[0-9]+:$/ { if (file == 1) { bi[$4] = $2; bb[$4] = $3 } else { ai[$4] = $2; ab[$4] = $3 } }
        END { for (c in ab) { d = ab[c] - bb[c]; if (d > 0) printf "%s\t%.2f\t%.0f\n", c, (ai[c] - bi[c]) / n, d / n } }' \
        "$results/raw/histo-before-$n.txt" "$results/raw/histo-open-$n.txt" | sort -t$'\t' -k3,3nr | head -15 \
        | awk -F'\t' '{ printf "| `%s` | %s | %s |\n", $1, $2, $3 }'
    fi
  fi
  if ((do_conn)); then
    echo
    echo "Connection rate (${conn_threads} client threads, connect + login + SELECT 1 + COM_QUIT; medians over $conn_rounds rounds)"
    echo
    echo "| target | conn/s | cycle avg ms | cycle p99 ms | proxy CPU µs/connection | errors |"
    echo "|---|---:|---:|---:|---:|---:|"
    for t in direct haproxy proxy; do
      rate=$(awk -F'\t' -v t="$t" 'NR > 1 && $2 == t { print $6 }' "$conn_tsv" | median)
      avg=$(awk -F'\t' -v t="$t" 'NR > 1 && $2 == t { print $7 }' "$conn_tsv" | median)
      p99=$(awk -F'\t' -v t="$t" 'NR > 1 && $2 == t { print $8 }' "$conn_tsv" | median)
      cpu=$(awk -F'\t' -v t="$t" 'NR > 1 && $2 == t && $9 != "-" && $3 > 0 { print ($9 + $10) / $3 * 1e6 }' "$conn_tsv" | median)
      errs=$(awk -F'\t' -v t="$t" 'NR > 1 && $2 == t { s += $4 } END { print s + 0 }' "$conn_tsv")
      printf '| %s | %.0f | %.2f | %.2f | %s | %s |\n' "$t" "$rate" "$avg" "$p99" "$( [[ $cpu == nan ]] && echo - || printf '%.0f' "$cpu")" "$errs"
    done
    # paired ratios per round
    ratio() { # a b
      awk -F'\t' -v a="$1" -v b="$2" 'NR > 1 { r[$1, $2] = $6; rounds[$1] = 1 } END { for (k in rounds) if (r[k, a] != "" && r[k, b] > 0) print r[k, a] / r[k, b] }' "$conn_tsv" | median
    }
    ph=$(ratio proxy haproxy)
    pd=$(ratio proxy direct)
    echo
    printf 'connections/s proxy/haproxy: %.2fx (target >= 0.9x: %s); proxy/direct: %.2fx\n' "$ph" \
      "$(awk -v r="$ph" 'BEGIN { print (r >= 0.9) ? "met" : "NOT met" }')" "$pd"
  fi
} >"$results/report.md"
echo
cat "$results/report.md"
echo
say "raw outputs in $results"
