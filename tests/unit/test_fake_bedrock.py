"""The fake Bedrock runtime speaks AWS's event-stream framing: botocore and boto3 read it."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from tests.support.fake_bedrock import (
    EVENT_STREAM_CONTENT_TYPE,
    Usage,
    converse_stream_events,
    encode_event,
    running_fake_bedrock,
)


def test_fake_bedrock_event_stream_decodes_with_botocore():
    events = converse_stream_events(["Hel", "lo"], Usage(input_tokens=3, output_tokens=2))
    raw = b"".join(encode_event(kind, payload) for kind, payload in events)

    # botocore's framing parser, fed in small pieces as a socket would deliver them.
    buffer = EventStreamBuffer()
    decoded = []
    for offset in range(0, len(raw), 7):
        buffer.add_data(raw[offset:offset + 7])
        decoded.extend(buffer)
    assert [(m.headers[":event-type"], json.loads(m.payload)) for m in decoded] == events
    assert all(m.headers[":message-type"] == "event" and m.headers[":content-type"] == "application/json" for m in decoded)
    assert all(m.to_response_dict()["status_code"] == 200 for m in decoded)

    corrupted = bytearray(encode_event("messageStart", {"role": "assistant"}))
    corrupted[-6] ^= 0xFF  # a payload byte: the message CRC no longer matches
    corrupted_buffer = EventStreamBuffer()
    corrupted_buffer.add_data(bytes(corrupted))
    with pytest.raises(ChecksumMismatch):
        list(corrupted_buffer)

    # boto3 itself against the fake: both operations, parsed with the service's own model.
    with running_fake_bedrock(reply_chunks=("Hel", "lo")) as fake:
        client = boto3.client(
            "bedrock-runtime", region_name="us-east-1", endpoint_url=fake.url,
            aws_access_key_id="AKIAFAKE", aws_secret_access_key="fake",
            config=Config(retries={"max_attempts": 1}),
        )
        messages = [{"role": "user", "content": [{"text": "hi"}]}]
        plain = client.converse(modelId="m.id:0", messages=messages)
        stream_response = client.converse_stream(modelId="m.id:0", messages=messages)
        streamed = list(stream_response["stream"])
        stream_call = fake.snapshot()[-1]

    assert plain["output"]["message"]["content"] == [{"text": "Hello"}]
    assert plain["usage"] == {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19}
    assert [next(iter(event)) for event in streamed] == [
        "messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata",
    ]
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in streamed if "contentBlockDelta" in e) == "Hello"
    assert streamed[-1]["metadata"]["usage"]["totalTokens"] == 19
    assert (stream_call.model_id, stream_call.operation) == ("m.id:0", "converse-stream")
    assert stream_call.path == "/model/m.id%3A0/converse-stream"
    assert stream_response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == EVENT_STREAM_CONTENT_TYPE

