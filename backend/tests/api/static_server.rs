//! The production frontend as its image serves it: Debian's nginx running the same
//! configuration (`frontend/nginx/`, filled in by envsubst as nginx's image does) against the
//! users' bundle, and the app working in Chromium under its Content-Security-Policy.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::Locator;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
};
use tokio::process::{Child, Command};

use crate::browser::{
    USERS_BUNDLE, click, frontend_dist, start_browser, type_into, wait_for, wait_for_text,
};
use crate::helpers::{closed_port, spawn_backend};

/// nginx in the foreground on a free loopback port, with its own temporary prefix.
struct Nginx {
    origin: String,
    prefix: PathBuf,
    _child: Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.prefix);
    }
}

impl Nginx {
    /// Serves the users' bundle on `port` as the production image does, telling the app `api_url`.
    async fn serve_users_bundle(port: u16, api_url: &str) -> Nginx {
        let nginx_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/nginx");
        let bundle = frontend_dist(USERS_BUNDLE);
        let prefix =
            std::env::temp_dir().join(format!("cruddur-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&prefix).unwrap();
        let at = |name: &str| prefix.join(name);

        // What the image's build stage does: the CSP's part that depends on the build.
        let csp = std::process::Command::new("bash")
            .arg(nginx_dir.join("csp.sh"))
            .arg(&bundle)
            .output()
            .expect("bash runs frontend/nginx/csp.sh");
        assert!(csp.status.success(), "csp.sh: {csp:?}");
        std::fs::write(at("csp.conf"), csp.stdout).unwrap();
        std::fs::copy(
            nginx_dir.join("security-headers.conf"),
            at("security-headers.conf"),
        )
        .unwrap();

        // What the image's entrypoint does at start: the template, filled in from the environment.
        let template = std::fs::File::open(nginx_dir.join("default.conf.template")).unwrap();
        let filled = std::process::Command::new("envsubst")
            .arg("${CRUDDUR_FRONTEND_PORT} ${CRUDDUR_FRONTEND_ROOT} ${CRUDDUR_NGINX_DIR} ${CRUDDUR_API_URL}")
            .env("CRUDDUR_FRONTEND_PORT", format!("127.0.0.1:{port}"))
            .env("CRUDDUR_FRONTEND_ROOT", &bundle)
            .env("CRUDDUR_NGINX_DIR", &prefix)
            .env("CRUDDUR_API_URL", api_url)
            .stdin(template)
            .output()
            .expect("envsubst is installed (scripts/setup.sh installs gettext-base)");
        assert!(filled.status.success(), "envsubst: {filled:?}");
        std::fs::write(at("default.conf"), filled.stdout).unwrap();

        // The image's main configuration, in the foreground and writing only under the prefix.
        let temporary = prefix.display();
        let main = format!(
            "daemon off;\nmaster_process off;\npid {temporary}/nginx.pid;\n\
             error_log {temporary}/error.log;\nevents {{}}\nhttp {{\n\
             include /etc/nginx/mime.types;\ndefault_type application/octet-stream;\n\
             sendfile on;\naccess_log off;\nclient_body_temp_path {temporary};\n\
             proxy_temp_path {temporary};\nfastcgi_temp_path {temporary};\n\
             uwsgi_temp_path {temporary};\nscgi_temp_path {temporary};\n\
             include {temporary}/default.conf;\n}}\n"
        );
        std::fs::write(at("nginx.conf"), main).unwrap();

        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(at("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nginx is installed (scripts/setup.sh installs it)");
        let nginx = Nginx {
            origin: format!("http://127.0.0.1:{port}"),
            prefix,
            _child: child,
        };
        nginx.wait_until_listening(port).await;
        nginx
    }

    async fn wait_until_listening(&self, port: u16) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(self.prefix.join("error.log")).unwrap_or_default();
        panic!("nginx never listened on {port}: {log}");
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(format!("{}{path}", self.origin))
            .await
            .unwrap()
    }

    /// As a browser asks: compressed answers welcome.
    async fn get_gzip(&self, path: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(format!("{}{path}", self.origin))
            .header(ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap()
    }
}

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from("nginx"))
}

fn header<'a>(response: &'a reqwest::Response, name: &reqwest::header::HeaderName) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{} has no {name}", response.url()))
        .to_str()
        .unwrap()
}

