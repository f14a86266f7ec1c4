//! Org popularity: a Zipf (s = 1) distribution over ranks `1..=N` with
//! integer weights, so every language samples the same org from the same draw.

use super::generator::ParamsError;
use super::rng::uniform;

/// The largest number of orgs a [`Zipf`] table is built for (8 bytes each).
pub const MAX_ORGS: u64 = 1 << 24;

/// Zipf sampler over ranks `1..=N`: weight `w(k) = floor(2^40 / k)`, cumulative
/// weights `C[k]`, and a draw maps to the smallest `k` with `C[k] > u(r, C[N])`.
/// Rank `k` is `org_id` `k`.
#[derive(Clone, Debug)]
pub struct Zipf {
    /// `cumulative[k - 1] = C[k]`, strictly increasing (every weight is at least 1).
    cumulative: Vec<u64>,
}

/// `n` orgs can be sampled: `1..=`[`MAX_ORGS`].
pub(crate) fn check_orgs(n: u64) -> Result<(), ParamsError> {
    match n {
        0 => Err(ParamsError::NoOrgs),
        n if n > MAX_ORGS => Err(ParamsError::TooManyOrgs {
            orgs: n,
            max: MAX_ORGS,
        }),
        _ => Ok(()),
    }
}

impl Zipf {
    /// Builds the cumulative weight table for `n` orgs.
    ///
    /// # Errors
    ///
    /// If `n` is 0 or above [`MAX_ORGS`].
    pub fn new(n: u64) -> Result<Self, ParamsError> {
        check_orgs(n)?;
        let mut total = 0u64;
        let cumulative = (1..=n)
            .map(|k| {
                // At most 2^40 * (ln 2^24 + 1) < 2^45: no overflow.
                total += (1u64 << 40) / k;
                total
            })
            .collect();
        Ok(Self { cumulative })
    }

    /// The number of orgs `N`.
    pub fn orgs(&self) -> u64 {
        self.cumulative.len() as u64
    }

    /// The total weight `W = C[N]`.
    pub fn total_weight(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The org id (`1..=N`) for the raw draw `r`.
    #[inline]
    pub fn sample(&self, r: u64) -> u64 {
        let x = uniform(r, self.total_weight());
        let index = self.cumulative.partition_point(|&c| c <= x);
        debug_assert!(index < self.cumulative.len());
        index as u64 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_the_definition() {
        let zipf = Zipf::new(3).unwrap();
        let w1 = 1u64 << 40;
        assert_eq!(zipf.total_weight(), w1 + w1 / 2 + w1 / 3);
        assert_eq!(zipf.orgs(), 3);
    }

    #[test]
    fn extreme_draws_map_to_first_and_last_rank() {
        let zipf = Zipf::new(10_000).unwrap();
        assert_eq!(zipf.sample(0), 1);
        assert_eq!(zipf.sample(u64::MAX), 10_000);
    }

    #[test]
    fn boundaries_are_exact() {
        // x = u(r, W) < C[1] maps to 1; x = C[1] maps to 2.
        let zipf = Zipf::new(2).unwrap();
        let w = zipf.total_weight();
        let c1 = 1u64 << 40;
        // Smallest r with u(r, W) >= c1 is ceil(c1 * 2^64 / W).
        let r = ((u128::from(c1) << 64).div_ceil(u128::from(w))) as u64;
        assert_eq!(zipf.sample(r - 1), 1);
        assert_eq!(zipf.sample(r), 2);
    }

    #[test]
    fn single_org_always_sampled() {
        let zipf = Zipf::new(1).unwrap();
        assert_eq!(zipf.sample(0), 1);
        assert_eq!(zipf.sample(u64::MAX), 1);
    }

    #[test]
    fn bad_org_counts_are_rejected() {
        assert_eq!(Zipf::new(0).err(), Some(ParamsError::NoOrgs));
        assert!(matches!(
            Zipf::new(MAX_ORGS + 1),
            Err(ParamsError::TooManyOrgs { .. })
        ));
    }
}
