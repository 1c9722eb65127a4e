//! all-MiniLM-L6-v2's forward pass for one short text, a search query, over 8-bit
//! weights.
//!
//! A query is a handful of word pieces, so what its dense layers cost is reading their
//! weights: 42 MB of f32 for every query, whatever its length. Quantized to Q8_0
//! (blocks of 32 weights with one scale, as in GGML) they are a quarter of that, and
//! candle multiplies them with integer dot products, several times faster for a few
//! rows. Documents are still embedded in batches by the f32 model, where the matrix
//! multiplications have enough rows to be bound by arithmetic, not by memory. A query's
//! vector is within a cosine of 0.995 of the f32 model's (0.998 for a one-letter query,
//! closer for longer ones; tested in `minilm.rs`), far less than what separates relevant
//! from irrelevant chunks; the retrieval-quality test runs with it.
//!
//! It is the BERT encoder of `candle_transformers::models::bert` for a single sequence
//! (no padding, so no attention mask), with mean pooling.

use std::collections::HashMap;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Module, Tensor};
use candle_nn::{Embedding, LayerNorm};

const HEADS: usize = 12;

/// The model, loaded from the f32 weights (`name → tensor`, as in `model.safetensors`).
pub(super) struct QueryModel {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
}

struct Layer {
    query: Dense,
    key: Dense,
    value: Dense,
    attention_out: Dense,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

/// `x · Wᵀ + b` with W in Q8_0.
struct Dense {
    weight: QMatMul,
    bias: Tensor,
}

struct Weights<'a> {
    tensors: &'a HashMap<String, Tensor>,
    eps: f64,
}

impl Weights<'_> {
    fn get(&self, name: &str) -> candle_core::Result<Tensor> {
        let t = self.tensors.get(name).ok_or_else(|| candle_core::Error::Msg(format!("no tensor {name}")))?;
        t.to_dtype(DType::F32)?.contiguous()
    }

    fn dense(&self, prefix: &str) -> candle_core::Result<Dense> {
        let weight = QTensor::quantize(&self.get(&format!("{prefix}.weight"))?, GgmlDType::Q8_0)?;
        Ok(Dense { weight: QMatMul::from_qtensor(weight)?, bias: self.get(&format!("{prefix}.bias"))? })
    }

    fn norm(&self, prefix: &str) -> candle_core::Result<LayerNorm> {
        Ok(LayerNorm::new(self.get(&format!("{prefix}.weight"))?, self.get(&format!("{prefix}.bias"))?, self.eps))
    }

    fn embedding(&self, name: &str) -> candle_core::Result<Embedding> {
        let t = self.get(name)?;
        let dim = t.dim(1)?;
        Ok(Embedding::new(t, dim))
    }
}

impl Dense {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.weight.forward(x)?.broadcast_add(&self.bias)
    }
}

impl QueryModel {
    /// The encoder of `layers` layers from the model's tensors (`layer_norm_eps` from
    /// its config).
    pub(super) fn load(
        tensors: &HashMap<String, Tensor>,
        layers: usize,
        layer_norm_eps: f64,
    ) -> candle_core::Result<Self> {
        let w = Weights { tensors, eps: layer_norm_eps };
        let layers = (0..layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(Layer {
                    query: w.dense(&format!("{p}.attention.self.query"))?,
                    key: w.dense(&format!("{p}.attention.self.key"))?,
                    value: w.dense(&format!("{p}.attention.self.value"))?,
                    attention_out: w.dense(&format!("{p}.attention.output.dense"))?,
                    attention_norm: w.norm(&format!("{p}.attention.output.LayerNorm"))?,
                    intermediate: w.dense(&format!("{p}.intermediate.dense"))?,
                    output: w.dense(&format!("{p}.output.dense"))?,
                    output_norm: w.norm(&format!("{p}.output.LayerNorm"))?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            word: w.embedding("embeddings.word_embeddings.weight")?,
            position: w.embedding("embeddings.position_embeddings.weight")?,
            token_type: w.embedding("embeddings.token_type_embeddings.weight")?,
            embeddings_norm: w.norm("embeddings.LayerNorm")?,
            layers,
        })
    }

    /// The mean-pooled, L2-normalised vector of one text's word pieces.
    pub(super) fn embed(&self, ids: &[u32], type_ids: &[u32]) -> candle_core::Result<Vec<f32>> {
        let device = &candle_core::Device::Cpu;
        let n = ids.len();
        let positions: Vec<u32> = (0..n as u32).collect();
        let ids = Tensor::new(ids, device)?;
        let type_ids = Tensor::new(type_ids, device)?;
        let positions = Tensor::new(positions.as_slice(), device)?;
        // (n, hidden)
        let x =
            ((self.word.forward(&ids)? + self.token_type.forward(&type_ids)?)? + self.position.forward(&positions)?)?;
        let mut x = self.embeddings_norm.forward(&x)?;
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        let mean = x.mean(0)?;
        let norm = mean.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?.max(1e-12);
        (mean / f64::from(norm))?.to_vec1::<f32>()
    }
}

impl Layer {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (n, hidden) = x.dims2()?;
        let head = hidden / HEADS;
        // (heads, n, head)
        let split = |t: Tensor| t.reshape((n, HEADS, head))?.transpose(0, 1)?.contiguous();
        let q = split(self.query.forward(x)?)?;
        let k = split(self.key.forward(x)?)?;
        let v = split(self.value.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? / (head as f64).sqrt())?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs.matmul(&v)?.transpose(0, 1)?.reshape((n, hidden))?;
        let attended = self.attention_norm.forward(&(self.attention_out.forward(&context)? + x)?)?;
        let inner = self.intermediate.forward(&attended)?.gelu_erf()?;
        self.output_norm.forward(&(self.output.forward(&inner)? + attended)?)
    }
}
