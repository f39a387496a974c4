//! `glob_match`. Input: UTF-8 `pattern\ntext`. Compared with a plain
//! dynamic-programming matcher, plus the properties a router relies on.
#![no_main]

use ai_gateway::engine::router::glob_match;
use libfuzzer_sys::fuzz_target;

/// The obvious O(n·m) matcher: `*` any run, `?` one char, else itself.
fn reference(p: &[char], t: &[char]) -> bool {
    // m[j]: does the pattern prefix seen so far match t[..j]?
    let mut m = vec![false; t.len() + 1];
    m[0] = true;
    for &pc in p {
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            next[j] = match pc {
                '*' => m[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && m[j - 1],
                c => j > 0 && m[j - 1] && t[j - 1] == c,
            };
        }
        m = next;
    }
    m[t.len()]
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, text) = s.split_once('\n').unwrap_or((s, ""));
    // Keep the reference cheap.
    if pattern.chars().count() > 64 || text.chars().count() > 256 {
        return;
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();

    let got = glob_match(pattern, text);
    assert_eq!(got, reference(&p, &t), "{pattern:?} vs {text:?}");

    // Every pattern matches its own text (`*` and `?` match themselves).
    assert!(glob_match(pattern, pattern));
    // No wildcard: exact equality.
    if !pattern.contains(['*', '?']) {
        assert_eq!(got, pattern == text);
    }
    // `*` matches everything; a trailing `*` accepts any suffix.
    assert!(glob_match("*", text));
    if got {
        assert!(glob_match(
            &format!("{pattern}*"),
            &format!("{text}{pattern}")
        ));
        assert!(glob_match(
            &format!("*{pattern}"),
            &format!("{pattern}{text}")
        ));
    }
});
