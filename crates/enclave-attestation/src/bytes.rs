//! Fixed-offset reads from fixed-size binary structures (SGX reports, the IAS quote body).
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

/// The `N` bytes at `at` of `bytes`. The callers' offsets are their layout's constants, inside
/// their fixed-size buffers by construction; were one not, the field would read as zeros rather
/// than panic.
pub(crate) fn array_at<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = bytes.get(at..).and_then(|tail| tail.get(..N)) {
        out.copy_from_slice(src);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_bounds_and_zeros_out_of_bounds() {
        let bytes = [1u8, 2, 3, 4];
        assert_eq!(array_at::<2>(&bytes, 1), [2, 3]);
        assert_eq!(array_at::<2>(&bytes, 2), [3, 4]);
        assert_eq!(array_at::<2>(&bytes, 3), [0, 0]);
        assert_eq!(array_at::<2>(&bytes, usize::MAX), [0, 0]);
    }
}
