//! The embedded model's tokenizer, built from the GGUF metadata (`tokenizer.ggml.*`,
//! model `gpt2`: byte-level BPE): the `tokenizers` crate's BPE for encoding, with
//! SmolLM2's pre-tokenizer (single digits, then GPT-2 byte-level splitting), and a
//! byte table of our own for decoding, so that streamed text is cut only between
//! whole UTF-8 characters ([`Utf8Stream`]).
//!
//! Special tokens (`<|im_start|>`, `<|im_end|>`, …) are never produced from text: the
//! prompt builder inserts their ids, so a user writing `<|im_end|>` cannot end a turn.

use std::collections::{HashMap, HashSet};

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::Tokenizer;
use tokenizers::models::bpe::{BPE, Merges, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
const TOKEN_TYPE_NORMAL: u32 = 1;
const TOKEN_TYPE_CONTROL: u32 = 3;

/// A byte-level BPE tokenizer read from a GGUF file.
pub struct GgufTokenizer {
    bpe: Tokenizer,
    /// Each token's bytes; empty for control tokens (never shown).
    bytes: Vec<Vec<u8>>,
    /// `<|im_start|>`.
    pub im_start: u32,
    /// `<|im_end|>`.
    pub im_end: u32,
    /// Tokens that end the answer: `<|im_end|>`, the eos token, `<|endoftext|>`.
    stop: HashSet<u32>,
}

impl GgufTokenizer {
    /// Builds the tokenizer from the GGUF metadata.
    pub fn from_gguf(content: &Content) -> Result<Self, String> {
        let md = |key: &str| content.metadata.get(key).ok_or_else(|| format!("missing metadata `{key}`"));
        let kind = md("tokenizer.ggml.model")?.to_string().map_err(|e| e.to_string())?;
        if kind != "gpt2" {
            return Err(format!("unsupported tokenizer model `{kind}` (want gpt2, byte-level BPE)"));
        }
        let tokens = strings(md("tokenizer.ggml.tokens")?, "tokenizer.ggml.tokens")?;
        let merges = strings(md("tokenizer.ggml.merges")?, "tokenizer.ggml.merges")?
            .into_iter()
            .map(|m| m.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())).ok_or(format!("bad merge `{m}`")))
            .collect::<Result<Merges, _>>()?;
        let types = match content.metadata.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()
                .map_err(|e| e.to_string())?
                .iter()
                .map(|t| t.to_i32().map(|t| t as u32).or_else(|_| t.to_u32()).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![TOKEN_TYPE_NORMAL; tokens.len()],
        };
        let id_of = |name: &str| -> Option<u32> { tokens.iter().position(|t| t == name).map(|i| i as u32) };
        let md_id = |key: &str| content.metadata.get(key).and_then(|v| v.to_u32().ok());

        let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(|e| e.to_string())?;
        let mut tokenizer = Tokenizer::new(bpe);
        // As SmolLM2's tokenizer.json (llama.cpp's `smollm` pre-tokenizer): digits one by
        // one, then GPT-2's byte-level split, with no prefix space.
        tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, false, true).into(),
        ])));

        let unicode_to_byte: HashMap<char, u8> = byte_to_unicode().into_iter().map(|(b, c)| (c, b)).collect();
        let bytes = tokens
            .iter()
            .enumerate()
            .map(|(i, token)| match types.get(i).copied().unwrap_or(TOKEN_TYPE_NORMAL) {
                TOKEN_TYPE_CONTROL => Vec::new(),
                TOKEN_TYPE_NORMAL => token
                    .chars()
                    .map(|c| unicode_to_byte.get(&c).copied())
                    .collect::<Option<Vec<u8>>>()
                    .unwrap_or_else(|| token.as_bytes().to_vec()),
                _ => token.as_bytes().to_vec(),
            })
            .collect();

        let im_start = id_of("<|im_start|>").ok_or("no <|im_start|> token")?;
        let im_end = id_of("<|im_end|>").ok_or("no <|im_end|> token")?;
        let stop = [Some(im_end), md_id("tokenizer.ggml.eos_token_id"), id_of("<|endoftext|>")]
            .into_iter()
            .flatten()
            .collect();
        Ok(Self { bpe: tokenizer, bytes, im_start, im_end, stop })
    }

    /// The ids of plain text (special tokens in it are not recognised).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        Ok(self.bpe.encode_fast(text, false).map_err(|e| e.to_string())?.get_ids().to_vec())
    }

    /// A token's bytes (a piece of UTF-8, not always whole characters); empty for control
    /// tokens and unknown ids.
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.bytes.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// The text of `ids` (invalid UTF-8 replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&id| self.token_bytes(id)).copied().collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Whether `id` ends the answer.
    pub fn is_stop(&self, id: u32) -> bool {
        self.stop.contains(&id)
    }
}

