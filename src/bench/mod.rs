//! The measurements behind `lab bench`. Figures are printed, never asserted:
//! a timing test on a shared 2-core machine would fail at random.

pub mod seed;
