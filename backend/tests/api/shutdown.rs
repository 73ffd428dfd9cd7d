//! Shutdown ends within its deadlines, and a request cut off at the deadline writes nothing.

use std::time::Duration;

use backend::repository::{PageRequest, Repository};
use backend::startup::{Application, TelemetryHandles};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::databases::TestDatabase;
use crate::helpers::in_process_settings;

#[tokio::test]
async fn a_request_cut_off_at_the_shutdown_deadline_cannot_write_afterwards() {
    let database = TestDatabase::sqlite();
    let settings = in_process_settings(&database, &[("CRUDDUR_SHUTDOWN_TIMEOUT", "1")]);
    let application = Application::build(&settings, TelemetryHandles::default())
        .await
        .unwrap();
    let port = application.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));

    // A write whose body is still on its way when the server is told to stop.
    let body = r#"{"message": "written after the cut off", "ttl": "1-day"}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST /api/activities HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(4), running)
        .await
        .expect("the server stops within its deadlines")
        .unwrap()
        .unwrap();

    // The request still runs (its connection outlives the server here, as until the process
    // exits in production), and now sends its body.
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = vec![0; 12];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut answer))
        .await
        .expect("the request is answered")
        .unwrap();
    let status = String::from_utf8_lossy(&answer).into_owned();
    assert_eq!(status, "HTTP/1.1 503", "refused, not written");

    let found = database
        .repository()
        .await
        .search_activities(
            "after the cut off",
            PageRequest::first(),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    assert!(
        found.items.is_empty(),
        "nothing was written after the cut off"
    );
}
