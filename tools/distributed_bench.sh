#!/usr/bin/env bash
# Data-parallel throughput of `aecv train --distributed`: 1 process against 2 ranks, on one
# machine (shared memory) and on two "hosts" (network namespaces joined by a veth pair, Open
# MPI over TCP, the link limited with tc tbf to each of RATES), for the conv and the dense
# preset. Every process computes with one thread, so the two cores stand for two hosts. Prints
# images/s, the ratio to 1 process, the step time, the bytes an allreduce moves per step
# (parameters × 4 × 2(N−1)/N for a ring), the load average around each run, and a table of the
# speedup expected for 2–64 ranks at 1, 10 and 100 Gbit/s from the measured step time.
#
# Usage (root, under the heavy lock):  flock /tmp/aecv-heavy.lock tools/distributed_bench.sh
#   AECV=build/mpi/bin/aecv (make cli AECV_MPI=1 BUILD_BIN=build/mpi/bin)  LIMIT=6400 images
#   BATCH=64 per rank  RATES="1gbit 100mbit"  MODELS="conv dense"
#   MPI_EXTRA="--mca ..." more mpirun options for the two-host runs
# The namespaces (aecv-bench-a, aecv-bench-b) and the veth pair are removed on exit; every run
# is bounded by mpirun --timeout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
aecv=$(realpath "${AECV:-build/mpi/bin/aecv}")
limit=${LIMIT:-6400}; batch=${BATCH:-64}; rates=${RATES:-1gbit 100mbit}; models=${MODELS:-conv dense}
ns_a=aecv-bench-a; ns_b=aecv-bench-b; ip_a=10.213.7.1; ip_b=10.213.7.2; net=10.213.7.0/24
work=$(mktemp -d /tmp/aecv-dbench.XXXXXX)
cleanup() {
    ip netns del "$ns_a" 2>/dev/null || true
    ip netns del "$ns_b" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
[ "$(id -u)" = 0 ] || { echo "distributed_bench: needs root (ip netns, tc)"; exit 1; }
[[ "$("$aecv" train --help)" == *--distributed* ]] || { echo "distributed_bench: $aecv has no --distributed"; exit 1; }

common=(--data fashion-mnist --limit "$limit" --epochs 1 --batch-size "$batch" --threads 1 --seed 0
        --test-limit 16)
mpirun=(mpirun --allow-run-as-root --timeout 900)

# img/s and parameter count from the tool's output.
rate_of() { sed -n 's/^epoch 1\/1: .*, \([0-9,]*\) img\/s, .*/\1/p' "$1" | tr -d ,; }
params_of() { sed -n 's/.*(\([0-9,]*\) parameters,.*/\1/p' "$1" | head -1 | tr -d ,; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# Two hosts: namespaces joined by a veth pair; mpirun in A starts B's daemon through an "rsh"
# that enters B's namespace instead of ssh.
ip netns add "$ns_a"; ip netns add "$ns_b"
ip link add aecvbench-a type veth peer name aecvbench-b
ip link set aecvbench-a netns "$ns_a"; ip link set aecvbench-b netns "$ns_b"
ip -n "$ns_a" addr add "$ip_a/24" dev aecvbench-a; ip -n "$ns_b" addr add "$ip_b/24" dev aecvbench-b
for n in "$ns_a:aecvbench-a" "$ns_b:aecvbench-b"; do
    ip -n "${n%%:*}" link set lo up; ip -n "${n%%:*}" link set "${n##*:}" up
done
cat > "$work/netns-rsh" <<AGENT
#!/bin/sh
# plm_rsh_agent: "netns-rsh HOST COMMAND..." runs COMMAND in HOST's namespace (as ssh would).
host=\$1; shift
case "\$host" in
    $ip_a) ns=$ns_a ;;
    $ip_b) ns=$ns_b ;;
    *) echo "netns-rsh: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
AGENT
chmod +x "$work/netns-rsh"
printf '%s slots=1\n%s slots=1\n' "$ip_a" "$ip_b" > "$work/hosts"
# --bind-to none: each "host"'s daemon binds its rank to ITS first core, and both hosts are this
# machine, so both ranks ended up on core 0 and every message waited for a scheduler time slice
# (4 ms for an allreduce of 2 floats; 0.01 ms unbound). On real hosts binding is harmless.
two_hosts=("${mpirun[@]}" -np 2 --hostfile "$work/hosts" --map-by node --bind-to none
           --mca plm_rsh_agent "$work/netns-rsh" --mca pml ob1 --mca btl tcp,self
           --mca btl_tcp_if_include "$net" --mca oob_tcp_if_include "$net" ${MPI_EXTRA:-})
