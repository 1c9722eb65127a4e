//! all-MiniLM-L6-v2's forward pass (a BERT encoder with mean pooling) for one text, or
//! several stacked into one pass (a passage's windows), on plain `f32` slices, on the
//! calling thread.
//!
//! The arithmetic of candle's BERT (`candle_transformers::models::bert`), which gives
//! the same vectors to float rounding (tested in the vector stores service's
//! `embed/minilm.rs`). It replaced running that model on padded batches because of what
//! candle costs around the arithmetic: each of the model's ~100 operations allocated a
//! tensor and went to candle's thread pool, and each matrix multiply first read
//! `/proc/cpuinfo` to count cores; for a search query of a few word pieces that took
//! longer than the arithmetic, and batches computed their padding. Here the three
//! attention projections are one matrix multiply, biases and residuals are the
//! multiply's starting values, scratch buffers are reused across layers, and texts run
//! in parallel one per thread (the caller's choice) rather than each operation split
//! across threads.

use std::collections::HashMap;

use candle_core::{DType, Tensor};

use crate::matmul::{View, ViewMut, matmul};

/// The model, loaded from the f32 weights (`name → tensor`, as in `model.safetensors`).
pub struct Encoder {
    hidden: usize,
    heads: usize,
    eps: f32,
    /// (vocabulary, hidden), row-major
    word: Vec<f32>,
    /// (positions, hidden)
    position: Vec<f32>,
    /// (token types, hidden)
    token_type: Vec<f32>,
    embeddings_norm: Norm,
    layers: Vec<Layer>,
}

struct Layer {
    /// query, key and value side by side: `hidden` → `3 · hidden`
    qkv: Dense,
    attention_out: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

/// `x · Wᵀ + b`, with `Wᵀ` stored row-major (`inputs` rows of `outputs`).
struct Dense {
    weight_t: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

/// Layer normalisation's scale and shift.
struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

struct Weights<'a> {
    tensors: &'a HashMap<String, Tensor>,
}

impl Weights<'_> {
    fn get(&self, name: &str) -> candle_core::Result<Tensor> {
        let t = self.tensors.get(name).ok_or_else(|| candle_core::Error::Msg(format!("no tensor {name}")))?;
        t.to_dtype(DType::F32)
    }

    fn vec(&self, name: &str) -> candle_core::Result<Vec<f32>> {
        self.get(name)?.flatten_all()?.to_vec1()
    }

    /// The dense layers `prefixes`, their outputs side by side.
    fn dense(&self, prefixes: &[&str]) -> candle_core::Result<Dense> {
        let weights =
            prefixes.iter().map(|p| self.get(&format!("{p}.weight"))).collect::<candle_core::Result<Vec<_>>>()?;
        let biases =
            prefixes.iter().map(|p| self.get(&format!("{p}.bias"))).collect::<candle_core::Result<Vec<_>>>()?;
        // (outputs, inputs) → (inputs, outputs)
        let weight = Tensor::cat(&weights, 0)?;
        let (outputs, inputs) = weight.dims2()?;
        Ok(Dense {
            weight_t: weight.t()?.contiguous()?.flatten_all()?.to_vec1()?,
            bias: Tensor::cat(&biases, 0)?.to_vec1()?,
            inputs,
            outputs,
        })
    }

    fn norm(&self, prefix: &str) -> candle_core::Result<Norm> {
        Ok(Norm { weight: self.vec(&format!("{prefix}.weight"))?, bias: self.vec(&format!("{prefix}.bias"))? })
    }
}

