"""The Cruddur bootcamp's Flask backend (week 2) reduced to GET /api/activities/home, for
bench/flask.sh to measure against the Rust backend.

Instrumented the way the week-2 write-ups instrument `backend-flask`: OpenTelemetry's Flask
and requests instrumentation, a BatchSpanProcessor with the OTLP/HTTP exporter configured by
the OTEL_* variables, the custom span `home-activities-mock-data` with `app.now` and
`app.result_length`, and AWS X-Ray's middleware with a recorder named `Cruddur` and dynamic
naming from AWS_XRAY_URL (the daemon from AWS_XRAY_DAEMON_ADDRESS).

CRUDDUR_BENCH_TELEMETRY=off runs the same app with none of it, so that the instrumentation's
own cost can be measured. CRUDDUR_BENCH_DATABASE=path reads the feed from Cruddur's SQLite file
with Cruddur's two statements (its page and the page's latest replies) through Python's
sqlite3, one connection per server thread, instead of the mock data. Served as the bootcamp
serves it:
    python3 -m flask --app app run --port 4567
"""

import os
import signal
import sqlite3
import sys
import threading
from datetime import datetime, timedelta, timezone

from flask import Flask
from flask_cors import CORS

TELEMETRY = os.getenv("CRUDDUR_BENCH_TELEMETRY", "on") != "off"

if TELEMETRY:
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.ext.flask.middleware import XRayMiddleware
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("home.activities")

app = Flask(__name__)

# SIGTERM ends the server as Ctrl-C does, through the exit handlers, where the tracer provider
# exports the spans still queued: the bench stops the app with SIGTERM, and a background
# process of a script ignores SIGINT.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

if TELEMETRY:
    FlaskInstrumentor().instrument_app(app)
    RequestsInstrumentor().instrument()
    xray_recorder.configure(service="Cruddur", dynamic_naming=os.getenv("AWS_XRAY_URL"))
    XRayMiddleware(app, xray_recorder)

# The bootcamp's CORS setup: the backend answers the frontend's origin only.
frontend = os.getenv("FRONTEND_URL", "http://localhost:3000")
backend = os.getenv("BACKEND_URL", "http://localhost:4567")
CORS(
    app,
    resources={r"/api/*": {"origins": [frontend, backend]}},
    expose_headers="location,link",
    allow_headers="content-type,if-modified-since",
    methods="OPTIONS,GET,HEAD,POST",
)


def home_activities(now):
    """The mock feed: the same activities, replies and timings as Cruddur's seed data."""
    andrew = "68f126b0-1ceb-4a33-88be-d90fa7109eee"
    return [
        {
            "uuid": "248959df-3079-4947-b847-9e0892d1bab4",
            "display_name": "Garek",
            "handle": "garek",
            "message": "My dear doctor, I am just simple tailor",
            "created_at": (now - timedelta(hours=1)).isoformat(),
            "expires_at": (now + timedelta(hours=12)).isoformat(),
            "likes_count": 0,
            "replies_count": 0,
            "reposts_count": 0,
            "replies": [],
        },
        {
            "uuid": andrew,
            "display_name": "Andrew Brown",
            "handle": "andrewbrown",
            "message": "Cloud is very fun!",
            "created_at": (now - timedelta(days=2)).isoformat(),
            "expires_at": (now + timedelta(days=5)).isoformat(),
            "likes_count": 5,
            "replies_count": 1,
            "reposts_count": 0,
            "replies": [
                {
                    "uuid": "26e12864-1c26-5c3a-9658-97a10f8fea67",
                    "reply_to_activity_uuid": andrew,
                    "display_name": "Worf",
                    "handle": "worf",
                    "message": "This post has no honor!",
                    "created_at": (now - timedelta(days=2, hours=-1)).isoformat(),
                    "likes_count": 0,
                    "replies_count": 0,
                    "reposts_count": 0,
                }
            ],
        },
        {
            "uuid": "a1b3d2c4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "display_name": "Coco",
            "handle": "coco",
            "message": "I am white unicorn",
            "created_at": (now - timedelta(days=2, minutes=1)).isoformat(),
            "expires_at": (now + timedelta(days=5)).isoformat(),
            "likes_count": 5,
            "replies_count": 0,
            "reposts_count": 0,
            "replies": [],
        },
        {
            "uuid": "66e12864-8c26-4c3a-9658-95a10f8fea67",
            "display_name": "Worf",
            "handle": "worf",
            "message": "I am out of prune juice",
            "created_at": (now - timedelta(days=7)).isoformat(),
            "expires_at": (now + timedelta(days=9)).isoformat(),
            "likes_count": 0,
            "replies_count": 0,
            "reposts_count": 0,
            "replies": [],
        },
    ]


