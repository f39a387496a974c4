//! Builds the guest components (`ai_gateway.wasm`, `ai_gateway_allowlist.wasm`)
//! for wasm32-wasip2 in release mode, so `cargo test` / `cargo run -p
//! host-test` always run the components built from the current sources.
//! The nested cargo uses its own target directory (`target/guest`), so it
//! never waits on the outer build's lock. The paths reach the crate as
//! `AI_GATEWAY_WASM` and `AI_GATEWAY_ALLOWLIST_WASM`.

use std::path::{Path, PathBuf};
use std::process::Command;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .parent()
        .ok_or("host-test must live in the workspace root")?
        .to_path_buf();
    for p in [
        "src",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
        "allowlist",
        "model-allowlist",
        "proxy",
        // The guest examples it builds (not all of examples/: node_modules
        // and the Python venv would make every build scan them).
        "examples/compose/echo-provider",
        "examples/compose/summarizer",
        "examples/spin/sdk-app/src",
        "examples/spin/sdk-app/wit",
        "examples/spin/sdk-app/Cargo.toml",
    ] {
        println!("cargo::rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo::rerun-if-env-changed=AI_GATEWAY_WASM_OVERRIDE");
    ensure_wasm_target()?;
    let target_dir = root.join("target").join("guest");
    let out = target_dir.join("wasm32-wasip2").join("release");
    println!(
        "cargo::rustc-env=AI_GATEWAY_ALLOWLIST_WASM={}",
        out.join("ai_gateway_allowlist.wasm").display()
    );
    if let Ok(prebuilt) = std::env::var("AI_GATEWAY_WASM_OVERRIDE") {
        println!("cargo::rustc-env=AI_GATEWAY_WASM={prebuilt}");
        return Ok(());
    }
    // One cargo run per package: in a single run cargo unifies features and
    // would re-link the gateway without its exports.
    for package in [
        "ai-gateway",
        "ai-gateway-allowlist",
        "ai-gateway-proxy",
        "echo-provider",
        "summarizer",
        "spin-chat",
    ] {
        build_guest(&root, &target_dir, package, &[])?;
    }
    // The gateway-with-providers build goes to its own target directory so
    // it never replaces the default ai_gateway.wasm.
    let ext_dir = root.join("target").join("guest-ext");
    build_guest(
        &root,
        &ext_dir,
        "ai-gateway",
        &["--features", "component-providers"],
    )?;
    let ext = ext_dir.join("wasm32-wasip2").join("release");
    println!(
        "cargo::rustc-env=AI_GATEWAY_EXT_WASM={}",
        ext.join("ai_gateway.wasm").display()
    );
    println!(
        "cargo::rustc-env=ECHO_PROVIDER_WASM={}",
        out.join("echo_provider.wasm").display()
    );
    println!(
        "cargo::rustc-env=SUMMARIZER_WASM={}",
        out.join("summarizer.wasm").display()
    );
    println!(
        "cargo::rustc-env=AI_GATEWAY_WASM={}",
        out.join("ai_gateway.wasm").display()
    );
    println!(
        "cargo::rustc-env=AI_GATEWAY_PROXY_WASM={}",
        out.join("ai_gateway_proxy.wasm").display()
    );
    Ok(())
}

/// The guest target's standard library must be installed for the active
/// toolchain. rustup adds a toolchain file's `targets` only when it installs
/// the toolchain, so a machine that already had Rust 1.95.0 lacks it: add it
/// here, before anything slow, or say exactly what to run.
fn ensure_wasm_target() -> Result<(), Error> {
    const TARGET: &str = "wasm32-wasip2";
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("running {rustc} --print sysroot: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib")
        .is_dir()
    {
        return Ok(());
    }
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", TARGET]);
    if let Ok(t) = std::env::var("RUSTUP_TOOLCHAIN") {
        cmd.args(["--toolchain", &t]);
    }
    println!(
        "cargo::warning=the {TARGET} target is missing for this toolchain: running rustup target add {TARGET}"
    );
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!(
            "`rustup target add {TARGET}` failed ({s}); run it yourself, then build again"
        )
        .into()),
        Err(_) => Err(format!(
            "the {TARGET} target is missing and rustup is not on PATH: install the target's standard library for {} (with rustup: `rustup target add {TARGET}`)",
            sysroot.display()
        )
        .into()),
    }
}

fn build_guest(root: &Path, target_dir: &Path, package: &str, extra: &[&str]) -> Result<(), Error> {
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
        .args(extra)
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
        .map_err(|e| format!("running cargo for the guest component: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the guest component {package} failed (see the output above)"
        )
        .into());
    }
    Ok(())
}
