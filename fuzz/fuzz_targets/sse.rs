//! The SSE decoder. Input: `[max_line, max_event, splits, offsets.., body..]`
//! where `max_line == max_event == 0` means the default (MiB) limits, else
//! each is that many bytes, and `splits & 15` little-endian u16 offsets
//! (modulo the body length) cut the body into chunks.
//!
//! Properties: any split gives exactly the events and error of the whole
//! body; what comes out is bounded by the limits; a line over `max_line` is
//! `LineTooLong`.
#![no_main]

use ai_gateway::sse::{SseDecoder, SseError, SseEvent};
use libfuzzer_sys::fuzz_target;

fn decode(
    chunks: &[&[u8]],
    max_line: usize,
    max_event: usize,
) -> (Vec<SseEvent>, Option<SseError>) {
    let mut d = SseDecoder::with_limits(max_line, max_event);
    let mut out = Vec::new();
    for c in chunks {
        if let Err(e) = d.feed(c, &mut out) {
            return (out, Some(e));
        }
    }
    let err = d.finish(&mut out).err();
    (out, err)
}

fuzz_target!(|data: &[u8]| {
    let [line, event, splits, rest @ ..] = data else {
        return;
    };
    let n = usize::from(splits & 15);
    if rest.len() < 2 * n {
        return;
    }
    let (offsets, body) = rest.split_at(2 * n);
    let defaults = *line == 0 && *event == 0;
    let (max_line, max_event) = if defaults {
        (
            ai_gateway::sse::DEFAULT_MAX_LINE,
            ai_gateway::sse::DEFAULT_MAX_EVENT,
        )
    } else {
        (usize::from(*line), usize::from(*event))
    };

    let mut cuts: Vec<usize> = offsets
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (body.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut from = 0;
    for c in cuts {
        chunks.push(&body[from..c]); // repeated cuts give empty reads
        from = c;
    }
    chunks.push(&body[from..]);

    let whole = decode(&[body], max_line, max_event);
    let split = decode(&chunks, max_line, max_event);
    assert_eq!(whole, split, "split at {chunks:?}");

    let (events, err) = whole;
    let over_limit = match err {
        Some(SseError::LineTooLong { limit }) => {
            assert_eq!(limit, max_line);
            true
        }
        Some(SseError::EventTooLarge { limit }) => {
            assert_eq!(limit, max_event);
            true
        }
        _ => false, // none, or data that is not UTF-8
    };
    if defaults {
        assert!(!over_limit, "fuzz inputs are far below the default limits");
    }
    if !body.contains(&b'\n') && !body.contains(&b'\r') && body.len() > max_line {
        assert_eq!(err, Some(SseError::LineTooLong { limit: max_line }));
    }
    for e in &events {
        // (3x: were invalid UTF-8 replaced, 1 byte would become 3.)
        assert!(e.data.len() <= 3 * max_event, "data over the limit");
        let event = e.event.as_deref().unwrap_or_default();
        let id = e.id.as_deref().unwrap_or_default();
        assert!(event.len() <= 3 * max_line && id.len() <= 3 * max_line);
        // Lines end at CR or LF; data lines are joined with LF only.
        assert!(!e.data.contains('\r'));
        assert!(!event.contains(['\r', '\n']) && !id.contains(['\r', '\n', '\0']));
    }
});
