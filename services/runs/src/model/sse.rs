//! A server-sent events decoder (WHATWG rules: `data:` lines joined by `\n`, a blank
//! line dispatches, `:` comments ignored; LF, CR and CRLF line ends).

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SseEvent {
    /// `event:` name, if any.
    pub event: Option<String>,
    /// The joined `data:` lines.
    pub data: String,
}

/// Feeds bytes in, takes events out.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
}

impl SseDecoder {
    /// Adds bytes and returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n' || b == b'\r') {
            // a CR at the very end may be the first half of CRLF: wait for more
            if self.buf[pos] == b'\r' && pos + 1 == self.buf.len() {
                break;
            }
            let line = String::from_utf8_lossy(&self.buf[..pos]).into_owned();
            let skip = if self.buf[pos] == b'\r' && self.buf.get(pos + 1) == Some(&b'\n') { 2 } else { 1 };
            self.buf.drain(..pos + skip);
            if let Some(e) = self.line(&line) {
                out.push(e);
            }
        }
        out
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            if self.data.is_empty() && self.event.is_none() {
                return None;
            }
            let e = SseEvent { event: self.event.take(), data: self.data.join("\n") };
            self.data.clear();
            return Some(e);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => self.data.push(value.to_owned()),
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
        None
    }
}

/// The fuzzed property (`fuzz/fuzz_targets/sse_decoder.rs`, and the test that replays
/// its regressions): the events of a stream do not depend on where the stream was cut.
/// The input's first byte is the size of the pieces; the rest is the stream.
#[doc(hidden)]
pub fn assert_cut_invariant(data: &[u8]) {
    let Some((cut, stream)) = data.split_first() else { return };
    let whole = SseDecoder::default().push(stream);
    let mut pieces = SseDecoder::default();
    let mut events = Vec::new();
    for chunk in stream.chunks(usize::from(*cut).max(1)) {
        events.extend(pieces.push(chunk));
    }
    assert_eq!(events, whole, "events depend on where the stream was cut");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_regressions_are_handled() {
        for data in assistd_common::testing::fuzz_inputs("sse_decoder") {
            assert_cut_invariant(&data);
        }
        // a CR at a piece's end, then its LF in the next piece
        assert_cut_invariant(b"\x05data: a\r\n\r\ndata: b\r\r");
    }

    #[test]
    fn decodes_split_chunks_and_line_ends() {
        let mut d = SseDecoder::default();
        assert!(d.push(b"data: {\"a\"").is_empty());
        let e = d.push(b":1}\n\n: keep-alive\r\n\r\nevent: x\r\ndata: 1\r\ndata: 2\r");
        assert_eq!(e, vec![SseEvent { event: None, data: "{\"a\":1}".into() }]);
        let e = d.push(b"\n\r\ndata: [DONE]\n\n");
        assert_eq!(e[0], SseEvent { event: Some("x".into()), data: "1\n2".into() });
        assert_eq!(e[1].data, "[DONE]");
    }
}
