//! Matrix multiplication on `f32` slices, single-threaded, through `gemm` (the crate
//! candle's CPU backend multiplies with; its AVX-512 kernels are on, see the workspace
//! `Cargo.toml`).
//!
//! The encoder (`encoder.rs`) calls it directly instead of through candle tensors: for
//! a query of a few word pieces, candle's fixed costs per operation (it
//! reads `/proc/cpuinfo` to count cores on every matrix multiply, and hands each one to
//! its thread pool) took longer than the arithmetic.
//!
//! This is the one module of the workspace that holds `unsafe` code: one call to
//! `gemm::gemm`, which takes raw pointers and strides. [`View`] and [`ViewMut`] check
//! when they are made that every element their shape and strides reach lies inside
//! their slice, which is what makes the call sound.

/// A read-only matrix over a slice: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// A matrix to write, its rows `row_stride` apart and each row's elements adjacent.
#[derive(Debug)]
pub(crate) struct ViewMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

/// Whether every element of a `rows` × `cols` matrix with these strides lies within
/// `len` elements.
fn fits(len: usize, rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    let last = (rows - 1)
        .checked_mul(row_stride)
        .and_then(|r| (cols - 1).checked_mul(col_stride).and_then(|c| r.checked_add(c)));
    last.is_some_and(|last| last < len) && isize::try_from(row_stride.max(col_stride)).is_ok()
}

impl<'a> View<'a> {
    /// A strided view; panics if it reaches past the slice.
    pub(crate) fn new(data: &'a [f32], rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Self {
        assert!(
            fits(data.len(), rows, cols, row_stride, col_stride),
            "a {rows}x{cols} view with strides ({row_stride}, {col_stride}) does not fit in {} elements",
            data.len()
        );
        Self { data, rows, cols, row_stride, col_stride }
    }

    /// A row-major `rows` × `cols` matrix.
    pub(crate) fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }
}

impl<'a> ViewMut<'a> {
    /// Rows of `cols` elements, `row_stride` apart; panics if they overlap or reach past
    /// the slice.
    pub(crate) fn new(data: &'a mut [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(row_stride >= cols || rows <= 1, "rows of {cols} elements {row_stride} apart overlap");
        assert!(
            fits(data.len(), rows, cols, row_stride, 1),
            "a {rows}x{cols} view with row stride {row_stride} does not fit in {} elements",
            data.len()
        );
        Self { data, rows, cols, row_stride }
    }

    /// A row-major `rows` × `cols` matrix.
    pub(crate) fn rows(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols)
    }
}

/// `dst = scale · lhs · rhs`, or `dst += scale · lhs · rhs` when `accumulate`.
///
/// Panics if the shapes do not chain.
pub(crate) fn matmul(dst: ViewMut<'_>, lhs: View<'_>, rhs: View<'_>, scale: f32, accumulate: bool) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert!(
        rhs.rows == k && dst.rows == m && dst.cols == n,
        "cannot multiply {m}x{k} by {}x{n} into {}x{}",
        rhs.rows,
        dst.rows,
        dst.cols
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in dst.data.chunks_mut(dst.row_stride).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    // `fits` checked that the strides fit in an isize.
    let stride = |s: usize| s as isize;
    #[allow(unsafe_code)]
    // SAFETY: `View::new` and `ViewMut::new` checked that every element `(i, j)` that
    // gemm reads or writes, at `i * row_stride + j * col_stride` from the start of the
    // slice, lies inside it (m, n, k > 0 here); `ViewMut` rows do not overlap, so no
    // element of `dst` is written twice; and `dst` is borrowed mutably while `lhs` and
    // `rhs` are shared borrows, so they cannot alias it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            1,
            stride(dst.row_stride),
            accumulate,
            lhs.data.as_ptr(),
            stride(lhs.col_stride),
            stride(lhs.row_stride),
            rhs.data.as_ptr(),
            stride(rhs.col_stride),
            stride(rhs.row_stride),
            1.0,
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain triple loop.
    fn reference(lhs: &View<'_>, rhs: &View<'_>) -> Vec<f32> {
        let mut out = vec![0.0; lhs.rows * rhs.cols];
        for i in 0..lhs.rows {
            for j in 0..rhs.cols {
                out[i * rhs.cols + j] = (0..lhs.cols)
                    .map(|p| {
                        lhs.data[i * lhs.row_stride + p * lhs.col_stride]
                            * rhs.data[p * rhs.row_stride + j * rhs.col_stride]
                    })
                    .sum();
            }
        }
        out
    }

    fn numbers(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} != {y}");
        }
    }

    #[test]
    fn multiplies_row_major_and_strided_views() {
        for (m, k, n) in [(1, 384, 384), (7, 33, 5), (40, 384, 1152), (3, 1, 2)] {
            let a = numbers(m * k, 1);
            let b = numbers(k * n, 2);
            let (lhs, rhs) = (View::rows(&a, m, k), View::rows(&b, k, n));
            let mut c = vec![f32::NAN; m * n];
            matmul(ViewMut::rows(&mut c, m, n), lhs, rhs, 1.0, false);
            close(&c, &reference(&lhs, &rhs));
            // the transposed view of the same data: a k×m matrix read column by column
            let at = View::new(&a, k, m, 1, k);
            let bt = View::new(&b, n, k, 1, n);
            let mut ct = vec![0.0; n * m];
            matmul(ViewMut::rows(&mut ct, n, m), bt, at, 1.0, false);
            close(&ct, &reference(&bt, &at));
        }
    }

    #[test]
    fn scales_and_accumulates_into_a_column_block() {
        // dst is columns 2..5 of a 4×8 matrix, like one attention head of a wider row
        let (m, k, n) = (4, 6, 3);
        let a = numbers(m * k, 3);
        let b = numbers(k * n, 4);
        let mut wide = vec![1.0f32; m * 8];
        matmul(ViewMut::new(&mut wide[2..], m, n, 8), View::rows(&a, m, k), View::rows(&b, k, n), 0.5, true);
        let product = reference(&View::rows(&a, m, k), &View::rows(&b, k, n));
        for i in 0..m {
            for j in 0..8 {
                let expected = if (2..5).contains(&j) { 1.0 + 0.5 * product[i * n + j - 2] } else { 1.0 };
                assert!((wide[i * 8 + j] - expected).abs() < 1e-5, "({i}, {j})");
            }
        }
    }

    #[test]
    fn empty_inner_dimension_clears_or_keeps_dst() {
        let mut c = vec![3.0f32; 4];
        matmul(ViewMut::rows(&mut c, 2, 2), View::rows(&[], 2, 0), View::rows(&[], 0, 2), 1.0, true);
        assert_eq!(c, [3.0; 4]);
        matmul(ViewMut::rows(&mut c, 2, 2), View::rows(&[], 2, 0), View::rows(&[], 0, 2), 1.0, false);
        assert_eq!(c, [0.0; 4]);
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn a_view_past_its_slice_panics() {
        let data = [0.0f32; 10];
        View::new(&data, 3, 4, 4, 1);
    }

    #[test]
    #[should_panic(expected = "overlap")]
    fn overlapping_rows_panic() {
        let mut data = [0.0f32; 10];
        ViewMut::new(&mut data, 2, 4, 2);
    }

    #[test]
    #[should_panic(expected = "cannot multiply")]
    fn shapes_that_do_not_chain_panic() {
        let (a, b) = ([0.0f32; 6], [0.0f32; 6]);
        let mut c = [0.0f32; 4];
        matmul(ViewMut::rows(&mut c, 2, 2), View::rows(&a, 2, 3), View::rows(&b, 2, 3), 1.0, false);
    }
}
