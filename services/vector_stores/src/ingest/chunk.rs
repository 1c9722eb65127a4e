//! Token chunking, with OpenAI's `static` chunking strategy semantics.
//!
//! The text is encoded once with tiktoken's `cl100k_base` (ordinary text: special-token
//! strings such as `<|endoftext|>` are plain text here), and windows of at most
//! `max_tokens` tokens are cut from the token sequence, each starting
//! `max_tokens - overlap_tokens` tokens after the previous one. A window's text is the
//! slice of the original text its tokens cover, so nothing is re-encoded or decoded.
//!
//! Encoding is done in segments of about 16 KiB cut where the tokenizer's own pre-split
//! would cut anyway (before a line that starts with a non-space, or between two ASCII
//! words), so the tokens are the same as for the whole text. This bounds the cost of
//! pathological text (BPE is quadratic in the length of one unbroken run such as
//! `aaaa…`): text with no such place for 16 KiB is cut at a character boundary, which
//! may change a token or two there. Long texts are encoded on several threads.
//!
//! A token may hold only part of a multi-byte character (byte-level BPE), so a window
//! edge can fall inside a character. Each edge is then moved back to the start of that
//! character: a chunk never holds U+FFFD garbage, and with no overlap consecutive chunks
//! tile the text exactly (the split character goes, whole, to the later chunk).

use std::num::NonZero;
use std::sync::LazyLock;

use tiktoken_rs::{CoreBPE, Rank};

/// `max_chunk_size_tokens` of OpenAI's `auto` chunking strategy.
pub const AUTO_MAX_TOKENS: u32 = 800;
/// `chunk_overlap_tokens` of OpenAI's `auto` chunking strategy.
pub const AUTO_OVERLAP_TOKENS: u32 = 400;

/// One window of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The text the window's tokens cover (edges moved back to character starts).
    pub text: String,
    /// The number of tokens in the window (at most the `max_tokens` asked for).
    pub tokens: u32,
}

/// The longest text encoded in one call of the tokenizer (see the module doc).
const SEGMENT_BYTES: usize = 16 << 10;
/// How much text one more encoding thread must have to be worth starting.
const BYTES_PER_THREAD: usize = 512 << 10;

/// The `cl100k_base` encoding and the byte length of each of its ordinary tokens.
struct Encoding {
    bpe: CoreBPE,
    /// `token_len[rank]`: how many bytes of text token `rank` stands for.
    token_len: Vec<u32>,
}

static CL100K: LazyLock<Encoding> = LazyLock::new(|| {
    let bpe = tiktoken_rs::cl100k_base().expect("the bundled cl100k_base encoding loads");
    // Ordinary ranks are dense from 0; the special tokens (which `encode_ordinary` never
    // produces) come after them.
    let mut token_len = Vec::with_capacity(100_256);
    for rank in 0.. {
        match bpe.decode_bytes(&[rank]) {
            Ok(bytes) => token_len.push(u32::try_from(bytes.len()).expect("a token is short")),
            Err(_) => break,
        }
    }
    Encoding { bpe, token_len }
});

/// The number of `cl100k_base` tokens in `text` (as ordinary text).
pub fn count_tokens(text: &str) -> usize {
    encode(text).len()
}

/// Cuts `text` into windows of at most `max_tokens` tokens, each starting
/// `max_tokens - overlap_tokens` tokens after the previous one; the last window may be
/// shorter, and none lies wholly inside the one before it. Empty text gives no chunks.
///
/// The caller validates the strategy (OpenAI: `100..=4096` tokens, overlap at most half);
/// here a `max_tokens` of 0 counts as 1 and the overlap is capped at `max_tokens - 1`, so
/// the windows always move forward.
pub fn chunk(text: &str, max_tokens: u32, overlap_tokens: u32) -> Vec<Chunk> {
    let max = max_tokens.max(1) as usize;
    let stride = max - (overlap_tokens as usize).min(max - 1);
    let encoding = &*CL100K;
    let tokens = encode(text);
    let offsets = byte_offsets(&encoding.token_len, &tokens);
    debug_assert_eq!(offsets.last().copied(), Some(text.len()));

    let n = tokens.len();
    let mut chunks = Vec::with_capacity(n.div_ceil(stride));
    let mut start = 0;
    while start < n {
        let end = (start + max).min(n);
        let from = char_start(text, offsets[start]);
        let to = char_start(text, offsets[end]);
        // Empty only for a window inside one character (a tiny max_tokens): that character
        // is in the next window.
        if from < to {
            chunks.push(Chunk { text: text[from..to].to_owned(), tokens: (end - start) as u32 });
        }
        if end == n {
            break;
        }
        start += stride;
    }
    chunks
}