impl Encoder {
    /// The encoder of `layers` layers from the model's tensors (`hidden` size, attention
    /// `heads` and `layer_norm_eps` from its config).
    pub fn load(
        tensors: &HashMap<String, Tensor>,
        hidden: usize,
        layers: usize,
        heads: usize,
        layer_norm_eps: f64,
    ) -> candle_core::Result<Self> {
        let w = Weights { tensors };
        let layers = (0..layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                let attention = |part: &str| format!("{p}.attention.self.{part}");
                Ok(Layer {
                    qkv: w.dense(&[&attention("query"), &attention("key"), &attention("value")])?,
                    attention_out: w.dense(&[&format!("{p}.attention.output.dense")])?,
                    attention_norm: w.norm(&format!("{p}.attention.output.LayerNorm"))?,
                    intermediate: w.dense(&[&format!("{p}.intermediate.dense")])?,
                    output: w.dense(&[&format!("{p}.output.dense")])?,
                    output_norm: w.norm(&format!("{p}.output.LayerNorm"))?,
                })
            })
            .collect::<candle_core::Result<Vec<Layer>>>()?;
        let shapes_agree = layers.iter().all(|l| {
            l.qkv.inputs == hidden
                && l.qkv.outputs == 3 * hidden
                && l.attention_out.inputs == hidden
                && l.attention_out.outputs == hidden
                && l.intermediate.inputs == hidden
                && l.output.inputs == l.intermediate.outputs
                && l.output.outputs == hidden
        });
        if !shapes_agree || heads == 0 || !hidden.is_multiple_of(heads) {
            return Err(candle_core::Error::Msg(format!("the layers' shapes do not match a hidden size of {hidden}")));
        }
        Ok(Self {
            hidden,
            heads,
            eps: layer_norm_eps as f32,
            word: w.vec("embeddings.word_embeddings.weight")?,
            position: w.vec("embeddings.position_embeddings.weight")?,
            token_type: w.vec("embeddings.token_type_embeddings.weight")?,
            embeddings_norm: w.norm("embeddings.LayerNorm")?,
            layers,
        })
    }

    /// The mean-pooled, L2-normalised vector of one text's word pieces.
    pub fn embed(&self, ids: &[u32], type_ids: &[u32]) -> Result<Vec<f32>, String> {
        let mut out = self.embed_many(&[(ids, type_ids)])?;
        Ok(out.pop().unwrap_or_default())
    }

    /// The vectors of several texts (word pieces and token types each) in one forward
    /// pass: their rows are stacked, so each dense layer is one multiply over all of
    /// them (large multiplies run faster per row than a short text's), while attention
    /// stays within each text. The same vectors as [`embed`](Self::embed) one by one.
    pub fn embed_many(&self, texts: &[(&[u32], &[u32])]) -> Result<Vec<Vec<f32>>, String> {
        let h = self.hidden;
        fn row<'t>(table: &'t [f32], h: usize, id: usize, what: &str) -> Result<&'t [f32], String> {
            table.get(id * h..(id + 1) * h).ok_or_else(|| format!("{what} {id} is out of range"))
        }
        let mut lens = Vec::with_capacity(texts.len());
        for (ids, type_ids) in texts {
            if ids.is_empty() || type_ids.len() != ids.len() {
                return Err(format!("{} word pieces with {} token types", ids.len(), type_ids.len()));
            }
            lens.push(ids.len());
        }
        let total: usize = lens.iter().sum();
        let mut x = vec![0.0f32; total * h];
        let mut rows = x.chunks_mut(h);
        for (ids, type_ids) in texts {
            for (i, (&id, &type_id)) in ids.iter().zip(type_ids.iter()).enumerate() {
                let out = rows.next().expect("one row per word piece");
                let word = row(&self.word, h, id as usize, "word piece")?;
                let position = row(&self.position, h, i, "position")?;
                let token_type = row(&self.token_type, h, type_id as usize, "token type")?;
                for (o, ((w, p), t)) in out.iter_mut().zip(word.iter().zip(position).zip(token_type)) {
                    *o = w + t + p;
                }
            }
        }
        layer_norm(&mut x, &self.embeddings_norm, self.eps);
        let mut scratch = Scratch::default();
        for layer in &self.layers {
            layer.forward(&mut x, &lens, h, self.heads, self.eps, &mut scratch);
        }
        let mut out = Vec::with_capacity(texts.len());
        let mut start = 0;
        for &n in &lens {
            let mut mean = vec![0.0f32; h];
            for token in x[start * h..(start + n) * h].chunks(h) {
                for (m, v) in mean.iter_mut().zip(token) {
                    *m += v;
                }
            }
            start += n;
            for m in &mut mean {
                *m /= n as f32;
            }
            let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            out.push(mean.into_iter().map(|v| v / norm).collect());
        }
        Ok(out)
    }
}

/// Buffers a forward pass reuses from layer to layer.
#[derive(Default)]
struct Scratch {
    qkv: Vec<f32>,
    scores: Vec<f32>,
    context: Vec<f32>,
    attended: Vec<f32>,
    inner: Vec<f32>,
}

impl Dense {
    /// `out = x · Wᵀ + b (+ residual)` for `rows` rows of `x`.
    fn apply(&self, x: &[f32], rows: usize, residual: Option<&[f32]>, out: &mut Vec<f32>) {
        out.clear();
        match residual {
            Some(residual) => {
                out.extend(residual.chunks(self.outputs).flat_map(|r| r.iter().zip(&self.bias).map(|(r, b)| r + b)));
            }
            None => {
                for _ in 0..rows {
                    out.extend_from_slice(&self.bias);
                }
            }
        }
        matmul(
            ViewMut::rows(out, rows, self.outputs),
            View::rows(x, rows, self.inputs),
            View::rows(&self.weight_t, self.inputs, self.outputs),
            1.0,
            true,
        );
    }
}

