//! Cruddur in the browser: a client-side Leptos app, built and served by trunk.

mod api;
mod app;
mod clock;
mod components;
mod http;
mod json;
mod pages;
mod router;
mod telemetry;

// Talc rather than Rust's default dlmalloc: smaller in the bundle, and faster in the browser.
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

fn main() {
    std::panic::set_hook(Box::new(telemetry::panicked));
    // The configuration is read before mounting, so before Leptos' own executor exists.
    wasm_bindgen_futures::spawn_local(async {
        let api_url = api::configure().await;
        telemetry::init(api_url);
        leptos::mount::mount_to_body(app::App);
    });
}