limit_link() {  # rate: tbf on both ends of the veth
    for n in "$ns_a:aecvbench-a" "$ns_b:aecvbench-b"; do
        ip netns exec "${n%%:*}" tc qdisc replace dev "${n##*:}" root tbf rate "$1" burst 256kb latency 50ms
    done
}

echo "distributed_bench: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;" \
     "$limit Fashion-MNIST images, batch $batch per rank, 1 thread per process"
printf '%-6s %-34s %9s %7s %9s %11s  %s\n' model setup "img/s" ratio "step ms" "MB/step" "load before -> after"
results="$work/results"
: > "$results"
for model in $models; do
    run() {  # label, log, command...
        local label=$1 log=$2; shift 2
        local before; before=$(load)
        "$@" > "$log" 2>"$log.err" || { echo "distributed_bench: $label failed:"; cat "$log" "$log.err"; exit 1; }
        local r; r=$(rate_of "$log"); local p; p=$(params_of "$log")
        local ranks=1; case "$label" in 2*) ranks=2 ;; esac
        awk -v m="$model" -v l="$label" -v r="$r" -v base="${base:-$r}" -v p="$p" -v n="$ranks" -v b="$batch" \
            -v before="$before" -v after="$(load)" 'BEGIN {
                step = 1000 * b * n / r; bytes = (n > 1) ? p * 4 * 2 * (n - 1) / n : 0
                printf "%-6s %-34s %9d %6.2fx %9.1f %11.2f  %s -> %s\n", m, l, r, r / base, step, bytes / 1e6, before, after
            }'
        echo "$model $label $r $p" >> "$results"
    }
    base=""
    run "1 process" "$work/$model-1.log" "$aecv" train --preset "$model" "${common[@]}" --out "$work/$model-1.aecv"
    base=$(rate_of "$work/$model-1.log")
    run "2 ranks, one host (shared memory)" "$work/$model-2.log" "${mpirun[@]}" -np 2 "$aecv" train --preset "$model" \
        "${common[@]}" --distributed --out "$work/$model-2.aecv"
    ip netns exec "$ns_a" tc qdisc del dev aecvbench-a root 2>/dev/null || true
    ip netns exec "$ns_b" tc qdisc del dev aecvbench-b root 2>/dev/null || true
    run "2 ranks, two hosts, veth (no limit)" "$work/$model-veth.log" ip netns exec "$ns_a" "${two_hosts[@]}" "$aecv" \
        train --preset "$model" "${common[@]}" --distributed --out "$work/$model-veth.aecv"
    for rate in $rates; do
        limit_link "$rate"
        run "2 ranks, two hosts, $rate" "$work/$model-$rate.log" ip netns exec "$ns_a" "${two_hosts[@]}" "$aecv" \
            train --preset "$model" "${common[@]}" --distributed --out "$work/$model-$rate.aecv"
    done
done

# Expected speedup for N ranks from the measured single-process step time t (batch per rank)
# and a ring allreduce of 4P bytes at bandwidth W: T(N) = t + 2(N-1)/N * 4P / W (latency and
# overlap ignored), speedup = N t / T(N). Communication equals compute at P* = t W / 8.
echo
echo "expected speedup (ring allreduce, no overlap), from the 1-process step time:"
awk -v b="$batch" '$2 == "1" { r = $3; p = $4; t = b / r;
        printf "%-6s P = %d parameters, step %.1f ms; communication = compute at %.2fM parameters (1 Gbit/s), %.1fM (10), %.0fM (100)\n", $1, p, t * 1000, t * 1.25e8 / 8 / 1e6, t * 1.25e9 / 8 / 1e6, t * 1.25e10 / 8 / 1e6
        printf "%-6s %6s %8s %8s %8s\n", "", "ranks", "1 Gb/s", "10 Gb/s", "100 Gb/s"
        split("2 4 8 16 32 64", ns, " ")
        for (i = 1; i <= 6; i++) { n = ns[i]; line = sprintf("%-6s %6d", "", n)
            split("1.25e8 1.25e9 1.25e10", ws, " ")
            for (j = 1; j <= 3; j++) { c = 2 * (n - 1) / n * 4 * p / ws[j]; line = line sprintf(" %7.1fx", n * t / (t + c)) }
            print line }
    }' <(sed 's/ 1 process / 1 /' "$results")
