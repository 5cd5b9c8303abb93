"""Stormchat settings, read from the environment through one ``environ.Env()``.

With nothing set, the site runs in development mode on SQLite, the in-memory channel
layer and the embedded local model. ``DATABASE_URL``, ``REDIS_URL`` and the ``LLM_*``
variables switch on the real services. ``.env.example`` documents every variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is a convenience for operators (`make run` writes one with DEBUG=1 for a
# development machine); real deployments set the environment. ENV_FILE="" reads none.
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).exists():
    environ.Env.read_env(ENV_FILE, overwrite=False)

# Off unless asked for: a debug page shows settings, cookies and tracebacks to anyone.
DEBUG = env.bool("DEBUG", default=False)
# The development default is only usable with DEBUG on; production must set SECRET_KEY.
SECRET_KEY = env.str(
    "SECRET_KEY",
    default="django-insecure-stormchat-development-key-change-me" if DEBUG else environ.Env.NOTSET,
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # daphne first, so that ``runserver`` serves ASGI (HTTP and WebSockets).
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "csp",
    "axes",
    "template_partials",
    "personas",
    "chat",
]

MIDDLEWARE = [
    # First, so its Server-Timing figure covers every other middleware and the view.
    "stormchat.timing.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "stormchat.privacy.PrivatePagesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# --- Accounts and abuse limits ----------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username + address is refused before its password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# Lockout after repeated failed logins (django-axes): this many failures for one username
# from one address locks that pair out for LOGIN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# (attempts, window seconds). Every attempt counts, refused ones included.
RATE_LIMITS = {
    # Messages (chat, regenerate, edit) per user or anonymous session.
    "messages": (
        env.int("RATE_LIMIT_MESSAGES", default=20),
        env.float("RATE_LIMIT_MESSAGES_WINDOW", default=60),
    ),
    # Login and signup form posts (the site's and the admin's) per client address.
    "auth": (
        env.int("RATE_LIMIT_AUTH", default=10),
        env.float("RATE_LIMIT_AUTH_WINDOW", default=60),
    ),
    # Per client address, for anonymous visitors: new sessions (one per first chat of a
    # visitor without a cookie), new chats, and messages. Per-session caps alone are
    # beaten by starting new sessions.
    "anon_sessions": (
        env.int("RATE_LIMIT_ANON_SESSIONS", default=20),
        env.float("RATE_LIMIT_ANON_SESSIONS_WINDOW", default=3600),
    ),
    "anon_chats": (
        env.int("RATE_LIMIT_ANON_CHATS", default=100),
        env.float("RATE_LIMIT_ANON_CHATS_WINDOW", default=3600),
    ),
    "anon_messages": (
        env.int("RATE_LIMIT_ANON_MESSAGES", default=60),
        env.float("RATE_LIMIT_ANON_MESSAGES_WINDOW", default=60),
    ),
    # Replies (or parts of one, read as it is written) read aloud, per user or session.
    "speech": (
        env.int("RATE_LIMIT_SPEECH", default=120),
        env.float("RATE_LIMIT_SPEECH_WINDOW", default=60),
    ),
    # Recordings sent to be transcribed, per user or anonymous session.
    "transcriptions": (
        env.int("RATE_LIMIT_TRANSCRIPTIONS", default=30),
        env.float("RATE_LIMIT_TRANSCRIPTIONS_WINDOW", default=60),
    ),
    # Attachments uploaded per user or anonymous session (each is decoded and stored).
    "uploads": (
        env.int("RATE_LIMIT_UPLOADS", default=30),
        env.float("RATE_LIMIT_UPLOADS_WINDOW", default=60),
    ),
}
# Chats an anonymous session may keep; signing up lifts the cap.
ANON_MAX_CHATS = env.int("ANON_MAX_CHATS", default=50)
# Group scenes: at most this many personas in one chat, and at most this many replies in a
# row when its members talk among themselves ({"type": "auto", "turns": N}).
SCENE_MAX_MEMBERS = env.int("SCENE_MAX_MEMBERS", default=8)
GROUP_AUTO_MAX_TURNS = env.int("GROUP_AUTO_MAX_TURNS", default=10)

# --- HTTPS and cookies ------------------------------------------------------------------
# Production (DEBUG=0) defaults to HTTPS only: HSTS, redirect, secure cookies. Behind a
# proxy that terminates TLS, set SECURE_PROXY_SSL_HEADER=1 so X-Forwarded-Proto counts.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
# Strict: no cookie rides along with any cross-site request (a second guard, after the
# origin check, against cross-site WebSocket hijacking).
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = env.str("COOKIE_SAMESITE", default="Strict")
SESSION_COOKIE_HTTPONLY = True
# Over HTTPS the cookies take the __Host- prefix: the browser then accepts them only from
# this exact host, over HTTPS, for the whole site, so no sibling subdomain can plant a
# session (session fixation) or a CSRF cookie.
if SESSION_COOKIE_SECURE:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
X_FRAME_OPTIONS = "DENY"

# No inline script, anywhere: scripts come only from our own static files. Inline style
# attributes (a persona's accent colour) are allowed; <style> elements are not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        # Replies read aloud play from a blob of the audio the page fetched.
        "media-src": ["'self'", "blob:"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "stormchat.urls"
ASGI_APPLICATION = "stormchat.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chat.context_processors.limits",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Health checks drop dead connections (a restarted PostgreSQL) before a query fails on one.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool per process (psycopg_pool, through Django's own support). Under ASGI every HTTP
    # request runs its database work on a thread of its own: with persistent connections
    # each request opened one and left it open until the garbage collector found it, and
    # 60 visitors made 60 connections (a burst of sign-ups ran PostgreSQL out of them). The
    # pool lends each request and each trip of the sockets' database thread a connection
    # that is already open, and takes it back after. DB_POOL_SIZE per daphne process, times
    # the processes, must stay under PostgreSQL's max_connections.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them open
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env.int("DB_POOL_SIZE", default=20),
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
    }
else:
    # Persistent connections for the sockets' database thread (SQLite opens in about a
    # millisecond, but every connection runs the PRAGMAs below).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=600)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the site read while a generation flushes; the timeout rides out short locks.
    # IMMEDIATE transactions take the write lock up front, so concurrent turns queue
    # instead of failing with "database is locked" when a read turns into a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # RedisPubSubChannelLayer, chosen by measurement (bench/layer_flavours.py, README):
    # at 200 chat groups it delivered 1,880 msgs/s with p50 36 ms, while
    # RedisChannelLayer could not deliver 50 groups x 25 batches within 60 s.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8 defaults socket_timeout to 5 s, which breaks blocking
                        # reads in channels-redis (channels_redis#422); keep it finite but
                        # longer than any blocking call.
                        "socket_timeout": 15,
                        # redis-py 8's pool raises past 100 connections; hundreds of streams
                        # group_send at once.
                        "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=1000),
                    }
                ],
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "stormchat",
        }
    }
else:
    # channels' in-memory layer, minus its per-call costs (see stormchat/layers.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "stormchat.layers.LocalChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- LLM backends ---------------------------------------------------------------------
# One of: local (the embedded model, the default), ollama, openai, cloudflare.
LLM_BACKEND = env.str("LLM_BACKEND", default="local")
LLM_BASE_URL = env.str("LLM_BASE_URL", default="")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_MODEL = env.str("LLM_MODEL", default="")
CLOUDFLARE_ACCOUNT_ID = env.str("CLOUDFLARE_ACCOUNT_ID", default="")
OLLAMA_HOST = env.str("OLLAMA_HOST", default="")
LOCAL_MODEL_PATH = env.str("LOCAL_MODEL_PATH", default="")
LOCAL_CONTEXT_TOKENS = env.int("LOCAL_CONTEXT_TOKENS", default=4096)
# Per-backend fallbacks, used when a persona overrides the backend away from LLM_BACKEND.
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OLLAMA_API_KEY = env.str("OLLAMA_API_KEY", default="")
CLOUDFLARE_API_TOKEN = env.str("CLOUDFLARE_API_TOKEN", default="")
LLM_CONNECT_TIMEOUT = env.float("LLM_CONNECT_TIMEOUT", default=10.0)
LLM_FIRST_TOKEN_TIMEOUT = env.float("LLM_FIRST_TOKEN_TIMEOUT", default=120.0)
LLM_IDLE_TIMEOUT = env.float("LLM_IDLE_TIMEOUT", default=60.0)
LLM_CONTEXT_TOKENS = env.int("LLM_CONTEXT_TOKENS", default=8192)
LLM_NUM_CTX = env.int("LLM_NUM_CTX", default=0)

# --- Streaming chat engine ------------------------------------------------------------
# Deltas after the first are coalesced over this window into one `stream` event.
STREAM_COALESCE_MS = env.int("STREAM_COALESCE_MS", default=40)
# A busy process widens the window (fewer frames and reads per reply, so less CPU per
# token): linearly from STREAM_COALESCE_MS with no other reply streaming to this at
# STREAM_COALESCE_BUSY_REPLIES replies or more (README, "Performance").
STREAM_COALESCE_MAX_MS = env.int("STREAM_COALESCE_MAX_MS", default=100)
STREAM_COALESCE_BUSY_REPLIES = env.int("STREAM_COALESCE_BUSY_REPLIES", default=100)
# After a reply's first token, its upstream is read at most once per coalescing window:
# tokens wait in the socket buffer and one read takes them all (README, "Performance").
STREAM_PACED_READS = env.bool("STREAM_PACED_READS", default=True)
# A batch larger than this many characters is split into several `stream` events, and a
# reply stops at MAX_REPLY_CHARS, so no frame nears daphne's 1 MB message limit whatever a
# backend sends.
STREAM_MAX_BATCH_CHARS = env.int("STREAM_MAX_BATCH_CHARS", default=16_000)
MAX_REPLY_CHARS = env.int("MAX_REPLY_CHARS", default=200_000)
# The reply text is written to the database at least this often while streaming.
STREAM_FLUSH_SECONDS = env.float("STREAM_FLUSH_SECONDS", default=1.0)
# A run refreshes its reply's heartbeat every second; one not refreshed for this long
# (seconds) belongs to a process that died. Every process sweeps for such replies every
# REPLY_SWEEP_SECONDS and marks them interrupted, keeping the text people saw; a reply is
# swept when two sweeps in a row found it without a heartbeat, so an orphan is found
# within about REPLY_HEARTBEAT_TTL + 2 x REPLY_SWEEP_SECONDS of the crash.
REPLY_HEARTBEAT_TTL = env.float("REPLY_HEARTBEAT_TTL", default=8.0)
REPLY_SWEEP_SECONDS = env.float("REPLY_SWEEP_SECONDS", default=4.0)
# /metrics (Prometheus): with a token, it needs "Authorization: Bearer <token>"; without
# one, only requests from this machine (loopback) are answered.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Messages in the `welcome` snapshot; older ones come from GET /api/chats/<id>/?before=.
SNAPSHOT_MESSAGES = env.int("SNAPSHOT_MESSAGES", default=50)
# ...and at most about this many characters of message text (at least the newest message),
# counting each message as its preview: with HTML escaping at most 6 bytes a character, the
# welcome frame stays under daphne's 1 MB message limit whatever the messages hold.
SNAPSHOT_MAX_CHARS = env.int("SNAPSHOT_MAX_CHARS", default=120_000)
# Longer messages show their first this many characters in snapshots and on the page, with
# "Show more" (GET /chats/<id>/messages/<message_id>/ or the same under /api/).
MESSAGE_PREVIEW_CHARS = env.int("MESSAGE_PREVIEW_CHARS", default=10_000)
# A connection whose unsent output exceeds this many bytes is dropped (slow reader);
# it catches up from the snapshot when it reconnects.
WS_MAX_BUFFERED_BYTES = env.int("WS_MAX_BUFFERED_BYTES", default=1_048_576)
# The largest WebSocket frame accepted from a client, and the longest chat message.
WS_MAX_FRAME_BYTES = env.int("WS_MAX_FRAME_BYTES", default=65_536)
MAX_MESSAGE_CHARS = env.int("MAX_MESSAGE_CHARS", default=8000)
# Attachments: each file and all of one message's together at most this many bytes, at
# most this many per message, and unsent ones kept per chat (a composer's worth). Pictures
# larger than IMAGE_MAX_SIDE pixels on a side are scaled down; every picture is re-encoded.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENTS_PER_MESSAGE = env.int("ATTACHMENTS_PER_MESSAGE", default=8)
ATTACHMENTS_UNSENT_PER_CHAT = env.int("ATTACHMENTS_UNSENT_PER_CHAT", default=16)
IMAGE_MAX_SIDE = env.int("IMAGE_MAX_SIDE", default=1920)
# A text file's characters that go into the prompt (the rest is cut, and says so).
ATTACHMENT_TEXT_MAX_CHARS = env.int("ATTACHMENT_TEXT_MAX_CHARS", default=100_000)
# Whether the default backend's model (LLM_BACKEND, LLM_MODEL) sees images. A persona with
# a backend of its own has its own switch in the admin.
LLM_VISION = env.bool("LLM_VISION", default=False)
# --- Speech: replies read aloud --------------------------------------------------------
# local: Piper, offline, with the en_US-joe-medium voice its package ships (each persona a
# variation of speed and pitch); openai: POST {TTS_BASE_URL}/audio/speech (OpenAI,
# Kokoro-FastAPI, openedai-speech, LocalAI); none: no speech.
TTS_BACKEND = env.str("TTS_BACKEND", default="local")
TTS_BASE_URL = env.str("TTS_BASE_URL", default="https://api.openai.com/v1")
TTS_API_KEY = env.str("TTS_API_KEY", default="")
TTS_MODEL = env.str("TTS_MODEL", default="tts-1")
# The voice of a persona with none of its own, and the narrator's (for *actions*).
TTS_VOICE = env.str("TTS_VOICE", default="alloy")
TTS_NARRATOR_VOICE = env.str("TTS_NARRATOR_VOICE", default="")
TTS_FORMAT = env.str("TTS_FORMAT", default="mp3")
# *Actions* between asterisks: read by a narrator's voice, or skipped.
TTS_ACTIONS = env.str("TTS_ACTIONS", default="narrate")
TTS_TIMEOUT = env.float("TTS_TIMEOUT", default=60)
# The longest text one speech request reads (a reply longer than this is read in part).
TTS_MAX_CHARS = env.int("TTS_MAX_CHARS", default=4000)

# --- Speech to text: the microphone ---------------------------------------------------
# browser: the browser's own Web Speech API where it has one (no server work); openai:
# recordings are sent to POST {STT_BASE_URL}/audio/transcriptions (OpenAI,
# faster-whisper-server, whisper.cpp's server, Groq, LocalAI); none: no microphone.
STT_BACKEND = env.str("STT_BACKEND", default="browser")
STT_BASE_URL = env.str("STT_BASE_URL", default="https://api.openai.com/v1")
STT_API_KEY = env.str("STT_API_KEY", default="")
STT_MODEL = env.str("STT_MODEL", default="whisper-1")
STT_TIMEOUT = env.float("STT_TIMEOUT", default=60)
# The longest recording taken (bytes); about ten minutes of Opus.
STT_MAX_BYTES = env.int("STT_MAX_BYTES", default=10 * 1024 * 1024)

# The largest HTTP request body taken at all (an attachment and its form's overhead);
# larger ones get 413 before they are read.
REQUEST_MAX_BYTES = env.int("REQUEST_MAX_BYTES", default=ATTACHMENT_MAX_BYTES + 1024 * 1024)
# Each socket may send this many frames a second, in bursts of up to WS_FRAME_BURST; past
# that it is told `too_many_frames` and closed (4429). Each user or anonymous session may
# hold this many sockets per server process (`too_many_sockets`, 4429).
WS_FRAME_RATE = env.float("WS_FRAME_RATE", default=10.0)
WS_FRAME_BURST = env.int("WS_FRAME_BURST", default=40)
WS_MAX_SOCKETS_PER_OWNER = env.int("WS_MAX_SOCKETS_PER_OWNER", default=30)

# Error reports and debug pages hide credentials inside URLs (LLM_BASE_URL=https://u:p@...)
# and cookies, beside Django's own list of secret-looking settings; so do the logs.
DEFAULT_EXCEPTION_REPORTER_FILTER = "stormchat.redaction.RedactingReporterFilter"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "stormchat.redaction.RedactingLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # LOG_FORMAT=json: one JSON object a line, with chat_id and message_id where a
        # line is about one (never message text, unless LOG_LEVEL=DEBUG).
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if env.str("LOG_FORMAT", default="plain") == "json" else "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx logs every request URL at INFO; per-token streaming makes that noise, not news.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
