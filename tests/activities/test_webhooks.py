"""Signed webhooks: the Standard Webhooks signature; URLs that could reach inside the network
refused at registration and at send (every address not global, shared 100.64.0.0/10 among them),
the name resolved once and the connection made to the address checked, redirects never
followed; AXIS_WEBHOOK_ALLOW_HOSTS; a real receiver on loopback, reached only through it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from activities.channels.base import Outcome, OutgoingMessage
from activities.channels.webhook import (
    AllowedHosts,
    UnsafeUrl,
    WebhookChannel,
    WebhookDelivery,
    WebhookEndpoint,
    check_url,
    parse_allowed_hosts,
    send_webhook,
    sign,
)
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
        "https://224.0.1.1/hook",
        # Shared address space (carrier-grade NAT), not private by name.
        "https://100.64.1.1/hook",
        "https://100.127.255.254/hook",
        "https://198.18.0.1/hook",
        "https://192.0.2.10/hook",
        "https://240.0.0.1/hook",
        "https://255.255.255.255/hook",
        "https://[2001:db8::1]/hook",
        "https://[fd00::1]/hook",
        "https://[fe80::1]/hook",
        # Loopback and private behind NAT64 and 6to4, which Python calls global.
        "https://[64:ff9b::7f00:1]/hook",
        "https://[2002:a00:1::1]/hook",
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


async def test_a_public_address_is_accepted_and_is_the_one_connected_to() -> None:
    checked = await check_url("https://93.184.216.34/hook")
    assert (checked.address, checked.target) == ("93.184.216.34", "https://93.184.216.34:443/hook")
    v6 = await check_url("https://[2606:2800:220:1:248:1893:25c8:1946]:8443/h?x=1")
    assert v6.target == "https://[2606:2800:220:1:248:1893:25c8:1946]:8443/h?x=1"


class Resolver:
    """A DNS that answers each name from a script, one answer per question, and counts them."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.questions: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.questions.append((host, port))
        return self.answers[len(self.questions) - 1]


@pytest.mark.parametrize(
    ("answer", "refused"),
    [
        (["10.1.2.3"], "10.1.2.3"),
        (["100.64.1.1"], "100.64.1.1"),
        (["93.184.216.34", "192.168.0.7"], "192.168.0.7"),
        (["::ffff:169.254.169.254"], "::ffff:169.254.169.254"),
    ],
)
async def test_a_name_resolving_to_an_address_that_is_not_public_is_refused(
    answer: list[str], refused: str
) -> None:
    resolver = Resolver(answer)
    with pytest.raises(UnsafeUrl) as error:
        await check_url("https://hooks.example.test/hook", resolve=resolver)
    assert str(error.value) == f"the host hooks.example.test is not a public address ({refused})"
    assert resolver.questions == [("hooks.example.test", 443)]


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(UnsafeUrl) as error:
        await check_url("https://hooks.example.test/hook", resolve=Resolver([]))
    assert str(error.value) == "the host hooks.example.test does not resolve"


def test_allowed_hosts_are_names_and_networks() -> None:
    allowed = parse_allowed_hosts(" Receiver.Local. , 127.0.0.1, 10.20.0.0/16,fd00::/8 ,")
    assert allowed.names == frozenset({"receiver.local"})
    assert [str(n) for n in allowed.networks] == [
        "127.0.0.1/32",
        "10.20.0.0/16",
        "fd00::/8",
    ]
    assert allowed.allows("receiver.local", ["10.9.9.9"])
    assert allowed.allows("x.test", ["10.20.3.4", "::ffff:127.0.0.1"])
    assert not allowed.allows("x.test", ["10.20.3.4", "10.21.0.1"])
    assert not allowed.allows("127.0.0.2", ["127.0.0.2"])
    assert parse_allowed_hosts("") == AllowedHosts()


@pytest.mark.parametrize("value", ["10.20.0.1/16", "host:8080", "10.0.0.0/33", "two words"])
def test_a_malformed_allowed_host_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="AXIS_WEBHOOK_ALLOW_HOSTS"):
        parse_allowed_hosts(value)


async def test_shared_address_space_passes_only_when_allowed() -> None:
    with pytest.raises(UnsafeUrl):
        await check_url("https://100.64.1.1/hook")
    allowed = parse_allowed_hosts("100.64.0.0/10")
    assert (await check_url("https://100.64.1.1/hook", allowed)).address == "100.64.1.1"
    # Plain http is for allowed receivers only: what is signed is not hidden.
    assert (
        await check_url("http://100.64.1.1/hook", allowed)
    ).target == "http://100.64.1.1:80/hook"


async def test_a_receiver_on_loopback_is_reached_only_when_the_setting_allows_it(
    gateway: Gateway,
) -> None:
    delivery = WebhookDelivery(f"{gateway.base_url}/hook", SECRET, "evt-1", {"kind": "issued"})
    refused = await send_webhook(delivery)
    assert (refused.outcome, refused.detail) == (
        Outcome.PERMANENT,
        "the host 127.0.0.1 is not a public address (127.0.0.1)",
    )
    assert gateway.requests == []
    for setting in ("127.0.0.1", "127.0.0.0/8"):
        sent = await send_webhook(delivery, allowed=parse_allowed_hosts(setting))
        assert sent.outcome == Outcome.ACCEPTED
    assert len(gateway.requests) == 2