fn strings(value: &Value, key: &str) -> Result<Vec<String>, String> {
    value
        .to_vec()
        .map_err(|e| format!("`{key}`: {e}"))?
        .iter()
        .map(|v| v.to_string().cloned().map_err(|e| format!("`{key}`: {e}")))
        .collect()
}

/// GPT-2's map from bytes to the printable characters byte-level BPE tokens are spelled with.
fn byte_to_unicode() -> Vec<(u8, char)> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut next = 256u32;
    (0..=255u8)
        .map(|b| {
            if printable(b) {
                (b, char::from(b))
            } else {
                let c = char::from_u32(next).expect("below the surrogates");
                next += 1;
                (b, c)
            }
        })
        .collect()
}

/// Turns a stream of byte pieces into text, holding back an incomplete UTF-8 sequence at
/// the end until its next bytes come; invalid bytes become U+FFFD.
#[derive(Debug, Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Adds bytes; returns the text now complete (possibly empty).
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(text) => {
                    out.push_str(text);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).expect("valid up to here"));
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                        None => {
                            // An incomplete character at the end: wait for more.
                            self.pending.drain(..valid);
                            return out;
                        }
                    }
                }
            }
        }
    }

    /// The end of the stream: whatever is held back, as lossy text.
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_is_a_bijection() {
        let table = byte_to_unicode();
        assert_eq!(table.len(), 256);
        let chars: HashSet<char> = table.iter().map(|&(_, c)| c).collect();
        assert_eq!(chars.len(), 256);
        assert_eq!(table[b' ' as usize].1, 'Ġ');
        assert_eq!(table[b'\n' as usize].1, 'Ċ');
        assert_eq!(table[b'a' as usize].1, 'a');
    }

    #[test]
    fn utf8_stream_holds_back_split_characters() {
        let text = "héllo 世界 🦀";
        let bytes = text.as_bytes();
        // Byte by byte: only whole characters come out, and all of them in the end.
        let mut stream = Utf8Stream::default();
        let mut out = String::new();
        for b in bytes {
            let piece = stream.push(std::slice::from_ref(b));
            assert!(text.starts_with(&(out.clone() + &piece)));
            out.push_str(&piece);
        }
        out.push_str(&stream.finish());
        assert_eq!(out, text);

        // "世" is e4 b8 96: split after its first byte.
        let mut stream = Utf8Stream::default();
        assert_eq!(stream.push(&[b'a', 0xe4]), "a");
        assert_eq!(stream.push(&[0xb8]), "");
        assert_eq!(stream.push(&[0x96, b'b']), "世b");
        assert_eq!(stream.finish(), "");
    }

    #[test]
    fn utf8_stream_replaces_invalid_bytes() {
        let mut stream = Utf8Stream::default();
        assert_eq!(stream.push(&[b'a', 0xff, b'b']), "a\u{fffd}b");
        assert_eq!(stream.push(&[0xe4, 0xb8]), "");
        assert_eq!(stream.finish(), "\u{fffd}");
    }
}