/// The ordinary-text tokens of `text`, encoded segment by segment (see the module doc),
/// on several threads when the text is long.
fn encode(text: &str) -> Vec<Rank> {
    let bpe = &CL100K.bpe;
    let segments = segments(text);
    let threads = std::thread::available_parallelism().map_or(1, NonZero::get).min(text.len() / BYTES_PER_THREAD);
    if threads <= 1 {
        let mut tokens = Vec::with_capacity(text.len() / 3);
        for segment in segments {
            tokens.extend(bpe.encode_ordinary(segment));
        }
        return tokens;
    }
    // contiguous runs of segments, of about the same number of bytes each
    let share = text.len().div_ceil(threads);
    let mut runs: Vec<&[&str]> = Vec::with_capacity(threads);
    let (mut from, mut bytes) = (0, 0);
    for (i, segment) in segments.iter().enumerate() {
        bytes += segment.len();
        if bytes >= share {
            runs.push(&segments[from..=i]);
            (from, bytes) = (i + 1, 0);
        }
    }
    if from < segments.len() {
        runs.push(&segments[from..]);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| {
                scope.spawn(move || run.iter().flat_map(|segment| bpe.encode_ordinary(segment)).collect::<Vec<_>>())
            })
            .collect();
        let mut tokens = Vec::with_capacity(text.len() / 3);
        for handle in handles {
            tokens.extend(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        tokens
    })
}

/// `text` cut into pieces of at most [`SEGMENT_BYTES`], each cut where the tokenizer's
/// pre-split regex would cut too if there is such a place in the last half of the piece.
fn segments(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut segments = Vec::with_capacity(text.len() / SEGMENT_BYTES + 1);
    let mut start = 0;
    while text.len() - start > SEGMENT_BYTES {
        let limit = start + SEGMENT_BYTES;
        let cut = (start + SEGMENT_BYTES / 2..=limit)
            .rev()
            .find(|&at| is_piece_boundary(bytes, at))
            .unwrap_or_else(|| char_start(text, limit));
        segments.push(&text[start..cut]);
        start = cut;
    }
    segments.push(&text[start..]);
    segments
}

/// Whether every `cl100k_base` pre-split of a text puts a boundary at byte `at`, however
/// the text goes on after it: at the start of a line that starts with a non-space (a run of
/// whitespace ending in a line break is one piece, and nothing else spans a line break
/// into what follows), or between an ASCII letter and a space followed by one (a run of
/// letters ends at the space, and ` word` is the next piece).
fn is_piece_boundary(bytes: &[u8], at: usize) -> bool {
    let (Some(&before), Some(&next)) = (bytes.get(at.wrapping_sub(1)), bytes.get(at)) else {
        return false;
    };
    match before {
        // a non-ASCII byte at `at` starts a character here (the one before is `\n`), and
        // non-ASCII whitespace is left alone
        b'\n' => !next.is_ascii_whitespace() && (next.is_ascii() || !starts_with_whitespace(&bytes[at..])),
        b if b.is_ascii_alphabetic() => next == b' ' && bytes.get(at + 1).is_some_and(u8::is_ascii_alphabetic),
        _ => false,
    }
}

/// Whether these bytes (which start at a character boundary) start with a whitespace
/// character.
fn starts_with_whitespace(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4)];
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
    };
    valid.chars().next().is_none_or(char::is_whitespace)
}

/// `offsets[i]`: the byte offset in the text where token `i` starts; one more entry, the
/// text's length, at the end. The tokens of `encode_ordinary` spell the text exactly.
fn byte_offsets(token_len: &[u32], tokens: &[Rank]) -> Vec<usize> {
    let mut offsets = Vec::with_capacity(tokens.len() + 1);
    let mut at = 0usize;
    offsets.push(at);
    for &token in tokens {
        at += token_len[token as usize] as usize;
        offsets.push(at);
    }
    offsets
}

