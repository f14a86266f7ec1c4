//! The id filter of a frozen month file: a cache-line-blocked Bloom filter over
//! `(org, entry id)`, so that re-sending an entry of a frozen month is answered "not here" without
//! touching the directory or any org block in ~99% of the cases where the id is new.
//!
//! Layout: `blocks` blocks of 64 bytes (512 bits, eight u64 LE words). A key's 64-bit hash
//! `h = SplitMix64::hash(org ^ SplitMix64::hash(entry_id))` picks the block
//! `(h × blocks) >> 64`; `g = SplitMix64::hash(h)` gives [`HASHES`] bit positions in it, 9 bits
//! each (`(g >> 9i) & 511`). With [`BITS_PER_KEY`] = 10 bits per key (the block count rounded up)
//! the false-positive rate measured over 10^6 absent keys is about 1% (test
//! `no_false_negatives_and_false_positive_rate_is_about_one_percent`); one probe reads one cache line.
//!
//! From format 4 ([`crate::format::FROZEN_FORMAT_PENDING_KEYS`]) the filter also holds
//! `(org, PENDING_KEY)` for every org whose block has an expense row pending as the block
//! records it: Q4 probes it before looking the org up, and passes over the file on "certainly
//! not" (a row paid since keeps its key: the probe only ever answers "maybe" for it).

use crate::rng::SplitMix64;

/// The entry id under which the filter holds an org that has pending expense rows in the file
/// (format 4 on). An entry whose id is this very value shares the key: each use treats a
/// "maybe" as a reason to look, never as an answer.
pub const PENDING_KEY: u64 = u64::MAX;

/// Bytes of one filter block (one cache line).
pub const BLOCK_BYTES: usize = 64;
/// Bits of filter per key the writer sizes for.
pub const BITS_PER_KEY: u64 = 10;
/// Bits set per key.
pub const HASHES: u32 = 7;

const WORDS: usize = BLOCK_BYTES / 8;

/// The filter's hash of a key.
pub fn key_hash(org: u64, entry_id: u64) -> u64 {
    SplitMix64::hash(org ^ SplitMix64::hash(entry_id))
}

/// Blocks of a filter sized for `keys` keys (at least one, at most `u32::MAX`).
pub fn blocks_for(keys: u64) -> u32 {
    let bits = keys.saturating_mul(BITS_PER_KEY);
    let blocks = bits.div_ceil(BLOCK_BYTES as u64 * 8).max(1);
    u32::try_from(blocks).unwrap_or(u32::MAX)
}

fn block_of(h: u64, blocks: u32) -> usize {
    ((u128::from(h) * u128::from(blocks)) >> 64) as usize
}

fn bits_of(h: u64) -> impl Iterator<Item = (usize, u64)> {
    let g = SplitMix64::hash(h);
    (0..HASHES).map(move |i| {
        let bit = ((g >> (9 * i)) & 511) as usize;
        (bit / 64, 1u64 << (bit % 64))
    })
}

/// A filter being built: the writer adds every `(org, entry id)` of the file.
pub struct FilterBuilder {
    blocks: u32,
    words: Vec<u64>,
}

impl FilterBuilder {
    pub fn new(blocks: u32) -> FilterBuilder {
        let blocks = blocks.max(1);
        FilterBuilder {
            blocks,
            words: vec![0; blocks as usize * WORDS],
        }
    }

    pub fn insert(&mut self, org: u64, entry_id: u64) {
        let h = key_hash(org, entry_id);
        let base = block_of(h, self.blocks) * WORDS;
        for (word, mask) in bits_of(h) {
            self.words[base + word] |= mask;
        }
    }

    pub fn blocks(&self) -> u32 {
        self.blocks
    }

    /// Bytes of memory the builder holds.
    pub fn heap_bytes(&self) -> usize {
        self.words.len() * 8
    }

    /// The filter as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

/// Whether the stored filter `bytes` (whole blocks) may hold `(org, entry_id)`: `false` means
/// certainly not. An empty slice holds nothing.
pub fn may_contain(bytes: &[u8], org: u64, entry_id: u64) -> bool {
    let blocks = u32::try_from(bytes.len() / BLOCK_BYTES).unwrap_or(u32::MAX);
    if blocks == 0 {
        return false;
    }
    let h = key_hash(org, entry_id);
    let base = block_of(h, blocks) * BLOCK_BYTES;
    bits_of(h).all(|(word, mask)| {
        let at = base + word * 8;
        super::layout::u64_at(bytes, at) & mask != 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_false_positive_rate_is_about_one_percent() {
        let keys = 100_000u64;
        let mut builder = FilterBuilder::new(blocks_for(keys));
        for i in 0..keys {
            builder.insert(i % 1000, i * 7 + 1);
        }
        let bytes = builder.to_bytes();
        assert_eq!(bytes.len(), builder.blocks() as usize * BLOCK_BYTES);
        for i in 0..keys {
            assert!(may_contain(&bytes, i % 1000, i * 7 + 1));
        }
        let probes = 1_000_000u64;
        let hits = (0..probes)
            .filter(|i| may_contain(&bytes, i % 1000, i * 7 + 2))
            .count();
        let rate = hits as f64 / probes as f64;
        assert!(rate < 0.015, "false-positive rate {rate}");
        assert!(!may_contain(&[], 1, 1));
    }
}
