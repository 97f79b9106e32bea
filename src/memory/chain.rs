//! Pointer chains: one cycle through every node of a buffer, in an order the hardware
//! prefetchers cannot follow.
//!
//! Nodes are one cache line apart; each holds the absolute address of the next node,
//! so a chase step is one dependent load with plain `[reg]` addressing. Orders are
//! built from random cycles (Sattolo's algorithm) over groups of nodes, the groups
//! chained one after another, so the whole is always a single cycle:
//!
//! - `tlb-local` (default): the buffer is cut into windows of [`WINDOW_BYTES`]; the
//!   lines of each window are split into [`PHASES`] interleaved phases (line index mod
//!   4); the chain walks phase 0 of every window (windows in random order, lines in
//!   random order inside each), then phase 1, and so on. A window spans 32 base pages,
//!   so the data TLB keeps hitting; a line's neighbours belong to other phases, visited
//!   a whole quarter-chain later, so adjacent-line and region prefetches do not help.
//! - `random`: one random cycle through every line. At RAM sizes each step also misses
//!   the TLB and walks the page tables: that is the page-walk measurement.

use crate::record::memory::Order;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// The span of one TLB-local window: 32 pages of 4 KiB.
pub const WINDOW_BYTES: usize = 128 << 10;
/// Interleaved phases per window in the TLB-local order.
pub const PHASES: usize = 4;

/// A random cyclic permutation of `0..k` by Sattolo's algorithm: `next[i]` follows
/// `i`, and following `next` from any start visits all `k` values before returning.
pub fn sattolo(k: usize, rng: &mut SmallRng) -> Vec<u32> {
    let mut a: Vec<u32> = (0..k as u32).collect();
    for i in (1..k).rev() {
        let j = rng.random_range(0..i);
        a.swap(i, j);
    }
    a
}

