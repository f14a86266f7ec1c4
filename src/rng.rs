//! SplitMix64, the one deterministic generator of the tree: the simulated disk's crash images,
//! the hotel-ledger-v1 workload stream (`folio-workload` re-exports it) and the tests draw from
//! it, and the balance shard of an org is its finalizer of the org id (part of the on-disk
//! format: it must never change).

/// The SplitMix64 increment (the golden ratio as a 64-bit odd number).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 generator: a 64-bit state advanced by a fixed odd constant and mixed into each
/// output. Identical in every language, so a stream is reproducible bit for bit from its seed.
///
/// ```
/// let mut rng = folio::SplitMix64::new(0);
/// assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
/// assert!(rng.below(10) < 10);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose state starts at `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// Advances the state and returns the next raw 64-bit draw.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// Uniform in `0..n` (0 when `n` is 0): `floor(draw * n / 2^64)`, computed in 128 bits.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// The first draw of a generator seeded with `seed`, without one: a 64-bit hash of `seed`
    /// that spreads consecutive values evenly (the balance shards' hash of an org id).
    #[inline]
    pub fn hash(seed: u64) -> u64 {
        mix(seed.wrapping_add(GAMMA))
    }
}

/// The SplitMix64 finalizer.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    #[test]
    fn the_reference_stream_and_the_hash_are_its_first_draw() {
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        for seed in [0, 1, 7, u64::MAX] {
            assert_eq!(SplitMix64::hash(seed), SplitMix64::new(seed).next_u64());
        }
        let mut rng = SplitMix64::new(9);
        assert_eq!(rng.clone().below(0), 0);
        assert!((0..1000).all(|_| rng.below(3) < 3));
    }
}
