//! A small random number generator whose output never changes.
//!
//! Snapshots in tests and lessons depend on the data set being identical for
//! a given seed, ids included, on every machine and after every dependency
//! upgrade. A generator from a crate may change its algorithms between
//! versions; these twenty lines (SplitMix64, public domain, by Sebastiano
//! Vigna) will not. It is not for cryptography.

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// An independent stream for item `index` of kind `stream` under `seed`.
    /// Each document gets its own stream, so generating document 700,000
    /// does not require generating the 699,999 before it.
    pub fn for_item(seed: u64, stream: u64, index: u64) -> Rng {
        let mut mixer = Rng(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        let base = mixer.next_u64();
        Rng(base ^ index.wrapping_mul(0xE703_7ED1_A0B4_28DB))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0), without modulo bias worth noticing
    /// at the sizes used here (Lemire's multiply-shift).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }

    /// A uniform number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_for_a_seed_never_changes() {
        // Pinned values: if this fails, every stored snapshot would change.
        let mut rng = Rng::new(1234567);
        assert_eq!(rng.next_u64(), 6457827717110365317);
        assert_eq!(rng.next_u64(), 3203168211198807973);
    }

    #[test]
    fn item_streams_differ_by_index_and_stream() {
        let a = Rng::for_item(7, 1, 0).next_u64();
        let b = Rng::for_item(7, 1, 1).next_u64();
        let c = Rng::for_item(7, 2, 0).next_u64();
        assert!(a != b && a != c && b != c);
        assert_eq!(a, Rng::for_item(7, 1, 0).next_u64());
    }

    #[test]
    fn bounded_numbers_stay_in_bounds() {
        let mut rng = Rng::new(42);
        for _ in 0..10_000 {
            assert!(rng.below(7) < 7);
            let value = rng.between(-3, 3);
            assert!((-3..=3).contains(&value));
            let unit = rng.unit();
            assert!((0.0..1.0).contains(&unit));
        }
    }
}
