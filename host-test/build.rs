//! Builds the guest component (`ai-gateway.wasm`) for wasm32-wasip2 in
//! release mode, so `cargo test` / `cargo run -p host-test` always run the
//! component built from the current sources. The nested cargo uses its own
//! target directory (`target/guest`), so it never waits on the outer build's
//! lock. The path is passed to the crate as `AI_GATEWAY_WASM`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host-test lives in the workspace root")
        .to_path_buf();
    for p in ["src", "wit", "Cargo.toml", "Cargo.lock", "allowlist"] {
        println!("cargo::rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo::rerun-if-env-changed=AI_GATEWAY_WASM_OVERRIDE");
    if let Ok(prebuilt) = std::env::var("AI_GATEWAY_WASM_OVERRIDE") {
        println!("cargo::rustc-env=AI_GATEWAY_WASM={prebuilt}");
        return;
    }
    let target_dir = root.join("target").join("guest");
    // One cargo run per package: in a single run cargo would unify the
    // features of `ai-gateway` and link the gateway's exports into the
    // allowlist component.
    for package in ["ai-gateway", "ai-gateway-allowlist"] {
        build_guest(&root, &target_dir, package);
    }
    let out = target_dir.join("wasm32-wasip2").join("release");
    println!(
        "cargo::rustc-env=AI_GATEWAY_WASM={}",
        out.join("ai_gateway.wasm").display()
    );
    println!(
        "cargo::rustc-env=AI_GATEWAY_ALLOWLIST_WASM={}",
        out.join("ai_gateway_allowlist.wasm").display()
    );
}

fn build_guest(root: &std::path::Path, target_dir: &std::path::Path, package: &str) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
        ])
        .arg("--target-dir")
        .arg(target_dir);
    // Do not leak the outer build's flags or wrappers (clippy, coverage)
    // into the guest build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("failed to run cargo for the guest component");
    assert!(
        status.success(),
        "building the guest component {package} failed (see the output above)"
    );
}
