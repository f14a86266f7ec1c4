//! The splitmix64 pseudo-random generator of `hotel-ledger-v1` (the engine's
//! [`folio::SplitMix64`], the one in the tree), and the mapping of a raw
//! 64-bit draw onto a range.

/// The splitmix64 generator: a 64-bit state advanced by a fixed odd constant
/// and mixed into each output. Identical in every language, so the workload
/// stream is reproducible bit for bit.
pub use folio::SplitMix64;

/// Maps a raw draw `r` onto `0..n`: `floor(r * n / 2^64)`, computed in 128 bits.
///
/// Returns 0 when `n` is 0.
#[inline]
pub fn uniform(r: u64, n: u64) -> u64 {
    ((u128::from(r) * u128::from(n)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_zero_first_output_matches_reference() {
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn uniform_stays_in_range() {
        assert_eq!(uniform(0, 100), 0);
        assert_eq!(uniform(u64::MAX, 100), 99);
        assert_eq!(uniform(1 << 63, 100), 50);
        assert_eq!(uniform(u64::MAX, 0), 0);
        assert_eq!(uniform(u64::MAX, u64::MAX), u64::MAX - 1);
    }
}
