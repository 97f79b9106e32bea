//! The access-pattern kernels beside the plain chase: independent chains interleaved in
//! one loop (memory-level parallelism), and streaming reads, writes, copies and
//! non-temporal writes with the widest vectors the CPU offers (bandwidth). Like the
//! chase, they never print and keep their results alive with `black_box`.

use crate::record::memory::Isa;
use std::hint::black_box;

/// Follows `K` independent chains at once, `steps` loads each, and returns where each
/// stopped.
///
/// # Safety
/// Every pointer in `starts` must point into a live chain built by
/// [`super::chain::write_chain`].
#[inline(never)]
pub unsafe fn chase_parallel<const K: usize>(mut p: [*const u8; K], steps: u64) -> [*const u8; K] {
    for _ in 0..steps {
        for q in p.iter_mut() {
            // SAFETY: every node holds the address of another node of its chain.
            *q = unsafe { *(*q as *const *const u8) };
        }
    }
    black_box(p)
}

impl Isa {
    /// The widest loads this CPU offers, detected at run time.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
            Isa::Sse2
        }
        #[cfg(target_arch = "aarch64")]
        {
            if std::arch::is_aarch64_feature_detected!("neon") {
                return Isa::Neon;
            }
            Isa::Scalar
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        Isa::Scalar
    }

    /// Every ISA this CPU can run, widest first.
    pub fn supported() -> Vec<Isa> {
        let best = Isa::detect();
        let family: &[Isa] = match best {
            Isa::Neon => &[Isa::Neon, Isa::Scalar],
            _ => &[Isa::Avx512, Isa::Avx2, Isa::Sse2, Isa::Scalar],
        };
        family
            .iter()
            .copied()
            .filter(|isa| isa.width() <= best.width())
            .collect()
    }

    /// Bytes per load.
    pub fn width(self) -> usize {
        match self {
            Isa::Avx512 => 64,
            Isa::Avx2 => 32,
            Isa::Sse2 | Isa::Neon => 16,
            Isa::Scalar => 8,
        }
    }
}

/// Bytes one streaming iteration reads: 8 loads of the widest width, so the buffer
/// length must be a multiple of 512.
pub const STREAM_BLOCK: usize = 512;

/// Reads `len` bytes from `ptr` `passes` times with independent loads of `isa`'s width
/// (eight accumulators, so loads never wait on each other), and returns a fold of what
/// was read.
///
/// # Safety
/// `ptr` must be valid for reads of `len` bytes, 64-byte aligned, and `len` a multiple
/// of [`STREAM_BLOCK`]; `isa` must be supported by this CPU ([`Isa::detect`]).
pub unsafe fn stream_read(isa: Isa, ptr: *const u8, len: usize, passes: u64) -> u64 {
    match isa {
        // SAFETY: the caller vouches for the buffer and the ISA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::read_avx512(ptr, len, passes) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::read_avx2(ptr, len, passes) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Sse2 => unsafe { x86::read_sse2(ptr, len, passes) },
        // SAFETY: as above.
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => unsafe { arm::read_neon(ptr, len, passes) },
        // SAFETY: as above.
        _ => unsafe { read_scalar(ptr, len, passes) },
    }
}

impl Isa {
    /// Whether there is a non-temporal store kernel of this width: x86 `movntdq` and
    /// its wider forms. Arm's `stnp` is only a hint that many cores ignore, so it has no
    /// kernel here; a scalar kernel has none either.
    pub fn has_nt_store(self) -> bool {
        cfg!(target_arch = "x86_64") && matches!(self, Isa::Avx512 | Isa::Avx2 | Isa::Sse2)
    }
}

/// How a write kernel stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// Ordinary stores through the caches.
    Plain,
    /// Non-temporal (streaming) stores around the caches, fenced at the end of each pass.
    NonTemporal,
}

