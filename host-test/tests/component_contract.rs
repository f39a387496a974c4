//! What the built components import and export, checked with the real
//! `wasm-tools` CLI (installed by `.ci/run`): the gateway imports only
//! standard WASI (0.2.6) and `wasi:keyvalue@0.2.0-draft2`, and targets Spin
//! 4.0.2's platform (`--world library`); the allowlist component imports
//! nothing and stays under 40 KB.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use host_test::host::{allowlist_wasm, gateway_wasm};

fn wasm_tools() -> Command {
    let bin = std::env::var("WASM_TOOLS").unwrap_or_else(|_| "wasm-tools".into());
    let probe = Command::new(&bin).arg("--version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "wasm-tools is needed for this test: `cargo install --locked wasm-tools@1.263.0` (.ci/run does it), or set WASM_TOOLS"
    );
    Command::new(bin)
}

fn spin_wit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/hosts/spin-4.0.2/wit")
}

/// `import`/`export` lines of the component's world.
fn world_lines(wasm: &Path, what: &str) -> Vec<String> {
    let out = wasm_tools()
        .args(["component", "wit"])
        .arg(wasm)
        .output()
        .expect("wasm-tools runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    // The last world in the printed package is the component's own.
    let world = text.rsplit("\nworld ").next().unwrap_or_default();
    world
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix(&format!("{what} ")))
        .map(|l| l.trim_end_matches(';').to_owned())
        .collect()
}

#[test]
fn gateway_imports_only_standard_wasi_0_2_6_and_keyvalue_draft2() {
    let imports = world_lines(&gateway_wasm(), "import");
    assert!(!imports.is_empty());
    for i in &imports {
        let ok = (i.starts_with("wasi:") && i.ends_with("@0.2.6"))
            || i.starts_with("wasi:keyvalue/") && i.ends_with("@0.2.0-draft2");
        assert!(ok, "unexpected import {i}");
    }
    for needed in [
        "wasi:http/outgoing-handler@0.2.6",
        "wasi:keyvalue/store@0.2.0-draft2",
        "wasi:keyvalue/atomics@0.2.0-draft2",
    ] {
        assert!(
            imports.iter().any(|i| i == needed),
            "missing import {needed}: {imports:?}"
        );
    }
    assert!(
        !imports
            .iter()
            .any(|i| i.starts_with("wasi:filesystem") || i.starts_with("wasi:sockets")),
        "{imports:?}"
    );
    let exports = world_lines(&gateway_wasm(), "export");
    for e in ["api", "types", "router", "cost-tracker", "model-allowlist"] {
        assert!(
            exports
                .iter()
                .any(|x| x == &format!("workkit:ai-gateway/{e}@0.3.0")),
            "missing export {e}: {exports:?}"
        );
    }
}

#[test]
fn gateway_targets_spin_4_0_2_library_world() {
    let out = wasm_tools()
        .args(["component", "targets"])
        .arg(spin_wit())
        .arg(gateway_wasm())
        .args(["--world", "library"])
        .output()
        .expect("wasm-tools runs");
    assert!(
        out.status.success(),
        "not targetable by Spin 4.0.2: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn allowlist_component_imports_nothing_and_is_small() {
    let wasm = allowlist_wasm();
    assert!(
        world_lines(&wasm, "import").is_empty(),
        "{:?}",
        world_lines(&wasm, "import")
    );
    assert_eq!(
        world_lines(&wasm, "export"),
        ["workkit:ai-gateway/model-allowlist@0.3.0"]
    );
    let size = std::fs::metadata(&wasm).expect("built").len();
    let gateway = std::fs::metadata(gateway_wasm()).expect("built").len();
    println!("component sizes: allowlist {size} bytes, gateway {gateway} bytes");
    assert!(
        size <= 40 * 1024,
        "allowlist component is {size} bytes, over the 40 KB target"
    );
}
