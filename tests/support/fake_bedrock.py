"""A loopback stand-in for the Amazon Bedrock runtime's Converse API, for tests that drive a client
(the LiteLLM proxy, boto3) against `http://127.0.0.1:<port>` instead of AWS.

It serves what a Converse caller sees:

- POST /model/{modelId}/converse: the JSON ConverseResponse (output.message, stopReason, usage,
  metrics);
- POST /model/{modelId}/converse-stream: an `application/vnd.amazon.eventstream` body in AWS's
  binary event-stream framing, sent one message per HTTP chunk: messageStart, contentBlockDelta
  (one per text chunk), contentBlockStop, messageStop, metadata (usage and metrics).

`reply_delay_seconds` holds each answer back that long before anything is sent (unless
`release_held` lets the answers held so far go at once), and `chunk_interval_seconds` spaces a
stream's messages: a slow model, for timeout and streaming tests.

A call whose user text contains a key of `errors` is answered with that error instead, as
Bedrock answers one: the HTTP status, `x-amzn-ErrorType` and a JSON `{"message": ...}` body (e.g.
429 ThrottlingException, 400 ValidationException).

Every other path gets a 404. Requests are not signature-checked (any SigV4 header is accepted),
only recorded, so tests can see which model and operation each call used.

The framing (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTSelectObjectAppendix.html,
"Event stream encoding"), all integers big-endian:

    prelude:  total length (4 bytes) | headers length (4 bytes) | CRC32 of those 8 bytes (4 bytes)
    headers:  per header: name length (1) | name | value type (1, 7 = string) | value length (2) | value
    payload:  the event's JSON
    trailer:  CRC32 of everything before it (4 bytes)
"""

from __future__ import annotations

import binascii
import json
import struct
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.support.loopback import LoopbackHandler, serving

EVENT_STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
STRING_HEADER_TYPE = 7
PRELUDE_LENGTH = 12  # total length, headers length, prelude CRC
TRAILER_LENGTH = 4  # message CRC

DEFAULT_REPLY_CHUNKS = ("Hello", " from", " the fake", " Bedrock.")


def _crc32(data: bytes, crc: int = 0) -> int:
    return binascii.crc32(data, crc) & 0xFFFFFFFF


