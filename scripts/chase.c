// An independent pointer chase for scripts/cross-check-memory.sh: ladder's memory
// figures checked against a few lines of C that share none of its code.
//
// One 64-byte node per cache line, each holding the absolute address of the next, all
// in one cycle. TLB-local order, as ladder's default: the buffer is cut into windows of
// `window` bytes (32 pages), each window's lines into 4 phases (line mod 4); the cycle
// walks phase 0 of every window (windows shuffled, lines shuffled inside), then phase
// 1, and so on. So the TLB keeps hitting, and a line's neighbours (which the adjacent-
// line and streamer prefetchers fetch along with it) are visited a quarter-cycle later,
// when they are long gone: the figure is cache and DRAM latency, not page walks and
// not prefetch hits. Pinned to one CPU; the best of
// several timed passes of at least 20 ms each, after one untimed pass.
//
// usage: chase CPU SIZE_BYTES [WINDOW_BYTES]   prints: SIZE_BYTES NS_PER_LOAD
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: chase CPU SIZE_BYTES [WINDOW_BYTES]\n"); return 2; }
    int cpu = atoi(argv[1]);
    size_t size = strtoull(argv[2], 0, 10), window = argc > 3 ? strtoull(argv[3], 0, 10) : 131072;
    cpu_set_t set; CPU_ZERO(&set); CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set)) { perror("sched_setaffinity"); return 1; }
    size_t n = size / 64, per = window / 64 < n ? window / 64 : n, windows = (n + per - 1) / per;
    char *buf = aligned_alloc(4096, (size + 4095) / 4096 * 4096);
    size_t *order = malloc(n * sizeof *order), *wins = malloc(windows * sizeof *wins);
    if (!buf || !order || !wins) { perror("alloc"); return 1; }
    for (size_t w = 0; w < windows; w++) wins[w] = w;
    for (size_t w = windows - 1; w > 0; w--) { size_t j = next_rand() % (w + 1), t = wins[w]; wins[w] = wins[j]; wins[j] = t; }
    size_t k = 0;
    for (size_t phase = 0; phase < 4; phase++) {
        for (size_t w = 0; w < windows; w++) {
            size_t lo = wins[w] * per, hi = lo + per < n ? lo + per : n, m = 0;
            size_t *slot = order + k;
            for (size_t i = lo + phase; i < hi; i += 4) slot[m++] = i;
            for (size_t i = m; i > 1; i--) { size_t j = next_rand() % i, t = slot[i - 1]; slot[i - 1] = slot[j]; slot[j] = t; }
            k += m;
        }
    }
    for (size_t i = 0; i < n; i++) *(void **)(buf + order[i] * 64) = buf + order[(i + 1) % n] * 64;
    void **p = (void **)(buf + order[0] * 64);
    size_t steps = n < 1000000 ? 1000000 : n;
    for (size_t i = 0; i < n; i++) p = *p;
    double best = 1e30;
    for (int trial = 0; trial < 7; trial++) {
        size_t reps = 0; double t0 = now_ns(), t1;
        do {
            for (size_t i = 0; i < steps; i += 8) { p = *p; p = *p; p = *p; p = *p; p = *p; p = *p; p = *p; p = *p; }
            reps++; t1 = now_ns();
        } while (t1 - t0 < 20e6);
        double ns = (t1 - t0) / (double)(reps * (steps / 8 * 8));
        if (ns < best) best = ns;
    }
    printf("%zu %.3f %p\n", size, best, (void *)p);
    return 0;
}
