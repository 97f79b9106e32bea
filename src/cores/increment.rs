//! A counter incremented in memory: each step loads the word, adds one and stores it
//! back, and the next step's load reads that store — what `x += 1` on a counter the
//! compiler must keep in memory does. Written in assembly so the loop is what it says
//! (a Rust loop of relaxed atomics or volatile accesses leaves the addressing to the
//! compiler, and the addressing decides what the core does).
//!
//! Recent cores rename a store and its reload when both name the same base register
//! and displacement (memory renaming: AMD Zen 2 and later, Intel since Ice Lake): the
//! load then takes the stored value without a cache access or store-buffer search, at
//! about one cycle a step, register speed. With an index register in the address the
//! reload goes through store-to-load forwarding proper (several cycles), the cost of an
//! increment that the cache side of the core serves. [`Addressing`] picks which.

/// How the loop addresses the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `[base]`: the form memory renaming recognises.
    Base,
    /// `[base + index*8]` with a zero index register: store forwarding proper.
    Indexed,
}

/// Adds `n` to the word at `p`, one load, add and store per step.
///
/// # Safety
/// `p` must be valid for reads and writes of a `u64`, aligned, and no other thread may
/// access that word until this returns.
pub unsafe fn increment(p: *mut u64, n: u64, addressing: Addressing) {
    if n == 0 {
        return;
    }
    // SAFETY: the caller's guarantees are imp::increment's, and n > 0.
    unsafe { imp::increment(p, n, addressing) };
}

/// One step of the loop in this architecture's assembly: load `{v}` from the counter,
/// add one, store it back, count `{n}` down and loop to `2:` until it reaches zero.
/// `base` addresses the counter as `[{p}]`; `indexed` as `{p}` plus `{i}` (zero) times
/// eight.
#[cfg(target_arch = "x86_64")]
macro_rules! step {
    (base) => {
        "mov {v}, qword ptr [{p}]\nadd {v}, 1\nmov qword ptr [{p}], {v}\ndec {n}\njnz 2b"
    };
    (indexed) => {
        "mov {v}, qword ptr [{p} + {i}*8]\nadd {v}, 1\nmov qword ptr [{p} + {i}*8], {v}\n\
         dec {n}\njnz 2b"
    };
}

#[cfg(target_arch = "aarch64")]
macro_rules! step {
    (base) => {
        "ldr {v}, [{p}]\nadd {v}, {v}, #1\nstr {v}, [{p}]\nsubs {n}, {n}, #1\nb.ne 2b"
    };
    (indexed) => {
        "ldr {v}, [{p}, {i}, lsl #3]\nadd {v}, {v}, #1\nstr {v}, [{p}, {i}, lsl #3]\n\
         subs {n}, {n}, #1\nb.ne 2b"
    };
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod imp {
    use super::Addressing;

    /// See [`super::increment`]; `n` > 0.
    pub unsafe fn increment(p: *mut u64, n: u64, addressing: Addressing) {
        match addressing {
            // SAFETY: the caller guarantees p is valid and exclusive; the loop touches
            // only [p] and its own registers, and runs n (> 0) times.
            Addressing::Base => unsafe {
                std::arch::asm!(
                    "2:",
                    step!(base),
                    p = in(reg) p,
                    n = inout(reg) n => _,
                    v = out(reg) _,
                    options(nostack),
                )
            },
            // SAFETY: as above; the index register holds zero, so the address is [p].
            Addressing::Indexed => unsafe {
                std::arch::asm!(
                    "2:",
                    step!(indexed),
                    p = in(reg) p,
                    i = in(reg) 0usize,
                    n = inout(reg) n => _,
                    v = out(reg) _,
                    options(nostack),
                )
            },
        }
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    use super::Addressing;

    /// See [`super::increment`]: volatile accesses, the addressing left to the compiler
    /// (no assembly for this architecture).
    pub unsafe fn increment(p: *mut u64, n: u64, _addressing: Addressing) {
        for _ in 0..n {
            // SAFETY: the caller guarantees p is valid and exclusive.
            unsafe { p.write_volatile(p.read_volatile().wrapping_add(1)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_add_exactly_n_and_zero_adds_nothing() {
        for a in [Addressing::Base, Addressing::Indexed] {
            let mut w = 5u64;
            // SAFETY: a live local word, used by this thread alone.
            unsafe { increment(&mut w, 1000, a) };
            assert_eq!(w, 1005, "{a:?}");
            // SAFETY: as above.
            unsafe { increment(&mut w, 0, a) };
            assert_eq!(w, 1005, "{a:?}");
        }
    }
}
