/* "holder" takes a pthread mutex and keeps it 20 ms (in hold_lock) while "waiter"
 * blocks on it in take_lock(); the holder's unlock wakes the waiter (futex). 10 times. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define ROUNDS 10
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int held, taken;

__attribute__((noinline)) static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

__attribute__((noinline)) void hold_lock(int round)
{
    pthread_mutex_lock(&lock);
    atomic_store(&held, round);
    pause_ms(20);
    pthread_mutex_unlock(&lock);
}

__attribute__((noinline)) void *lock_holder(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "holder");
    for (int i = 1; i <= ROUNDS; i++) {
        hold_lock(i);
        while (atomic_load(&taken) < i) /* wait until the waiter got it */
            pause_ms(1);
    }
    return NULL;
}

__attribute__((noinline)) void take_lock(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
}

__attribute__((noinline)) void *lock_waiter(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "waiter");
    for (int i = 1; i <= ROUNDS; i++) {
        while (atomic_load(&held) < i)
            sched_yield();
        take_lock();
        atomic_store(&taken, i);
    }
    return NULL;
}

int main(void)
{
    pthread_t holder, waiter;
    pthread_create(&waiter, NULL, lock_waiter, NULL);
    pthread_create(&holder, NULL, lock_holder, NULL);
    pthread_join(holder, NULL);
    pthread_join(waiter, NULL);
    return 0;
}
