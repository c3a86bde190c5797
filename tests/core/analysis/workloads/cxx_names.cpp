// C++ names a demangler must get right: namespaces, a class template, an operator,
// a lambda, an anonymous namespace and a function template.  Each burns CPU so it
// has samples of its own; noinline keeps it a frame of its own.
#include <cstdlib>
#include <ctime>

namespace geo {
template <typename T> struct Vec {
    T x, y;
    __attribute__((noinline)) Vec operator+(const Vec &o) const {
        Vec r{x, y};
        for (volatile int i = 0; i < 2000; i++) r.x = r.x + o.x * (T)1.0000001;
        r.y = y + o.y;
        return r;
    }
};

template <typename T> __attribute__((noinline)) T dot(const Vec<T> &a, const Vec<T> &b) {
    T s = 0;
    for (volatile int i = 0; i < 2000; i++) s = s + a.x * b.x + a.y * b.y;
    return s;
}
}  // namespace geo

namespace {
__attribute__((noinline)) long hidden_spin(long n) {
    volatile long s = 0;
    for (long i = 0; i < n; i++) s = s + i;
    return s;
}
}  // namespace

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    auto spin = [](int n) __attribute__((noinline)) {
        volatile int s = 0;
        for (int i = 0; i < n; i++) s = s + i;
        return (int)s;
    };
    geo::Vec<double> a{1, 2}, b{3, 4};
    double acc = 0;
    clock_t end = clock() + (clock_t)(seconds * CLOCKS_PER_SEC);
    while (clock() < end) {
        a = a + b;
        acc += geo::dot(a, b);
        acc += hidden_spin(2000);
        acc += spin(2000);
    }
    return acc == 0.5;
}