/// Writes `len` bytes at `ptr` `passes` times with stores of `isa`'s width (each
/// 8-byte word of pass `k` holds `value ^ k`).
///
/// # Safety
/// `ptr` must be valid for writes of `len` bytes, 64-byte aligned, and `len` a multiple
/// of [`STREAM_BLOCK`]; `isa` must be supported by this CPU; [`Store::NonTemporal`]
/// needs [`Isa::has_nt_store`].
pub unsafe fn stream_write(
    isa: Isa,
    store: Store,
    ptr: *mut u8,
    len: usize,
    passes: u64,
    value: u64,
) {
    for k in 0..passes {
        let v = value ^ k;
        match (isa, store) {
            // SAFETY: the caller vouches for the buffer, the ISA and the store kind.
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx512, Store::Plain) => unsafe { x86::write_avx512(ptr, len, v) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx512, Store::NonTemporal) => unsafe { x86::nt_avx512(ptr, len, v) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, Store::Plain) => unsafe { x86::write_avx2(ptr, len, v) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, Store::NonTemporal) => unsafe { x86::nt_avx2(ptr, len, v) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            (Isa::Sse2, Store::Plain) => unsafe { x86::write_sse2(ptr, len, v) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            (Isa::Sse2, Store::NonTemporal) => unsafe { x86::nt_sse2(ptr, len, v) },
            // SAFETY: as above.
            #[cfg(target_arch = "aarch64")]
            (Isa::Neon, _) => unsafe { arm::write_neon(ptr, len, v) },
            // SAFETY: as above.
            _ => unsafe { write_scalar(ptr, len, v) },
        }
        // Every pass's stores count: nothing may fold them into the last pass.
        black_box(ptr);
    }
}

/// Copies `len` bytes from `src` to `dst` `passes` times with loads and stores of
/// `isa`'s width.
///
/// # Safety
/// Both must be valid for `len` bytes, 64-byte aligned, not overlapping, and `len` a
/// multiple of [`STREAM_BLOCK`]; `isa` must be supported by this CPU.
pub unsafe fn stream_copy(isa: Isa, src: *const u8, dst: *mut u8, len: usize, passes: u64) {
    for _ in 0..passes {
        match isa {
            // SAFETY: the caller vouches for the buffers and the ISA.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { x86::copy_avx512(src, dst, len) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { x86::copy_avx2(src, dst, len) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => unsafe { x86::copy_sse2(src, dst, len) },
            // SAFETY: as above.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { arm::copy_neon(src, dst, len) },
            // SAFETY: as above.
            _ => unsafe { copy_scalar(src, dst, len) },
        }
        black_box(dst);
    }
}

/// 64-bit stores.
///
/// # Safety
/// As [`stream_write`].
unsafe fn write_scalar(ptr: *mut u8, len: usize, v: u64) {
    let p = ptr as *mut u64;
    for i in 0..len / 8 {
        // SAFETY: i < len / 8.
        unsafe { p.add(i).write_volatile(v) };
    }
}

/// 64-bit loads and stores.
///
/// # Safety
/// As [`stream_copy`].
unsafe fn copy_scalar(src: *const u8, dst: *mut u8, len: usize) {
    let (s, d) = (src as *const u64, dst as *mut u64);
    for i in 0..len / 8 {
        // SAFETY: i < len / 8 in both buffers.
        unsafe { d.add(i).write_volatile(s.add(i).read_volatile()) };
    }
}

/// 64-bit loads, eight accumulators.
///
/// # Safety
/// As [`stream_read`].
unsafe fn read_scalar(ptr: *const u8, len: usize, passes: u64) -> u64 {
    let p = ptr as *const u64;
    let mut acc = [0u64; 8];
    for _ in 0..passes {
        for i in (0..len / 8).step_by(8) {
            for (j, a) in acc.iter_mut().enumerate() {
                // SAFETY: i + j < len / 8.
                *a ^= unsafe { p.add(i + j).read_volatile() };
            }
        }
    }
    black_box(acc.iter().fold(0, |x, y| x ^ y))
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::hint::black_box;

    macro_rules! reader {
        ($name:ident, $feature:literal, $ty:ty, $load:ident, $xor:ident, $zero:ident, $width:expr) => {
            /// Eight independent accumulators of this width, XORed with every load.
            ///
            /// # Safety
            /// As `stream_read`, and the CPU must support the feature.
            #[target_feature(enable = $feature)]
            pub unsafe fn $name(ptr: *const u8, len: usize, passes: u64) -> u64 {
                let mut acc: [$ty; 8] = [$zero(); 8];
                for _ in 0..passes {
                    let mut off = 0;
                    while off < len {
                        for (j, a) in acc.iter_mut().enumerate() {
                            // SAFETY: off + 8 * width <= len and ptr is 64-byte aligned.
                            let v = unsafe { $load(ptr.add(off + j * $width) as *const _) };
                            *a = $xor(*a, v);
                        }
                        off += 8 * $width;
                    }
                }
                let folded = acc.iter().fold($zero(), |x, y| $xor(x, *y));
                // SAFETY: reading the lanes of a local vector.
                let lanes: [u64; $width / 8] = unsafe { std::mem::transmute(folded) };
                black_box(lanes.iter().fold(0, |x, y| x ^ y))
            }
        };
    }

    reader!(
        read_avx512,
        "avx512f",
        __m512i,
        _mm512_load_si512,
        _mm512_xor_si512,
        _mm512_setzero_si512,
        64
    );
    reader!(
        read_avx2,
        "avx2",
        __m256i,
        _mm256_load_si256,
        _mm256_xor_si256,
        _mm256_setzero_si256,
        32
    );
    reader!(
        read_sse2,
        "sse2",
        __m128i,
        _mm_load_si128,
        _mm_xor_si128,
        _mm_setzero_si128,
        16
    );

    macro_rules! writer {
        ($name:ident, $feature:literal, $ty:ty, $store:ident, $set1:ident, $width:expr, $fence:expr) => {
            /// Eight stores of this width per step, all of one value.
            ///
            /// # Safety
            /// As `stream_write`, and the CPU must support the feature.
            #[target_feature(enable = $feature)]
            pub unsafe fn $name(ptr: *mut u8, len: usize, value: u64) {
                let v = $set1(value as i64);
                let mut off = 0;
                while off < len {
                    for j in 0..8 {
                        // SAFETY: off + 8 * width <= len and ptr is 64-byte aligned.
                        unsafe { $store(ptr.add(off + j * $width) as *mut $ty, v) };
                    }
                    off += 8 * $width;
                }
                if $fence {
                    // Streaming stores are weakly ordered: the pass ends when they land.
                    _mm_sfence();
                }
            }
        };
    }

    macro_rules! copier {
        ($name:ident, $feature:literal, $ty:ty, $load:ident, $store:ident, $width:expr) => {
            /// Eight loads and eight stores of this width per step.
            ///
            /// # Safety
            /// As `stream_copy`, and the CPU must support the feature.
            #[target_feature(enable = $feature)]
            pub unsafe fn $name(src: *const u8, dst: *mut u8, len: usize) {
                let mut off = 0;
                while off < len {
                    for j in 0..8 {
                        let at = off + j * $width;
                        // SAFETY: at + width <= len in both buffers, 64-byte aligned.
                        unsafe {
                            $store(dst.add(at) as *mut $ty, $load(src.add(at) as *const $ty))
                        };
                    }
                    off += 8 * $width;
                }
            }
        };
    }

    writer!(
        write_avx512,
        "avx512f",
        __m512i,
        _mm512_store_si512,
        _mm512_set1_epi64,
        64,
        false
    );
    writer!(
        nt_avx512,
        "avx512f",
        __m512i,
        _mm512_stream_si512,
        _mm512_set1_epi64,
        64,
        true
    );
    writer!(
        write_avx2,
        "avx2",
        __m256i,
        _mm256_store_si256,
        _mm256_set1_epi64x,
        32,
        false
    );
    writer!(
        nt_avx2,
        "avx2",
        __m256i,
        _mm256_stream_si256,
        _mm256_set1_epi64x,
        32,
        true
    );
    writer!(
        write_sse2,
        "sse2",
        __m128i,
        _mm_store_si128,
        _mm_set1_epi64x,
        16,
        false
    );
    writer!(
        nt_sse2,
        "sse2",
        __m128i,
        _mm_stream_si128,
        _mm_set1_epi64x,
        16,
        true
    );
    copier!(
        copy_avx512,
        "avx512f",
        __m512i,
        _mm512_load_si512,
        _mm512_store_si512,
        64
    );
    copier!(
        copy_avx2,
        "avx2",
        __m256i,
        _mm256_load_si256,
        _mm256_store_si256,
        32
    );
    copier!(
        copy_sse2,
        "sse2",
        __m128i,
        _mm_load_si128,
        _mm_store_si128,
        16
    );
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use std::arch::aarch64::*;
    use std::hint::black_box;

    /// Eight independent 128-bit accumulators, XORed with two four-register `ld1` loads
    /// (128 bytes) per step.
    ///
    /// # Safety
    /// As `stream_read`, and the CPU must support NEON.
    #[target_feature(enable = "neon")]
    pub unsafe fn read_neon(ptr: *const u8, len: usize, passes: u64) -> u64 {
        let mut acc = [vdupq_n_u8(0); 8];
        for _ in 0..passes {
            let mut off = 0;
            while off < len {
                // SAFETY: off + 128 <= len (len is a multiple of 512); ld1 needs no
                // alignment.
                let (a, b) = unsafe { (vld1q_u8_x4(ptr.add(off)), vld1q_u8_x4(ptr.add(off + 64))) };
                for (j, v) in [a.0, a.1, a.2, a.3, b.0, b.1, b.2, b.3]
                    .into_iter()
                    .enumerate()
                {
                    acc[j] = veorq_u8(acc[j], v);
                }
                off += 128;
            }
        }
        let folded = acc.iter().fold(vdupq_n_u8(0), |x, y| veorq_u8(x, *y));
        let lanes = vreinterpretq_u64_u8(folded);
        black_box(vgetq_lane_u64::<0>(lanes) ^ vgetq_lane_u64::<1>(lanes))
    }

    /// Two four-register `st1` stores (128 bytes) per step, all of one value.
    ///
    /// # Safety
    /// As `stream_write`, and the CPU must support NEON.
    #[target_feature(enable = "neon")]
    pub unsafe fn write_neon(ptr: *mut u8, len: usize, value: u64) {
        let v = vreinterpretq_u8_u64(vdupq_n_u64(value));
        let four = uint8x16x4_t(v, v, v, v);
        let mut off = 0;
        while off < len {
            // SAFETY: off + 128 <= len (len is a multiple of 512).
            unsafe {
                vst1q_u8_x4(ptr.add(off), four);
                vst1q_u8_x4(ptr.add(off + 64), four);
            }
            off += 128;
        }
    }

    /// Four-register `ld1` and `st1` (64 bytes each) two at a time.
    ///
    /// # Safety
    /// As `stream_copy`, and the CPU must support NEON.
    #[target_feature(enable = "neon")]
    pub unsafe fn copy_neon(src: *const u8, dst: *mut u8, len: usize) {
        let mut off = 0;
        while off < len {
            // SAFETY: off + 128 <= len in both buffers.
            unsafe {
                let (a, b) = (vld1q_u8_x4(src.add(off)), vld1q_u8_x4(src.add(off + 64)));
                vst1q_u8_x4(dst.add(off), a);
                vst1q_u8_x4(dst.add(off + 64), b);
            }
            off += 128;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::chain::{is_single_cycle, write_chain};
    use crate::record::memory::Order;

    #[test]
    fn every_isa_reads_the_same_fold() {
        let words: Vec<u64> = (0..4096u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let mut buf = crate::memory::buffer::Buffer::new(
            words.len() * 8,
            crate::record::memory::PageKind::Small,
        )
        .unwrap();
        let p = buf.as_mut_ptr();
        // SAFETY: the buffer holds words.len() * 8 bytes.
        unsafe { std::ptr::copy_nonoverlapping(words.as_ptr() as *const u8, p, words.len() * 8) };
        let want = words.iter().fold(0, |a, b| a ^ b);
        for isa in Isa::supported() {
            // SAFETY: aligned buffer of a multiple of 512 bytes; ISA supported here.
            let got = unsafe { stream_read(isa, p, words.len() * 8, 1) };
            assert_eq!(got, want, "{isa:?}");
        }
    }

    #[test]
    fn every_write_kernel_writes_every_byte_it_claims() {
        let len = 8 * STREAM_BLOCK;
        let mut buf =
            crate::memory::buffer::Buffer::new(2 * len, crate::record::memory::PageKind::Small)
                .unwrap();
        let p = buf.as_mut_ptr();
        for isa in Isa::supported() {
            let stores: &[Store] = if isa.has_nt_store() {
                &[Store::Plain, Store::NonTemporal]
            } else {
                &[Store::Plain]
            };
            for (n, &store) in stores.iter().enumerate() {
                let value = 0x0123_4567_89ab_cdef ^ n as u64;
                // SAFETY: the buffer holds 2 * len bytes; aligned; ISA supported here.
                unsafe {
                    std::ptr::write_bytes(p, 0, 2 * len);
                    stream_write(isa, store, p, len, 2, value);
                }
                // SAFETY: as above; the kernel wrote the first len bytes.
                let words = unsafe { std::slice::from_raw_parts(p as *const u64, 2 * len / 8) };
                // The last of two passes writes value ^ 1; the half past len is untouched.
                assert!(
                    words[..len / 8].iter().all(|&w| w == value ^ 1),
                    "{isa:?} {store:?}"
                );
                assert!(
                    words[len / 8..].iter().all(|&w| w == 0),
                    "{isa:?} {store:?}"
                );
            }
        }
    }

    #[test]
    fn every_copy_kernel_copies_the_source_exactly() {
        let len = 8 * STREAM_BLOCK;
        let mut buf =
            crate::memory::buffer::Buffer::new(2 * len, crate::record::memory::PageKind::Small)
                .unwrap();
        let p = buf.as_mut_ptr();
        for isa in Isa::supported() {
            // SAFETY: the buffer holds 2 * len bytes; src is the first half, dst the second.
            let (src, dst) = unsafe {
                let words = std::slice::from_raw_parts_mut(p as *mut u64, 2 * len / 8);
                for (i, w) in words.iter_mut().enumerate() {
                    *w = if i < len / 8 {
                        (i as u64).wrapping_mul(0x9e37_79b9)
                    } else {
                        0
                    };
                }
                stream_copy(isa, p, p.add(len), len, 1);
                (
                    std::slice::from_raw_parts(p as *const u8, len),
                    std::slice::from_raw_parts(p.add(len) as *const u8, len),
                )
            };
            assert_eq!(src, dst, "{isa:?}");
        }
    }

    #[test]
    fn parallel_chains_each_return_after_a_full_cycle() {
        // Four disjoint chains over one buffer: node i belongs to chain i % 4.
        let nodes = 4096;
        let mut v = vec![0usize; nodes * 8];
        let base = v.as_mut_ptr() as *mut u8;
        let k = 4;
        let starts: Vec<*const u8> = (0..k)
            .map(|c| {
                // SAFETY: each chain is written over its own quarter of nodes, which are
                // 4 * 64 bytes apart starting at node c.
                unsafe {
                    let start =
                        write_chain(base.add(c * 64), nodes / k, 64 * k, Order::Random, c as u64);
                    assert!(is_single_cycle(base.add(c * 64), start, nodes / k, 64 * k));
                    start
                }
            })
            .collect();
        let p = [starts[0], starts[1], starts[2], starts[3]];
        // SAFETY: the chains live in v.
        let end = unsafe { chase_parallel(p, (nodes / k) as u64) };
        assert_eq!(end, p);
    }
}
