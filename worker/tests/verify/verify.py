"""Verifies delivered webhooks with the receivers' own libraries: `standardwebhooks` and the
verifier in `svix`. Reads JSON on stdin: {"secret": "whsec_…", "requests": [{"headers": {…},
"body": "<base64>"}]}. Every real request must verify; a tampered body, a forged signature and a
stale timestamp must each be refused. Exits non-zero on any surprise.
"""

import base64
import json
import sys
import time

import standardwebhooks
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError


def verifiers(secret):
    standard = standardwebhooks.Webhook(secret)
    svix = SvixWebhook(secret)
    return [
        ("standardwebhooks", lambda body, headers: standard.verify(body, headers), Exception),
        ("svix", lambda body, headers: svix.verify(body, headers), WebhookVerificationError),
    ]


def refused(verify, body, headers):
    try:
        verify(body, headers)
    except Exception:
        return True
    return False


def main():
    job = json.load(sys.stdin)
    checked = 0
    for request in job["requests"]:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        body = base64.b64decode(request["body"])
        for name, verify, _ in verifiers(job["secret"]):
            verify(body, headers)  # raises if the real request does not verify
            assert refused(verify, body + b" ", headers), f"{name}: tampered body accepted"
            forged = dict(headers, **{"webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
            assert refused(verify, body, forged), f"{name}: forged signature accepted"
            stale = dict(headers, **{"webhook-timestamp": str(int(time.time()) - 3600)})
            assert refused(verify, body, stale), f"{name}: stale timestamp accepted"
            checked += 1
    print(f"verified {checked} request checks")


if __name__ == "__main__":
    main()
