"""End-to-end scenario with the official Svix Python SDK against a running herald-web.

Usage: scenario.py SERVER_URL TOKEN. Exits non-zero (with a traceback) on any failure.
"""

import sys

from svix.api import (
    ApplicationIn,
    ApplicationListOptions,
    ApplicationPatch,
    EndpointIn,
    EndpointSecretRotateIn,
    EventTypeIn,
    MessageCreateOptions,
    MessageIn,
    MessageListOptions,
    Svix,
    SvixOptions,
)
from svix.exceptions import HttpError


def main(server_url: str, token: str) -> None:
    svix = Svix(token, SvixOptions(server_url=server_url))

    event_type = svix.event_type.create(EventTypeIn(name="invoice.paid", description="An invoice was paid"))
    assert event_type.name == "invoice.paid"

    app = svix.application.create(ApplicationIn(name="Acme", uid="acme", metadata={"plan": "pro"}))
    assert app.id.startswith("app_") and app.uid == "acme"
    assert svix.application.get("acme").id == app.id, "get by uid"
    same = svix.application.get_or_create(ApplicationIn(name="Acme again", uid="acme"))
    assert same.id == app.id, "get_if_exists returns the existing application"
    patched = svix.application.patch(app.id, ApplicationPatch(name="Acme Inc"))
    assert patched.name == "Acme Inc" and patched.metadata == {"plan": "pro"}

    endpoint = svix.endpoint.create(
        app.id, EndpointIn(url="https://example.com/webhook", uid="primary", filter_types=["invoice.paid"])
    )
    assert endpoint.id.startswith("ep_")
    secret = svix.endpoint.get_secret(app.id, "primary").key
    assert secret.startswith("whsec_")
    rotated = svix.endpoint.rotate_secret(app.id, endpoint.id, EndpointSecretRotateIn())
    assert rotated.key.startswith("whsec_") and rotated.key != secret
    assert svix.endpoint.get_secret(app.id, endpoint.id).key == rotated.key

    sent = []
    for i in range(5):
        msg = svix.message.create(
            app.id,
            MessageIn(event_type="invoice.paid", payload={"n": i}, event_id=f"evt-{i}"),
            MessageCreateOptions(with_content=True),
        )
        assert msg.id.startswith("msg_") and msg.payload == {"n": i}, msg
        sent.append(msg.id)
    try:
        svix.message.create(app.id, MessageIn(event_type="invoice.paid", payload={}, event_id="evt-0"))
        raise AssertionError("a repeated event id must conflict")
    except HttpError as e:
        assert e.status_code == 409, e

    seen, iterator = [], None
    while True:
        page = svix.message.list(app.id, MessageListOptions(limit=2, iterator=iterator))
        seen.extend(m.id for m in page.data)
        if page.done:
            break
        iterator = page.iterator
    assert seen == list(reversed(sent)), (seen, sent)
    assert svix.message.get(app.id, "evt-3").id == sent[3], "get by event id"

    apps = svix.application.list(ApplicationListOptions(limit=10))
    assert [a.id for a in apps.data] == [app.id]

    attempts = svix.message_attempt.list_by_msg(app.id, sent[0])
    assert attempts.data == [] and attempts.done
    svix.message_attempt.list_by_endpoint(app.id, endpoint.id)

    try:
        svix.application.get("app_01NOSUCHAPPLICATION000000000")
        raise AssertionError("missing application must be 404")
    except HttpError as e:
        assert e.status_code == 404 and e.code == "not_found", e

    svix.endpoint.delete(app.id, endpoint.id)
    svix.application.delete(app.id)
    print("sdk scenario passed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