DATABASE = os.getenv("CRUDDUR_BENCH_DATABASE")
PAGE_SIZE = 50
FEED_REPLIES = 3
# backend/src/repository/sql/activities.rs (HOME) and replies.rs (FEED_REPLIES_SQL), word for
# word: sqlite3 reads `$N` as the parameter named N.
HOME_SQL = (
    "SELECT a.uuid, a.user_handle, u.display_name, a.message, a.created_at, a.expires_at, "
    "a.likes_count, (SELECT COUNT(*) FROM replies r WHERE r.activity_uuid = a.uuid) AS replies_count "
    "FROM activities a JOIN users u ON u.handle = a.user_handle "
    "WHERE a.expires_at > $1 AND (a.created_at < $2 OR (a.created_at = $2 AND a.uuid < $3)) AND "
    "1 = 1 ORDER BY a.created_at DESC, a.uuid DESC LIMIT $4"
)
FEED_REPLIES_SQL = (
    "SELECT uuid, activity_uuid, user_handle, display_name, message, created_at FROM ("
    "SELECT r.uuid, r.activity_uuid, r.user_handle, u.display_name, r.message, r.created_at, "
    "ROW_NUMBER() OVER (PARTITION BY r.activity_uuid ORDER BY r.created_at DESC, r.uuid DESC) AS newest "
    "FROM replies r JOIN users u ON u.handle = r.user_handle "
    "WHERE r.activity_uuid IN ("
    + ", ".join(f"${n}" for n in range(1, PAGE_SIZE + 1))
    + f")) ranked WHERE newest <= ${PAGE_SIZE + 1} ORDER BY created_at, uuid"
)
connections = threading.local()


def iso(micros):
    return datetime.fromtimestamp(micros / 1_000_000, timezone.utc).isoformat()


def database_home_activities(now):
    """The first page of the home feed with each crud's latest replies, as Cruddur answers it."""
    if not hasattr(connections, "db"):
        connections.db = sqlite3.connect(DATABASE)
    db = connections.db
    now_micros = int(now.timestamp() * 1_000_000)
    rows = db.execute(HOME_SQL, {"1": now_micros, "2": 2**63 - 1, "3": "", "4": PAGE_SIZE + 1}).fetchall()
    rows = rows[:PAGE_SIZE]
    replies = {}
    if any(row[7] for row in rows):
        bound = {str(n + 1): rows[n][0] if n < len(rows) else "" for n in range(PAGE_SIZE)}
        bound[str(PAGE_SIZE + 1)] = FEED_REPLIES
        for uuid, activity, handle, name, message, created in db.execute(FEED_REPLIES_SQL, bound):
            replies.setdefault(activity, []).append(
                {
                    "uuid": uuid,
                    "reply_to_activity_uuid": activity,
                    "display_name": name,
                    "handle": handle,
                    "message": message,
                    "created_at": iso(created),
                    "likes_count": 0,
                    "replies_count": 0,
                    "reposts_count": 0,
                }
            )
    return [
        {
            "uuid": uuid,
            "display_name": name,
            "handle": handle,
            "message": message,
            "created_at": iso(created),
            "expires_at": iso(expires),
            "likes_count": likes,
            "replies_count": count,
            "reposts_count": 0,
            "replies": replies.get(uuid, []),
        }
        for uuid, handle, name, message, created, expires, likes, count in rows
    ]


if DATABASE:
    home_activities = database_home_activities  # noqa: F811


def traced_home_activities():
    """services/home_activities.py of the write-ups: the feed inside a span of its own."""
    with tracer.start_as_current_span("home-activities-mock-data"):
        span = trace.get_current_span()
        now = datetime.now(timezone.utc).astimezone()
        span.set_attribute("app.now", now.isoformat())
        results = home_activities(now)
        span.set_attribute("app.result_length", len(results))
        return results


@app.route("/api/activities/home", methods=["GET"])
def data_home():
    if TELEMETRY:
        return traced_home_activities(), 200
    return home_activities(datetime.now(timezone.utc).astimezone()), 200
