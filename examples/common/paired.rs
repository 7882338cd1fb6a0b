//! Paired A/B runs: the raw client (A) and the shim (B) measured back to back in pairs whose order alternates
//! (A B, B A, A B, ...: "ABBA"), so a drift over the run (a store that keeps growing, a neighbour's load) lands on
//! each side equally instead of always on the second. The figure is the median of the per-pair ratios B / A, with
//! a bootstrap 95 % interval of that median (pairs resampled with replacement), so the noise is printed beside the
//! figure instead of hidden in a ratio of two medians.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Which side runs first in pair `i` (0-based): raw first in even pairs, shim first in odd ones.
pub fn raw_first(i: usize) -> bool {
    i.is_multiple_of(2)
}

/// The median of `v` (the mean of the middle two for an even count); 0 when empty.
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Per-pair ratios of one figure and their summary.
#[derive(Clone, Debug, Default)]
pub struct Ratios(pub Vec<f64>);

impl Ratios {
    /// The median ratio and its bootstrap 95 % interval (2,000 resamples, fixed seed: the same ratios always give
    /// the same interval).
    pub fn summary(&self) -> (f64, f64, f64) {
        let r = &self.0;
        if r.is_empty() {
            return (0.0, 0.0, 0.0);
        }
        let mut rng = StdRng::seed_from_u64(0x5EED);
        let mut medians: Vec<f64> = (0..2000)
            .map(|_| {
                let s: Vec<f64> = (0..r.len())
                    .map(|_| r[rng.random_range(0..r.len())])
                    .collect();
                median(&s)
            })
            .collect();
        medians.sort_by(f64::total_cmp);
        let at = |q: f64| medians[((q * medians.len() as f64) as usize).min(medians.len() - 1)];
        (median(r), at(0.025), at(0.975))
    }

    /// `median [lo, hi]` and the per-pair ratios, e.g. `0.991 [0.962, 1.013] (0.95 0.99 1.01 ...)`.
    pub fn describe(&self) -> String {
        let (m, lo, hi) = self.summary();
        let each: Vec<String> = self.0.iter().map(|r| format!("{r:.3}")).collect();
        format!("{m:.3} [{lo:.3}, {hi:.3}] ({})", each.join(" "))
    }
}
