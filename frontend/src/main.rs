//! Cruddur in the browser: a client-side Leptos app, built and served by trunk.

mod api;
mod app;
mod clock;
mod components;
mod pages;
mod router;
mod telemetry;

fn main() {
    console_error_panic_hook::set_once();
    // The configuration is read before mounting, so before Leptos' own executor exists.
    wasm_bindgen_futures::spawn_local(async {
        let api_url = api::configure().await;
        telemetry::init(api_url);
        leptos::mount::mount_to_body(app::App);
    });
}
