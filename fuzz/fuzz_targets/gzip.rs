//! `encoding`: the gzip decoder for upstream bodies (untrusted bytes).
//! Input: `[mode, piece, max, data..]`.
//!
//! - mode even: `data` is the body as the upstream sent it. Decoding it
//!   whole (`gunzip`) and incrementally (pushed `piece` bytes at a time,
//!   pulled at most `max` bytes at a time) agree: the same bytes, or both
//!   fail. No pull returns more than asked, and the limit holds.
//! - mode odd: `data` is plain text; gzip it as a server would and check
//!   every way of decoding gives it back exactly.
#![no_main]

use ai_gateway::encoding::{Decoder, gunzip};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn gz(text: &[u8], level: u8) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    out.extend(miniz_oxide::deflate::compress_to_vec(text, level % 11));
    out.extend(crc32(text).to_le_bytes());
    out.extend((text.len() as u32).to_le_bytes());
    out
}

/// Decode incrementally; `Err` if the decoder fails or the output passes LIMIT.
fn incremental(body: &[u8], piece: usize, max: usize) -> Result<Vec<u8>, ()> {
    let mut d = Decoder::new();
    let mut out = Vec::new();
    let take = |d: &mut Decoder, out: &mut Vec<u8>| -> Result<(), ()> {
        while let Some(b) = d.pull(max).map_err(|_| ())? {
            assert!(
                !b.is_empty() && b.len() <= max,
                "pull gave {} of {max}",
                b.len()
            );
            out.extend(b);
            if out.len() > LIMIT {
                return Err(());
            }
        }
        Ok(())
    };
    for c in body.chunks(piece) {
        d.push(c);
        take(&mut d, &mut out)?;
    }
    d.end();
    take(&mut d, &mut out)?;
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let [mode, piece, max, rest @ ..] = data else {
        return;
    };
    let piece = usize::from(*piece).max(1);
    let max = usize::from(*max).max(1) * 16;
    if mode % 2 == 0 {
        let whole = gunzip(rest.to_vec(), LIMIT);
        if let Ok(w) = &whole {
            assert!(w.len() <= LIMIT);
        }
        let split = incremental(rest, piece, max);
        assert_eq!(whole.is_ok(), split.is_ok(), "whole {whole:?} vs split");
        if let (Ok(w), Ok(s)) = (whole, split) {
            assert_eq!(w, s);
        }
    } else {
        let body = gz(rest, mode / 2);
        assert_eq!(gunzip(body.clone(), LIMIT).as_deref(), Ok(rest));
        assert_eq!(incremental(&body, piece, max).as_deref(), Ok(rest));
        // Two members back to back are one body.
        let mut two = body.clone();
        two.extend_from_slice(&body);
        let want = [rest, rest].concat();
        assert_eq!(incremental(&two, piece, max), Ok(want));
        // Cut anywhere after the magic, it is an error, never a shorter
        // body. (One byte, 0x1f, is not gzip and passes through.)
        let cut = 2 + piece % (body.len() - 2);
        assert!(
            incremental(&body[..cut], piece, max).is_err(),
            "cut at {cut}"
        );
    }
});