impl Layer {
    /// One encoder layer over the hidden states `x` (`h` wide) of texts of `lens` rows
    /// each, stacked, in place; attention stays within each text.
    fn forward(&self, x: &mut Vec<f32>, lens: &[usize], h: usize, heads: usize, eps: f32, s: &mut Scratch) {
        let d = h / heads;
        let width = 3 * h;
        let n: usize = lens.iter().sum();
        self.qkv.apply(x, n, None, &mut s.qkv);
        let longest = lens.iter().copied().max().unwrap_or(0);
        s.scores.resize(longest * longest, 0.0);
        s.context.resize(n * h, 0.0);
        let scale = 1.0 / (d as f32).sqrt();
        let mut start = 0;
        for &len in lens {
            let qkv = &s.qkv[start * width..(start + len) * width];
            let scores = &mut s.scores[..len * len];
            for head in 0..heads {
                let q = View::new(&qkv[head * d..], len, d, width, 1);
                // keys as a d × len matrix: key j's element e is at j * width + e
                let k_t = View::new(&qkv[h + head * d..], d, len, 1, width);
                matmul(ViewMut::rows(scores, len, len), q, k_t, scale, false);
                for row in scores.chunks_mut(len) {
                    softmax(row);
                }
                let v = View::new(&qkv[2 * h + head * d..], len, d, width, 1);
                matmul(
                    ViewMut::new(&mut s.context[start * h + head * d..], len, d, h),
                    View::rows(scores, len, len),
                    v,
                    1.0,
                    false,
                );
            }
            start += len;
        }
        self.attention_out.apply(&s.context, n, Some(x), &mut s.attended);
        layer_norm(&mut s.attended, &self.attention_norm, eps);
        self.intermediate.apply(&s.attended, n, None, &mut s.inner);
        for v in &mut s.inner {
            *v = gelu(*v);
        }
        self.output.apply(&s.inner, n, Some(&s.attended), x);
        layer_norm(x, &self.output_norm, eps);
    }
}

/// GELU with the error function, as BERT's `gelu` (candle's `gelu_erf`).
fn gelu(v: f32) -> f32 {
    (erf(v * std::f32::consts::FRAC_1_SQRT_2) + 1.0) * 0.5 * v
}

/// The error function to within 1e-6: the rational approximation that Eigen and XLA use
/// for `f32` (an odd polynomial over an even one, on `x` clamped to [-4, 4], beyond
/// which erf is ±1 in single precision). Unlike libm's `erff` it has no branches, so
/// the GELU loop is vectorised; a query spent a sixth of its time in `erff`.
fn erf(x: f32) -> f32 {
    const ALPHA: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ];
    const BETA: [f32; 5] = [-1.456_607_2e-5, -2.133_740_6e-4, -1.682_827e-3, -7.373_329_2e-3, -1.426_474e-2];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = ALPHA.iter().fold(0.0, |acc, c| acc * x2 + c) * x;
    let q = BETA.iter().fold(0.0, |acc, c| acc * x2 + c);
    p / q
}

fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}

/// Normalises each row of `x` (rows of `norm.weight.len()`) to zero mean and unit
/// variance, then scales and shifts it.
fn layer_norm(x: &mut [f32], norm: &Norm, eps: f32) {
    let h = norm.weight.len();
    for row in x.chunks_mut(h) {
        let mean = row.iter().sum::<f32>() / h as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(&norm.weight).zip(&norm.bias) {
            *v = (*v - mean) * inv * w + b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_libm() {
        let mut worst = 0.0f32;
        for i in -60_000..=60_000 {
            let x = i as f32 / 10_000.0;
            worst = worst.max((erf(x) - candle_core::cpu::erf::erf_f32(x)).abs());
        }
        assert!(worst < 1e-6, "erf differs from libm's erff by {worst}");
        assert!((erf(f32::INFINITY) - 1.0).abs() < 1e-6 && (erf(f32::NEG_INFINITY) + 1.0).abs() < 1e-6);
        assert!(erf(f32::NAN).is_nan());
    }

    #[test]
    fn softmax_and_layer_norm() {
        let mut row = [1.0f32, 2.0, 3.0, 1000.0];
        softmax(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6 && row[3] > 0.999, "{row:?}");
        let norm = Norm { weight: vec![2.0; 4], bias: vec![1.0; 4] };
        let mut x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0];
        layer_norm(&mut x, &norm, 1e-12);
        // (v - 2.5) / sqrt(1.25) * 2 + 1 for the first row; a constant row becomes the bias
        let expected = [-1.683_281_6, 0.105_572_8, 1.894_427_2, 3.683_281_6, 1.0, 1.0, 1.0, 1.0];
        for (got, want) in x.iter().zip(expected) {
            assert!((got - want).abs() < 1e-5, "{x:?}");
        }
    }
}
