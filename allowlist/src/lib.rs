//! The `allowlist` world: `workkit:ai-gateway/model-allowlist` with no
//! imports at all, for callers that only validate model names (the
//! tree-shakeable `@workkit/ai-gateway/allowlist` sub-export of the
//! TypeScript library).
//!
//! `no_std` on wasm, so no libc and no WASI imports come along. The matcher
//! is the `model-allowlist` crate, the one the gateway uses too.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

pub use model_allowlist as allowlist;

#[cfg(target_arch = "wasm32")]
#[allow(
    unsafe_code,
    reason = "the global allocator and wit-bindgen's ABI glue are unsafe by nature"
)]
mod component {
    use alloc::string::String;
    use alloc::vec::Vec;

    #[global_allocator]
    static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

    /// `memcmp` for `core`'s string comparisons: there is no libc here.
    ///
    /// # Safety
    /// `a` and `b` must be valid for reads of `n` bytes (the caller is
    /// `core`, which guarantees it).
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        for i in 0..n {
            // SAFETY: both pointers are valid for `n` bytes, per the contract.
            let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
            if x != y {
                return i32::from(x) - i32::from(y);
            }
        }
        0
    }

    /// The canonical ABI's allocator entry point. On wasm32-wasip2 std
    /// provides it; without std we do, as wit-bindgen's runtime does on p1.
    ///
    /// # Safety
    /// Called by the component runtime with a pointer/length/alignment it
    /// got from an earlier call (or zero length for a fresh allocation).
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn cabi_realloc(
        old_ptr: *mut u8,
        old_len: usize,
        align: usize,
        new_len: usize,
    ) -> *mut u8 {
        use alloc::alloc::{Layout, alloc, realloc};
        if new_len == 0 {
            return align as *mut u8;
        }
        // SAFETY: the runtime passes a power-of-two `align` and, for a
        // reallocation, the same layout it allocated with.
        let ptr = unsafe {
            if old_len == 0 {
                alloc(Layout::from_size_align_unchecked(new_len, align))
            } else {
                realloc(
                    old_ptr,
                    Layout::from_size_align_unchecked(old_len, align),
                    new_len,
                )
            }
        };
        if ptr.is_null() {
            core::arch::wasm32::unreachable();
        }
        ptr
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }

    #[allow(
        clippy::all,
        missing_debug_implementations,
        unused_qualifications,
        reason = "generated bindings"
    )]
    mod bindings {
        wit_bindgen::generate!({ world: "allowlist", path: "../wit" });
    }

    use bindings::exports::workkit::ai_gateway::model_allowlist as wa;
    use model_allowlist::{Allowlist, ModelMatcher, ProviderModels, is_allowed_model};

    fn config(c: wa::AllowlistConfig) -> Vec<ProviderModels> {
        c.into_iter()
            .map(|p| ProviderModels {
                provider: p.provider,
                models: p
                    .models
                    .into_iter()
                    .map(|m| match m {
                        wa::ModelMatcher::Exact(e) => ModelMatcher::Exact(e),
                        wa::ModelMatcher::Prefix(p) => ModelMatcher::Prefix(p),
                    })
                    .collect(),
            })
            .collect()
    }

    struct Component;
    struct AllowlistRes(Allowlist);

    impl wa::Guest for Component {
        type Allowlist = AllowlistRes;

        fn create_model_allowlist(c: wa::AllowlistConfig) -> wa::Allowlist {
            wa::Allowlist::new(AllowlistRes(Allowlist::new(config(c))))
        }

        fn is_allowed_model(c: wa::AllowlistConfig, provider: String, model: String) -> bool {
            is_allowed_model(&config(c), &provider, &model)
        }
    }

    impl wa::GuestAllowlist for AllowlistRes {
        fn is_allowed(&self, provider: String, model: String) -> bool {
            self.0.is_allowed(&provider, &model)
        }
    }

    bindings::export!(Component with_types_in bindings);
}