async def test_an_allowed_receiver_gets_a_signed_event_and_a_redirect_is_not_followed(
    gateway: Gateway,
) -> None:
    allowed = parse_allowed_hosts("127.0.0.1")
    delivery = WebhookDelivery(
        f"{gateway.base_url}/hook", SECRET, "evt-2", {"kind": "issued", "title": "Rà soát"}
    )
    sent = await send_webhook(delivery, now=1614265330, allowed=allowed)
    assert (sent.outcome, sent.provider_message_id) == (Outcome.ACCEPTED, "evt-2")
    ((_, headers, body),) = gateway.requests
    assert headers["webhook-id"] == "evt-2"
    assert headers["webhook-timestamp"] == "1614265330"
    assert headers["webhook-signature"] == sign(SECRET, "evt-2", 1614265330, body)
    assert body.decode() == '{"kind":"issued","title":"Rà soát"}'

    gateway.scripted.append((302, {"location": "http://169.254.169.254/"}, {}))
    gateway.scripted.append((503, {"retry-after": "30"}, {}))
    redirected = await send_webhook(delivery, allowed=allowed)
    unavailable = await send_webhook(delivery, allowed=allowed)
    assert (redirected.outcome, redirected.detail) == (Outcome.PERMANENT, "HTTP 302")
    assert (unavailable.outcome, unavailable.retry_after_seconds) == (Outcome.RETRY, 30.0)
    assert [path for path, _, _ in gateway.requests] == ["/hook", "/hook", "/hook"]


async def test_the_connection_goes_to_the_address_that_was_checked(gateway: Gateway) -> None:
    # The name is unknown to the system's resolver (.test is reserved): the request can only
    # arrive if it went to the checked address. A second question would get a private address.
    port = gateway.base_url.rsplit(":", 1)[1]
    resolver = Resolver(["127.0.0.1"], ["10.66.0.1"])
    delivery = WebhookDelivery(f"http://hooks.example.test:{port}/hook", SECRET, "evt-3", {})
    sent = await send_webhook(delivery, allowed=parse_allowed_hosts("127.0.0.1"), resolve=resolver)
    assert sent.outcome == Outcome.ACCEPTED
    assert resolver.questions == [("hooks.example.test", int(port))]
    ((path, headers, _),) = gateway.requests
    assert (path, headers["host"]) == ("/hook", f"hooks.example.test:{port}")


async def test_https_goes_to_the_checked_address_with_the_name_for_the_certificate() -> None:
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    resolver = Resolver(["93.184.216.34"], ["10.66.0.1"])
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as http:
        sent = await send_webhook(
            WebhookDelivery("https://Hooks.Example.test/in?a=1", SECRET, "evt-5", {}),
            http=http,
            resolve=resolver,
        )
    assert sent.outcome == Outcome.ACCEPTED
    assert len(resolver.questions) == 1
    ((request,),) = [seen]
    assert str(request.url) == "https://93.184.216.34/in?a=1"
    assert request.headers["host"] == "Hooks.Example.test"
    assert request.extensions["sni_hostname"] == "hooks.example.test"


async def test_a_name_that_turns_private_after_registration_is_refused_at_send(
    gateway: Gateway,
) -> None:
    port = gateway.base_url.rsplit(":", 1)[1]
    url = f"https://hooks.example.test:{port}/hook"
    resolver = Resolver(["93.184.216.34"], ["127.0.0.1"])
    assert (await check_url(url, resolve=resolver)).address == "93.184.216.34"
    sent = await send_webhook(WebhookDelivery(url, SECRET, "evt-4", {}), resolve=resolver)
    assert (sent.outcome, sent.detail) == (
        Outcome.PERMANENT,
        "the host hooks.example.test is not a public address (127.0.0.1)",
    )
    assert gateway.requests == []


def message(email: str) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key="axis-0123",
        kind="issued",
        subject="[Chỉ đạo] Rà soát",
        body="Rà soát hồ sơ trước 10/12",
        email=email,
    )


async def test_the_webhook_channel_posts_a_person_s_message_to_their_endpoint(
    gateway: Gateway,
) -> None:
    endpoint = WebhookEndpoint(f"{gateway.base_url}/hook", SECRET)
    channel = WebhookChannel(
        {"he-thong@xa.example.invalid": endpoint},
        allowed=parse_allowed_hosts("127.0.0.1"),
        clock=lambda: 1614265330.0,
    )
    assert channel.configured
    sent = await channel.send(message("he-thong@xa.example.invalid"))
    missing = await channel.send(message("nobody@example.invalid"))
    assert (sent.outcome, sent.provider_message_id) == (Outcome.ACCEPTED, "axis-0123")
    assert (missing.outcome, missing.detail) == (
        Outcome.PERMANENT,
        "no webhook endpoint for nobody@example.invalid",
    )
    ((_, headers, body),) = gateway.requests
    assert headers["webhook-id"] == "axis-0123"
    assert headers["webhook-signature"] == sign(SECRET, "axis-0123", 1614265330, body)
    assert body.decode() == (
        '{"type":"notification.issued","timestamp":"2021-02-25T15:02:10+00:00",'
        '"data":{"id":"axis-0123","kind":"issued","subject":"[Chỉ đạo] Rà soát",'
        '"body":"Rà soát hồ sơ trước 10/12","recipient":"he-thong@xa.example.invalid"}}'
    )
