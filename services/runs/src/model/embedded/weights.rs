//! Loads the GGUF weights dequantized to f32.
//!
//! candle has no SIMD kernel for Q4_1 on x86 (its matmul falls back to scalar code:
//! about 3–7 tokens/s and seconds of prompt processing on two cores), while f32 matmuls
//! go through `gemm`, which picks AVX2/FMA/AVX-512 at run time (about 4x faster to
//! generate, 20x faster on the prompt). SmolLM2-135M in f32 takes about 650 MB.
//!
//! `ModelWeights::from_gguf` makes a dequantized (f32) layer of every f32 tensor it
//! reads, so the file is handed to it through [`F32View`]: a reader that shows each
//! quantized tensor as f32, converting one tensor at a time as it is read.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};

use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::{Content, TensorInfo};
use candle_core::{Device, Result};
use candle_transformers::models::quantized_llama::ModelWeights;

/// Reads `content`'s weights from `file`, every quantized tensor as f32.
pub fn load_f32<R: Read + Seek>(mut content: Content, file: R) -> Result<ModelWeights> {
    let mut tensors = BTreeMap::new();
    let mut offset = 0u64;
    // In file order, so that the file is read front to back.
    let mut infos: Vec<(&String, &mut TensorInfo)> = content.tensor_infos.iter_mut().collect();
    infos.sort_by_key(|(_, info)| info.offset);
    for (_, info) in infos {
        let original = TensorInfo { ggml_dtype: info.ggml_dtype, shape: info.shape.clone(), offset: info.offset };
        if !matches!(info.ggml_dtype, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16) {
            info.ggml_dtype = GgmlDType::F32;
        }
        info.offset = offset;
        let size = (info.shape.elem_count() / info.ggml_dtype.block_size() * info.ggml_dtype.type_size()) as u64;
        tensors.insert(offset, (original, size));
        offset += size;
    }
    let mut view =
        F32View { file, data_offset: content.tensor_data_offset, tensors, len: offset, pos: 0, current: None };
    content.tensor_data_offset = 0;
    ModelWeights::from_gguf(content, &mut view, &Device::Cpu)
}

/// The tensor data of a GGUF file as if its quantized tensors were f32 (the layout
/// [`load_f32`] gives the content): supports the seeks and reads `TensorInfo::read` does.
struct F32View<R> {
    file: R,
    /// Where the tensor data starts in `file`.
    data_offset: u64,
    /// Start in the view → (the tensor as in the file, its size in the view).
    tensors: BTreeMap<u64, (TensorInfo, u64)>,
    len: u64,
    pos: u64,
    /// The converted tensor being read: (its start in the view, its data).
    current: Option<(u64, Data)>,
}

/// A tensor's data in the view.
enum Data {
    /// As in the file.
    Raw(Vec<u8>),
    /// Dequantized.
    F32(Vec<f32>),
}

impl Data {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Raw(bytes) => bytes,
            // GGUF is little-endian, as are the targets candle runs on.
            Self::F32(values) => bytemuck::cast_slice(values),
        }
    }
}

impl<R: Read + Seek> F32View<R> {
    fn load(&mut self, start: u64) -> io::Result<()> {
        if self.current.as_ref().is_some_and(|(s, _)| *s == start) {
            return Ok(());
        }
        self.current = None;
        let (info, _) = &self.tensors[&start];
        let data = match info.ggml_dtype {
            GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => {
                let size = info.shape.elem_count() / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
                let mut bytes = vec![0; size];
                self.file.seek(SeekFrom::Start(self.data_offset + info.offset))?;
                self.file.read_exact(&mut bytes)?;
                Data::Raw(bytes)
            }
            _ => {
                let values = info
                    .read(&mut self.file, self.data_offset, &Device::Cpu)
                    .and_then(|q| q.dequantize(&Device::Cpu))
                    .and_then(|t| t.flatten_all())
                    .and_then(|t| t.to_vec1::<f32>())
                    .map_err(io::Error::other)?;
                Data::F32(values)
            }
        };
        self.current = Some((start, data));
        Ok(())
    }
}

impl<R: Read + Seek> Seek for F32View<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

impl<R: Read + Seek> Read for F32View<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some((&start, &(_, size))) = self.tensors.range(..=self.pos).next_back() else {
            return Ok(0);
        };
        if self.pos >= start + size {
            return Ok(0);
        }
        self.load(start)?;
        let bytes = self.current.as_ref().expect("loaded").1.bytes();
        let from = (self.pos - start) as usize;
        let n = buf.len().min(bytes.len() - from);
        buf[..n].copy_from_slice(&bytes[from..from + n]);
        self.pos += n as u64;
        Ok(n)
    }
}
