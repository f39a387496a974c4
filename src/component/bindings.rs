//! The WIT bindings, generated once for the whole component: the `gateway`
//! world, or `gateway-with-providers` when provider components are linked
//! (feature `component-providers`). Only `src/component/` sees them.

#[cfg(not(feature = "component-providers"))]
wit_bindgen::generate!({
    world: "gateway",
    path: "wit",
    generate_all,
});

#[cfg(feature = "component-providers")]
wit_bindgen::generate!({
    world: "gateway-with-providers",
    path: "wit",
    generate_all,
});
