//! The pointer-chase kernel: `p = *p`, unrolled, one dependent load per step.

use std::hint::black_box;

/// Steps per unrolled loop iteration.
const UNROLL: u64 = 16;

/// Follows the chain from `start` for `steps` loads and returns where it stopped, so
/// the next trial can continue from there.
///
/// # Safety
/// `start` must point into a chain built by [`super::chain::write_chain`] whose buffer
/// is still alive.
#[inline(never)]
pub unsafe fn chase(start: *const u8, steps: u64) -> *const u8 {
    let mut p = start as *const *const u8;
    macro_rules! step {
        () => {
            // SAFETY: every node holds the address of another node of the same chain.
            p = unsafe { *p } as *const *const u8;
        };
    }
    for _ in 0..steps / UNROLL {
        step!();
        step!();
        step!();
        step!();
        step!();
        step!();
        step!();
        step!();
        step!();
        step!();
        step!();
        step!();
        step!();
        step!();
        step!();
        step!();
    }
    for _ in 0..steps % UNROLL {
        step!();
    }
    black_box(p) as *const u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::chain::write_chain;
    use crate::record::memory::Order;

    #[test]
    fn chasing_a_whole_cycle_returns_to_the_start() {
        let nodes = 1000;
        let mut v = vec![0usize; nodes * 8];
        let base = v.as_mut_ptr() as *mut u8;
        // SAFETY: v holds nodes * 64 bytes; the chain is built before chasing.
        unsafe {
            let start = write_chain(base, nodes, 64, Order::TlbLocal, 9);
            assert_eq!(chase(start, nodes as u64), start);
            assert_ne!(chase(start, nodes as u64 - 1), start);
            assert_eq!(chase(start, 3 * nodes as u64 + 17), chase(start, 17));
        }
    }
}
