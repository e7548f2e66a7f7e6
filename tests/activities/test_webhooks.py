"""Signed webhooks: the Standard Webhooks signature, URLs that could reach inside the network
refused at registration and at send, redirects never followed; a real receiver on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from activities.channels.base import Outcome
from activities.channels.webhook import UnsafeUrl, WebhookDelivery, check_url, send_webhook, sign
from tests.gateways import Gateway, http_gateway

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    async with http_gateway() as server:
        yield server


def test_the_signature_is_the_standard_webhooks_one() -> None:
    # The test vector the Standard Webhooks specification publishes.
    body = b'{"test": 2432232314}'
    assert (
        sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://172.16.0.9/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "file:///etc/passwd",
        "gopher://example.invalid/",
        "http://93.184.216.34/hook",
        "https://user:secret@93.184.216.34/hook",
        "https:///no-host",
    ],
)
async def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        await check_url(url)


async def test_a_public_address_is_accepted() -> None:
    await check_url("https://93.184.216.34/hook")


async def test_a_send_to_an_internal_address_is_refused_and_nothing_reaches_it(
    gateway: Gateway,
) -> None:
    delivery = WebhookDelivery(f"{gateway.base_url}/hook", SECRET, "evt-1", {"kind": "issued"})
    result = await send_webhook(delivery, allow_http=True)
    assert result.outcome == Outcome.PERMANENT
    assert gateway.requests == []


async def test_a_trusted_receiver_gets_a_signed_event_and_a_redirect_is_not_followed(
    gateway: Gateway,
) -> None:
    trusted = frozenset({"127.0.0.1"})
    delivery = WebhookDelivery(
        f"{gateway.base_url}/hook", SECRET, "evt-2", {"kind": "issued", "title": "Rà soát"}
    )
    sent = await send_webhook(delivery, allow_http=True, now=1614265330, trusted_hosts=trusted)
    assert (sent.outcome, sent.provider_message_id) == (Outcome.ACCEPTED, "evt-2")
    ((_, headers, body),) = gateway.requests
    assert headers["webhook-id"] == "evt-2"
    assert headers["webhook-timestamp"] == "1614265330"
    assert headers["webhook-signature"] == sign(SECRET, "evt-2", 1614265330, body)
    assert body.decode() == '{"kind":"issued","title":"Rà soát"}'

    gateway.scripted.append((302, {"location": "http://169.254.169.254/"}, {}))
    gateway.scripted.append((503, {"retry-after": "30"}, {}))
    redirected = await send_webhook(delivery, allow_http=True, trusted_hosts=trusted)
    unavailable = await send_webhook(delivery, allow_http=True, trusted_hosts=trusted)
    assert redirected.outcome == Outcome.PERMANENT
    assert (unavailable.outcome, unavailable.retry_after_seconds) == (Outcome.RETRY, 30.0)
    assert [path for path, _, _ in gateway.requests] == ["/hook", "/hook", "/hook"]
