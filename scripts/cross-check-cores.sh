#!/usr/bin/env bash
# Cross-checks `ladder cores` against an independent implementation of the standard
# core-to-core method (the CAS ping-pong of nviennot's core-to-core-latency: each side
# spins on a compare-and-swap from the other's value to its own; one-way = round trip
# / 2), a few dozen lines of C compiled here, run back to back on the same pair of CPUs:
# C, ladder, C, ladder... so a VM moving the pair between physical cores shows in both.
# Prints each run's one-way figure in ns.
#
# usage: scripts/cross-check-cores.sh [CPU_A CPU_B [REPEATS [path/to/ladder]]]
#        (default: the first and last CPU this process may use, 3 repeats,
#        target/release/ladder)
set -euo pipefail
cd "$(dirname "$0")/.."
read -r first last < <(python3 -c 'import os; c=sorted(os.sched_getaffinity(0)); print(c[0], c[-1])')
a=${1:-$first}
b=${2:-$last}
repeats=${3:-3}
ladder=${4:-target/release/ladder}
[ "$a" != "$b" ] || { echo "cross-check-cores: needs two CPUs" >&2; exit 2; }
[ -x "$ladder" ] || { echo "cross-check-cores: $ladder not found; run cargo build --release" >&2; exit 2; }
command -v cc >/dev/null || { echo "cross-check-cores: no C compiler (cc)" >&2; exit 2; }
work=$(mktemp -d /tmp/ladder-xcores-XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

cat >"$work/c2c.c" <<'C'
/* Standard CAS ping-pong: thread A (on cpu_a) spins CAS(PONG -> PING), thread B (on
 * cpu_b) spins CAS(PING -> PONG); A times N round trips; one-way = round trip / 2.
 * Prints the median of SAMPLES samples, each the mean of N round trips. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
enum { PING = 1, PONG = 2, N = 1000, SAMPLES = 300 };
static _Alignas(128) volatile long flag = PONG;
static int cpu_b;
static void pin(int cpu) {
    cpu_set_t s; CPU_ZERO(&s); CPU_SET(cpu, &s);
    if (pthread_setaffinity_np(pthread_self(), sizeof s, &s)) { perror("pin"); exit(1); }
}
static void cas(long from, long to) {
    long want;
    do { want = from; } while (!__atomic_compare_exchange_n(&flag, &want, to, 0,
                                   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
}
static void *pong(void *arg) {
    (void)arg; pin(cpu_b);
    for (long i = 0; i < (long)N * (SAMPLES + 10); i++) cas(PING, PONG);
    return 0;
}
static double now(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec;
}
static int cmp(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y; return (a > b) - (a < b);
}
int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: c2c CPU_A CPU_B\n"); return 2; }
    cpu_b = atoi(argv[2]);
    pin(atoi(argv[1]));
    pthread_t t; pthread_create(&t, 0, pong, 0);
    static double ns[SAMPLES];
    for (int w = 0; w < 10; w++) for (int i = 0; i < N; i++) cas(PONG, PING); /* warm-up */
    for (int s = 0; s < SAMPLES; s++) {
        double t0 = now();
        for (int i = 0; i < N; i++) cas(PONG, PING);
        ns[s] = (now() - t0) / N / 2;
    }
    pthread_join(t, 0);
    qsort(ns, SAMPLES, sizeof ns[0], cmp);
    printf("%.1f\n", ns[SAMPLES / 2]);
    return 0;
}
C
cc -O2 -pthread -o "$work/c2c" "$work/c2c.c"

# ladder's one-way figures for CPU a -> b, per handoff, from a run record on stdin.
ladder_pair() {
    python3 -c '
import json, sys
a, b = int(sys.argv[1]), int(sys.argv[2])
for p in json.load(sys.stdin)["cores"]["pairs"]:
    if (p["cpu_a"], p["cpu_b"]) == (a, b):
        modes = p.get("modes") or []
        extra = ""
        if len(modes) > 1:
            extra = " (modes: " + ", ".join("%.1f ns %.0f%%" % (m["one_way_ns"], 100 * m["share"]) for m in modes) + ")"
        print("  ladder %-10s %6.1f ns%s" % (p["handoff"], p["one_way_ns"], extra))' "$a" "$b"
}

echo "CPU $a <-> CPU $b, one-way ns; each line a separate run, back to back"
for i in $(seq "$repeats"); do
    echo "  C CAS ping-pong   $("$work/c2c" "$a" "$b") ns"
    "$ladder" cores --cpus "$a,$b" --quiet --json --out "$work/results" | ladder_pair "$a" "$b"
done
echo "  C CAS ping-pong   $("$work/c2c" "$a" "$b") ns"