def encode_headers(headers: Mapping[str, str]) -> bytes:
    encoded = b""
    for name, value in headers.items():
        name_bytes, value_bytes = name.encode(), value.encode()
        encoded += struct.pack("!B", len(name_bytes)) + name_bytes
        encoded += struct.pack("!BH", STRING_HEADER_TYPE, len(value_bytes)) + value_bytes
    return encoded


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude, prelude CRC, headers, payload, message CRC."""
    header_bytes = encode_headers(headers)
    total_length = PRELUDE_LENGTH + len(header_bytes) + len(payload) + TRAILER_LENGTH
    prelude = struct.pack("!II", total_length, len(header_bytes))
    prelude += struct.pack("!I", _crc32(prelude))
    message = prelude + header_bytes + payload
    return message + struct.pack("!I", _crc32(message))


def encode_event(event_type: str, payload: Mapping[str, Any]) -> bytes:
    return encode_message(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(payload, separators=(",", ":")).encode(),
    )


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 12
    output_tokens: int = 7

    def as_bedrock(self) -> dict[str, int]:
        return {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": self.input_tokens + self.output_tokens,
        }


def converse_stream_events(chunks: Sequence[str], usage: Usage) -> list[tuple[str, dict[str, Any]]]:
    """(event type, payload) of a ConverseStream answer made of `chunks` of text."""
    return [
        ("messageStart", {"role": "assistant"}),
        *(("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": chunk}}) for chunk in chunks),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": "end_turn"}),
        ("metadata", {"usage": usage.as_bedrock(), "metrics": {"latencyMs": 42}}),
    ]


def converse_response(chunks: Sequence[str], usage: Usage) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": "".join(chunks)}]}},
        "stopReason": "end_turn",
        "usage": usage.as_bedrock(),
        "metrics": {"latencyMs": 42},
    }


@dataclass(frozen=True)
class BedrockCall:
    method: str
    path: str
    model_id: str | None  # URL-decoded, e.g. us.anthropic.claude-sonnet-4-20250514-v1:0
    operation: str | None  # "converse" or "converse-stream"; None for an unknown path
    authorization: str | None
    body: Any

    def user_text(self) -> str:
        """Every text block of the user turns, joined: what a test put in its messages."""
        if not isinstance(self.body, dict):
            return ""
        return "\n".join(
            block.get("text", "")
            for message in self.body.get("messages", [])
            if message.get("role") == "user"
            for block in message.get("content", [])
            if isinstance(block, dict)
        )


@dataclass(frozen=True)
class BedrockError:
    status: int
    error_type: str  # x-amzn-ErrorType, e.g. ThrottlingException
    message: str


THROTTLING = BedrockError(429, "ThrottlingException", "Too many requests, please wait before trying again.")
VALIDATION = BedrockError(400, "ValidationException", "The provided request is not valid")


@dataclass
class FakeBedrock:
    reply_chunks: tuple[str, ...] = DEFAULT_REPLY_CHUNKS
    usage: Usage = field(default_factory=Usage)
    errors: Mapping[str, BedrockError] = field(default_factory=dict)  # user-text trigger -> error answer
    reply_delay_seconds: float = 0  # before the answer's first byte
    chunk_interval_seconds: float = 0  # between a stream's messages
    url: str = ""
    calls: list[BedrockCall] = field(default_factory=list)
    streamed_messages: int = 0  # event-stream messages written so far, every stream together
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)  # set: the answers held until now go

    @property
    def reply_text(self) -> str:
        return "".join(self.reply_chunks)

    def record(self, call: BedrockCall) -> None:
        with self._lock:
            self.calls.append(call)

    def snapshot(self) -> list[BedrockCall]:
        with self._lock:
            return list(self.calls)

    def note_streamed(self) -> None:
        with self._lock:
            self.streamed_messages += 1

    def hold(self) -> None:
        """Holds this answer back `reply_delay_seconds`, or until `release_held`."""
        with self._lock:
            release = self._release
        release.wait(self.reply_delay_seconds)

    def release_held(self) -> None:
        """Lets every answer held back so far go now; later ones are held again."""
        with self._lock:
            self._release.set()
            self._release = threading.Event()


def _parse_path(path: str) -> tuple[str | None, str | None]:
    parts = urlsplit(path).path.split("/")  # ['', 'model', '<id>', 'converse']
    if len(parts) == 4 and parts[1] == "model" and parts[3] in ("converse", "converse-stream"):
        return unquote(parts[2]), parts[3]
    return None, None


class _Handler(LoopbackHandler):
    protocol_version = "HTTP/1.1"  # chunked transfer for the event stream

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        fake: FakeBedrock = self.fake
        body = self.read_json()
        model_id, operation = _parse_path(self.path)
        call = BedrockCall("POST", self.path, model_id, operation, self.headers.get("Authorization"), body)
        fake.record(call)
        fake.hold()
        error = next((e for trigger, e in fake.errors.items() if operation and trigger in call.user_text()), None)
        if error is not None:
            self.reply(error.status, {"message": error.message},
                       {"x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-ErrorType": error.error_type})
        elif operation == "converse":
            self._send_json(200, converse_response(fake.reply_chunks, fake.usage))
        elif operation == "converse-stream":
            self._send_event_stream(converse_stream_events(fake.reply_chunks, fake.usage))
        else:
            self._send_json(404, {"message": f"fake Bedrock: no route for POST {self.path}"})

    def do_GET(self) -> None:  # noqa: N802
        self.fake.record(BedrockCall("GET", self.path, None, None, self.headers.get("Authorization"), None))
        self._send_json(404, {"message": f"fake Bedrock: no route for GET {self.path}"})

    def _send_json(self, status: int, document: Any) -> None:
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        if status == 404:
            headers["x-amzn-ErrorType"] = "ResourceNotFoundException"
        self.reply(status, document, headers)

    def _send_event_stream(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", EVENT_STREAM_CONTENT_TYPE)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        for index, (event_type, payload) in enumerate(events):  # one message per HTTP chunk, as Bedrock streams
            if index:
                time.sleep(self.fake.chunk_interval_seconds)
            message = encode_event(event_type, payload)
            self.wfile.write(f"{len(message):x}\r\n".encode() + message + b"\r\n")
            self.wfile.flush()
            self.fake.note_streamed()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def running_fake_bedrock(**kwargs: Any) -> AbstractContextManager[FakeBedrock]:
    """Serve a fake Bedrock runtime on a free 127.0.0.1 port until the block ends."""
    return serving(FakeBedrock(**kwargs), _Handler)