/// Calls `visit` with every node index of `0..nodes` once, in `order`. Each group is a
/// Sattolo cycle entered at its first member, so consecutive visits form one cycle when
/// the caller links the last node back to the first.
pub fn visit_order(
    nodes: usize,
    node_bytes: usize,
    order: Order,
    seed: u64,
    mut visit: impl FnMut(usize),
) {
    if order == Order::Sequential {
        (0..nodes).for_each(visit);
        return;
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let (per_window, phases) = match order {
        Order::TlbLocal => ((WINDOW_BYTES / node_bytes).max(1), PHASES),
        Order::Random | Order::Sequential => (nodes.max(1), 1),
    };
    let windows = nodes.div_ceil(per_window);
    let window_cycle = sattolo(windows, &mut rng);
    let mut members: Vec<usize> = Vec::with_capacity(per_window.div_ceil(phases));
    for phase in 0..phases {
        let mut w = 0usize;
        for _ in 0..windows {
            let lo = w * per_window;
            let hi = (lo + per_window).min(nodes);
            members.clear();
            members.extend((lo..hi).filter(|i| i % phases == phase));
            let cycle = sattolo(members.len(), &mut rng);
            let mut at = 0usize;
            for _ in 0..members.len() {
                visit(members[at]);
                at = cycle[at] as usize;
            }
            w = window_cycle[w] as usize;
        }
    }
}

/// Builds a cycle node by node: each pushed node's address is written into the
/// previous node; `finish` closes the cycle.
struct Linker {
    base: *mut u8,
    first: Option<usize>,
    prev: Option<usize>,
}

impl Linker {
    fn new(base: *mut u8) -> Linker {
        Linker {
            base,
            first: None,
            prev: None,
        }
    }

    /// # Safety
    /// `off` must be distinct from earlier ones, `usize`-aligned and leave room for a
    /// `usize` inside the writable buffer at `base`.
    unsafe fn push(&mut self, off: usize) {
        // SAFETY: the caller vouches that the offset lies inside the buffer.
        let here = unsafe { self.base.add(off) };
        if let Some(p) = self.prev {
            // SAFETY: p was pushed before under the same contract.
            unsafe { (self.base.add(p) as *mut usize).write(here as usize) };
        }
        self.first.get_or_insert(off);
        self.prev = Some(off);
    }

    /// Links the last node back to the first; returns the first node's address.
    fn finish(self) -> *const u8 {
        if let (Some(f), Some(p)) = (self.first, self.prev) {
            // SAFETY: both offsets were pushed under push's contract.
            unsafe { (self.base.add(p) as *mut usize).write(self.base.add(f) as usize) };
        }
        // SAFETY: `first` is inside the buffer, or the offset is 0.
        unsafe { self.base.add(self.first.unwrap_or(0)) }
    }
}

/// Links the byte offsets `offsets` of the buffer at `base` into one cycle, in the order
/// given: the word at each offset gets the absolute address of the next, the last the
/// address of the first. Returns the first node's address (`base` when empty).
///
/// # Safety
/// Every offset must be distinct, a multiple of `size_of::<usize>()`, and leave room
/// for a `usize` inside the buffer at `base`, which must be valid for writes.
pub unsafe fn link(base: *mut u8, offsets: impl IntoIterator<Item = usize>) -> *const u8 {
    let mut l = Linker::new(base);
    for off in offsets {
        // SAFETY: the caller's contract is push's.
        unsafe { l.push(off) };
    }
    l.finish()
}

/// Writes a chain over `nodes` nodes `node_bytes` apart starting at `base`, in `order`.
/// Returns the first node's address. Nothing but the chain itself is allocated beyond
/// one window's worth of indices.
///
/// # Safety
/// `base` must be valid for writes of `nodes * node_bytes` bytes, aligned for `usize`,
/// and `node_bytes` must be at least `size_of::<usize>()` and a multiple of it.
pub unsafe fn write_chain(
    base: *mut u8,
    nodes: usize,
    node_bytes: usize,
    order: Order,
    seed: u64,
) -> *const u8 {
    let mut l = Linker::new(base);
    visit_order(nodes, node_bytes, order, seed, |i| {
        // SAFETY: every visited index is a distinct node inside the buffer.
        unsafe { l.push(i * node_bytes) }
    });
    l.finish()
}

/// Follows a chain from `start` and checks that it is one cycle through all `nodes`
/// nodes of the buffer at `base`: every step lands on a node boundary inside the
/// buffer, no node is visited twice, and step `nodes` returns to the start.
///
/// # Safety
/// `base..base + nodes * node_bytes` must hold a chain written by [`write_chain`].
pub unsafe fn is_single_cycle(
    base: *const u8,
    start: *const u8,
    nodes: usize,
    node_bytes: usize,
) -> bool {
    let mut seen = vec![false; nodes];
    let mut p = start as usize;
    for _ in 0..nodes {
        let off = p.wrapping_sub(base as usize);
        if !off.is_multiple_of(node_bytes) || off / node_bytes >= nodes {
            return false;
        }
        let i = off / node_bytes;
        if std::mem::replace(&mut seen[i], true) {
            return false;
        }
        // SAFETY: p was just checked to be a node inside the buffer.
        p = unsafe { (p as *const usize).read() };
    }
    p == start as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain_in_vec(nodes: usize, node_bytes: usize, order: Order, seed: u64) -> bool {
        let words = nodes * node_bytes / 8;
        let mut v = vec![0usize; words];
        let base = v.as_mut_ptr() as *mut u8;
        // SAFETY: v holds nodes * node_bytes bytes, usize-aligned.
        unsafe {
            let start = write_chain(base, nodes, node_bytes, order, seed);
            is_single_cycle(base, start, nodes, node_bytes)
        }
    }

    #[test]
    fn sattolo_is_one_cycle() {
        let mut rng = SmallRng::seed_from_u64(7);
        for k in [1, 2, 3, 10, 1000] {
            let next = sattolo(k, &mut rng);
            let mut at = 0usize;
            for step in 1..=k {
                at = next[at] as usize;
                assert_eq!(at == 0, step == k, "k={k} step={step}");
            }
        }
    }

    #[test]
    fn tlb_local_order_stays_inside_windows_per_phase() {
        let node_bytes = 64;
        let per_window = WINDOW_BYTES / node_bytes;
        let nodes = per_window * 8;
        let mut seq = Vec::new();
        visit_order(nodes, node_bytes, Order::TlbLocal, 1, |i| seq.push(i));
        let per_phase_window = per_window / PHASES;
        for chunk in seq.chunks(per_phase_window) {
            let w = chunk[0] / per_window;
            let phase = chunk[0] % PHASES;
            assert!(chunk
                .iter()
                .all(|&i| i / per_window == w && i % PHASES == phase));
        }
    }

    #[test]
    fn a_corrupted_chain_is_caught() {
        let nodes = 64;
        let mut v = vec![0usize; nodes * 8];
        let base = v.as_mut_ptr() as *mut u8;
        // SAFETY: v holds nodes * 64 bytes.
        unsafe {
            let start = write_chain(base, nodes, 64, Order::Random, 3);
            // Point some node at itself: a short cycle.
            let victim = base.add(5 * 64) as *mut usize;
            victim.write(victim as usize);
            assert!(!is_single_cycle(base, start, nodes, 64));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn chain_is_one_cycle_through_every_node(
            nodes in 1usize..20_000,
            seed in any::<u64>(),
            which in 0usize..3,
            wide in any::<bool>(),
        ) {
            let order = [Order::Random, Order::TlbLocal, Order::Sequential][which];
            let node_bytes = if wide { 128 } else { 64 };
            prop_assert!(chain_in_vec(nodes, node_bytes, order, seed));
        }
    }
}