/// The start of the character that byte `at` of `text` belongs to (`at` itself when it is
/// a character boundary).
fn char_start(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::fixtures;

    fn spec_text() -> String {
        std::fs::read_to_string(fixtures::file("commonmark-spec", "spec.txt")).expect("spec.txt reads")
    }

    /// Chunks `text` and checks what every chunking must keep: at most `max` tokens a
    /// window, only the last one short; windows `max - overlap` tokens apart, so that
    /// consecutive chunks share about `overlap` tokens of text (re-encoding a piece of text
    /// cut out of its context may give a token or two more or less) and exactly nothing
    /// without overlap; none inside the one before; together they cover the text.
    fn check(text: &str, max: u32, overlap: u32) -> Vec<Chunk> {
        const SLACK: usize = 4;
        let chunks = chunk(text, max, overlap);
        let total = count_tokens(text);
        let stride = (max - overlap) as usize;
        assert_eq!(chunks.len(), total.saturating_sub(overlap as usize).div_ceil(stride).max(1));
        // where each window starts in the text (a text may repeat itself, so searching
        // for a chunk's text could find the wrong place)
        let offsets = byte_offsets(&CL100K.token_len, &CL100K.bpe.encode_ordinary(text));
        let starts: Vec<_> = (0..chunks.len()).map(|i| char_start(text, offsets[i * stride])).collect();
        let mut rebuilt = String::new();
        for (i, c) in chunks.iter().enumerate() {
            assert!(c.tokens <= max, "chunk {i} has {} tokens", c.tokens);
            assert!(text.contains('\u{FFFD}') || !c.text.contains('\u{FFFD}'), "chunk {i} has U+FFFD");
            assert!(count_tokens(&c.text).abs_diff(c.tokens as usize) <= SLACK, "chunk {i}");
            let (start, end) = (starts[i], starts[i] + c.text.len());
            assert_eq!(&text[start..end], c.text);
            let Some(&next) = starts.get(i + 1) else {
                assert_eq!(end, text.len(), "the last chunk ends the text");
                rebuilt.push_str(&c.text);
                break;
            };
            assert_eq!(c.tokens, max, "only the last window may be short");
            assert!(next <= end, "no gap after chunk {i}");
            assert!(next + chunks[i + 1].text.len() > end, "chunk {} is inside chunk {i}", i + 1);
            let shared = count_tokens(&text[next..end]);
            if overlap == 0 {
                assert_eq!(next, end);
            } else {
                assert!(shared.abs_diff(overlap as usize) <= SLACK, "chunks {i} and {} share {shared} tokens", i + 1);
            }
            rebuilt.push_str(&c.text[..next - start]);
        }
        assert_eq!(rebuilt, text, "the chunks cover the text");
        chunks
    }

    #[test]
    fn spec_auto_strategy() {
        let text = spec_text();
        let chunks = check(&text, AUTO_MAX_TOKENS, AUTO_OVERLAP_TOKENS);
        assert!(chunks.len() > 100, "{} chunks", chunks.len());
    }

    #[test]
    fn spec_bounds() {
        let text = spec_text();
        // the smallest and the largest chunk size OpenAI allows, and no overlap
        check(&text, 100, 0);
        check(&text, 100, 50);
        check(&text, 4096, 2048);
        check(&text, 4096, 0);
        // without overlap the chunks are a partition of the text
        let parts: Vec<_> = chunk(&text, 100, 0).into_iter().map(|c| c.text).collect();
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn window_token_counts() {
        // Words of one token each, separated so that each is its own BPE piece: a window
        // re-encodes to exactly its token count.
        let text = " word".repeat(1000);
        assert_eq!(count_tokens(&text), 1000);
        let chunks = chunk(&text, 100, 40);
        let sizes: Vec<_> = chunks.iter().map(|c| (c.tokens, count_tokens(&c.text))).collect();
        // windows start at 0, 60, ..., 900; the one at 900 reaches the end
        assert_eq!(sizes.len(), 16);
        assert!(sizes.iter().all(|&(t, n)| t == 100 && n == 100), "{sizes:?}");
        assert_eq!(chunks[1].text, " word".repeat(100));
        let chunks = chunk(&text, 100, 0);
        assert_eq!(chunks.len(), 10);
        // no window wholly inside the previous one: 950 tokens leaves one window of 50
        let chunks = chunk(&" word".repeat(950), 100, 50);
        assert_eq!(chunks.len(), 18);
        assert_eq!(chunks.last().unwrap().tokens, 100);
    }

    #[test]
    fn multibyte_text_never_splits_characters() {
        let text = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。🦀🦀 Rust は安全で速い 🚀✨; \
                    Ünïcödé façade — naïve café. 😀👍🏽👨‍👩‍👧\n"
            .repeat(40);
        // Every token boundary that falls inside a character must be handled: try many
        // window sizes so edges land everywhere.
        for max in [1, 2, 3, 5, 7, 100] {
            for overlap in [0, max / 2] {
                let chunks = chunk(&text, max, overlap);
                assert!(chunks.iter().all(|c| !c.text.contains('\u{FFFD}') && c.tokens <= max));
                if overlap == 0 {
                    let parts: Vec<_> = chunks.iter().map(|c| c.text.as_str()).collect();
                    assert_eq!(parts.concat(), text, "max {max}");
                }
            }
        }
        check(&text, 100, 0);
        check(&text, 100, 50);
    }

    #[test]
    fn odd_parameters_still_advance() {
        let text = " word".repeat(10);
        assert_eq!(chunk(&text, 0, 0).len(), 10);
        assert_eq!(chunk(&text, 3, 7).len(), 8);
    }

    #[test]
    fn empty_and_short_text() {
        assert!(chunk("", AUTO_MAX_TOKENS, AUTO_OVERLAP_TOKENS).is_empty());
        assert_eq!(count_tokens(""), 0);
        let chunks = chunk("hello world", AUTO_MAX_TOKENS, AUTO_OVERLAP_TOKENS);
        assert_eq!(chunks, vec![Chunk { text: "hello world".into(), tokens: 2 }]);
        // special-token text is ordinary text
        assert_eq!(chunk("<|endoftext|>", 800, 400)[0].text, "<|endoftext|>");
    }

    #[test]
    fn segments_give_the_tokens_of_the_whole_text() {
        let spec = spec_text();
        assert!(segments(&spec).len() > 10);
        assert_eq!(segments(&spec).concat(), spec);
        assert_eq!(encode(&spec), CL100K.bpe.encode_ordinary(&spec));
        // lines and words of every kind, cut at every place the rules allow
        let mut tricky = String::new();
        for i in 0..2000 {
            tricky.push_str(&format!(
                "line {i}: it's we'll 123456 x1y2 émigré\n  indented\n\u{3000}全角 space\n\t\ttab\n\n\n'quote\n\
                 ---- rule ----\r\nword\u{00A0}nbsp  two  spaces   \n🦀crab {i}\n"
            ));
        }
        assert!(tricky.len() > 10 * SEGMENT_BYTES);
        assert_eq!(encode(&tricky), CL100K.bpe.encode_ordinary(&tricky));
        // more than one thread's worth (on a machine with more than one core)
        let long = spec.repeat(6);
        assert!(long.len() > 2 * BYTES_PER_THREAD);
        assert_eq!(encode(&long), CL100K.bpe.encode_ordinary(&long));
    }

    #[test]
    fn pathological_text_is_chunked_in_linear_time() {
        // one unbroken run: BPE over it whole would be quadratic
        for text in ["a".repeat(200_000), " ".repeat(200_000), "猫".repeat(70_000), "a1".repeat(100_000)] {
            let started = std::time::Instant::now();
            let chunks = chunk(&text, 100, 0);
            assert_eq!(chunks.iter().map(|c| c.text.as_str()).collect::<String>(), text);
            assert!(chunks.iter().all(|c| c.tokens <= 100));
            assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
        }
    }

    /// Not a benchmark, a sanity check that prints the speed (`--nocapture` shows it).
    #[test]
    fn chunking_speed() {
        let text = spec_text();
        count_tokens("warm up: load the encoding");
        let started = std::time::Instant::now();
        let chunks = chunk(&text, AUTO_MAX_TOKENS, AUTO_OVERLAP_TOKENS);
        let secs = started.elapsed().as_secs_f64();
        let mb = text.len() as f64 / 1e6;
        println!("chunked {mb:.3} MB into {} chunks in {secs:.3} s: {:.2} MB/s", chunks.len(), mb / secs);
    }
}
