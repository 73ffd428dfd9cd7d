use crate::helpers::{FRONTEND_ORIGIN, error_codes, spawn_app};

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    assert_eq!(app.get_json("/api/health").await["status"], "ok");
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let app = spawn_app().await;
    assert_eq!(
        error_codes(app.get("/api/nothing").await, 404).await,
        ["not_found"]
    );
    let delete = app
        .client
        .delete(format!("{}/api/activities/home", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(error_codes(delete, 405).await, ["method_not_allowed"]);
}

#[tokio::test]
async fn the_frontend_may_send_trace_headers_across_origins() {
    let app = spawn_app().await;
    let preflight = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/activities", app.address),
        )
        .header("origin", FRONTEND_ORIGIN)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,traceparent,tracestate,baggage",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], FRONTEND_ORIGIN);
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    for header in ["content-type", "traceparent", "tracestate", "baggage"] {
        assert!(allowed.contains(header), "{header} is allowed: {allowed}");
    }
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );

    let response = app
        .client
        .get(format!("{}/api/activities/home", app.address))
        .header("origin", FRONTEND_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        FRONTEND_ORIGIN
    );
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert_eq!(exposed, "traceresponse,x-amzn-trace-id,retry-after");
}

#[tokio::test]
async fn other_origins_are_not_allowed() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/api/activities/home", app.address))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    let allowed = response.headers().get("access-control-allow-origin");
    assert!(
        allowed.is_none_or(|origin| origin == FRONTEND_ORIGIN),
        "only the frontend's origin is ever allowed: {allowed:?}"
    );
}
