#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
static int N = 200000;
static _Atomic int flag __attribute__((aligned(64)));
static void pin(int c) { cpu_set_t s; CPU_ZERO(&s); CPU_SET(c, &s); pthread_setaffinity_np(pthread_self(), sizeof s, &s); }
static void *other(void *arg) { pin(1); for (int i = 0; i < N; i++) { while (atomic_load(&flag) != 1) ; atomic_store(&flag, 0); } return 0; }
int main(int c, char **v) { if (c > 1) N = atoi(v[1]);
  pthread_t t; pthread_create(&t, 0, other, 0); pin(0);
  struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < N; i++) { atomic_store(&flag, 1); while (atomic_load(&flag) != 0) ; }
  clock_gettime(CLOCK_MONOTONIC, &b); pthread_join(t, 0);
  printf("round trip %.1f ns (one way ~%.1f)\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (2.0 * N), ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (4.0 * N));
}
