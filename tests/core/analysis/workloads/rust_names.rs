// A Rust program whose hot functions sit in a module, a generic and a trait impl, so
// their mangled names (legacy or v0, as rustc is told) carry paths, generics and impls.
use std::time::{Duration, Instant};

mod shapes {
    pub struct Square(pub u64);

    pub trait Area {
        fn area(&self) -> u64;
    }

    impl Area for Square {
        #[inline(never)]
        fn area(&self) -> u64 {
            let mut s = 0u64;
            for i in 0..20_000u64 {
                s = std::hint::black_box(s.wrapping_add(i * self.0));
            }
            s
        }
    }

    #[inline(never)]
    pub fn total<T: Area>(items: &[T]) -> u64 {
        let mut s = 0u64;
        for _ in 0..200 {
            for item in items {
                s = std::hint::black_box(s.wrapping_add(item.area()));
            }
        }
        s
    }
}

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let items = [shapes::Square(3), shapes::Square(5)];
    let mut acc = 0u64;
    while Instant::now() < end {
        acc = acc.wrapping_add(shapes::total(&items));
    }
    std::process::exit((acc == 1) as i32);
}