/// The file of the bundle whose name ends with `suffix` (trunk hashes the names).
fn bundle_file(suffix: &str) -> String {
    std::fs::read_dir(frontend_dist(USERS_BUNDLE))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .find(|name| name.ends_with(suffix))
        .unwrap_or_else(|| panic!("no *{suffix} in the users' bundle"))
}

#[tokio::test]
async fn the_production_static_server_answers_with_security_headers_caching_and_the_api_address() {
    let api = "https://api.cruddur.example";
    let nginx = Nginx::serve_users_bundle(closed_port().await, api).await;

    let page = nginx.get("/").await;
    assert_eq!(page.status(), 200);
    let policy = header(&page, &CONTENT_SECURITY_POLICY).to_owned();
    for directive in [
        "default-src 'self'",
        "'wasm-unsafe-eval'",
        "'sha256-",
        &format!("connect-src 'self' {api};"),
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(
            policy.contains(directive),
            "{directive} missing in {policy}"
        );
    }
    assert!(
        !policy.contains("unsafe-inline") && !policy.contains("'unsafe-eval'"),
        "the users' bundle needs no inline code: {policy}"
    );
    assert_eq!(header(&page, &X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(
        header(&page, &REFERRER_POLICY),
        "strict-origin-when-cross-origin"
    );
    assert!(header(&page, &STRICT_TRANSPORT_SECURITY).starts_with("max-age="));
    assert_eq!(header(&page, &CACHE_CONTROL), "no-cache");

    // A client-side route gets the app; a hashed file that isn't there is a 404, not the app.
    let route = nginx.get("/@andrewbrown").await;
    assert_eq!(route.status(), 200);
    assert_eq!(header(&route, &CACHE_CONTROL), "no-cache");
    assert!(
        route
            .text()
            .await
            .unwrap()
            .contains("<script type=\"module\">")
    );
    let missing = nginx.get("/frontend-0123456789abcdef_bg.wasm").await;
    assert_eq!(missing.status(), 404);

    let wasm = nginx
        .get_gzip(&format!("/{}", bundle_file("_bg.wasm")))
        .await;
    assert_eq!(wasm.status(), 200);
    assert_eq!(header(&wasm, &CONTENT_TYPE), "application/wasm");
    assert_eq!(header(&wasm, &CONTENT_ENCODING), "gzip");
    assert_eq!(
        header(&wasm, &CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&wasm, &X_CONTENT_TYPE_OPTIONS), "nosniff");

    let config = nginx.get("/config.json").await;
    assert_eq!(header(&config, &CONTENT_TYPE), "application/json");
    assert_eq!(header(&config, &CACHE_CONTROL), "no-cache");
    let config: serde_json::Value = config.json().await.unwrap();
    assert_eq!(config, serde_json::json!({ "api_url": api }));
}

#[tokio::test]
async fn the_users_bundle_runs_under_the_production_content_security_policy() {
    // The backend allows only the frontend's origin, so the frontend's port comes first.
    let frontend_port = closed_port().await;
    let origin = format!("http://127.0.0.1:{frontend_port}");
    let backend = spawn_backend(&[
        ("FRONTEND_URL", origin.as_str()),
        ("AWS_XRAY_SDK_ENABLED", "false"),
    ])
    .await;
    let nginx = Nginx::serve_users_bundle(frontend_port, &backend.address).await;
    let browser = start_browser().await;
    let client = &browser.client;

    client.goto(&nginx.origin).await.unwrap();
    wait_for_text(client, ".activity .message", "Cloud is very fun!").await;
    click(client, Locator::Css(".crud-button")).await;
    type_into(client, ".crud-form textarea", "Posted under a strict CSP").await;
    click(client, Locator::Css(".crud-form button[type=submit]")).await;
    wait_for(client, ".activity .message", "the new crud", |messages| {
        messages
            .iter()
            .any(|text| text == "Posted under a strict CSP")
    })
    .await;

    // The policy is in force in the page: an injected inline script is refused.
    let injected = client
        .execute(
            "const script = document.createElement('script'); \
             script.textContent = 'window.injected = true'; \
             document.head.appendChild(script); \
             return window.injected === true ? 'ran' : 'refused';",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(injected, serde_json::json!("refused"));
}
