"""End-to-end mail probe: send through Mailgun, find the mail over IMAPS, push the result.

Standard library only: the image runs as it is, nothing is installed at run time. Configuration
comes from the environment; the credentials arrive there from a Kubernetes Secret.
Exit status 0 only when the mail made the round trip and the metrics were pushed.
"""

import base64
import imaplib
import os
import ssl
import sys
import time
import urllib.parse
import urllib.request
import uuid

SUBJECT_PREFIX = "e2e-roundtrip"
# The catch-all may file the probe as spam: look in both.
MAILBOXES = ("INBOX", "Junk")
REQUIRED = (
    "MAILGUN_API_BASE",
    "MAILGUN_DOMAIN",
    "MAILGUN_API_KEY",
    "PROBE_FROM",
    "PROBE_TO",
    "IMAP_HOST",
    "IMAP_PORT",
    "IMAP_TLS_NAME",
    "IMAP_USER",
    "IMAP_PASSWORD",
    "PUSHGATEWAY_URL",
    "PUSH_JOB",
    "POLL_TIMEOUT_SECONDS",
    "POLL_INTERVAL_SECONDS",
)


def load_config(environ):
    missing = [name for name in REQUIRED if not environ.get(name)]
    if missing:
        raise SystemExit("missing environment: " + ", ".join(missing))
    cfg = {name: environ[name] for name in REQUIRED}
    cfg["UPTIME_KUMA_PUSH_URL"] = environ.get("UPTIME_KUMA_PUSH_URL", "")
    return cfg


def mailgun_request(cfg, marker):
    """The Mailgun 'send message' call: form-encoded, HTTP basic auth as user 'api'."""
    url = "{}/v3/{}/messages".format(cfg["MAILGUN_API_BASE"].rstrip("/"), cfg["MAILGUN_DOMAIN"])
    body = urllib.parse.urlencode(
        {
            "from": cfg["PROBE_FROM"],
            "to": cfg["PROBE_TO"],
            "subject": "{} {}".format(SUBJECT_PREFIX, marker),
            "text": "End-to-end delivery probe {}. Deleted automatically.".format(marker),
        }
    ).encode()
    token = base64.b64encode("api:{}".format(cfg["MAILGUN_API_KEY"]).encode()).decode()
    return urllib.request.Request(
        url, data=body, method="POST", headers={"Authorization": "Basic " + token}
    )


def search_uids(data):
    """UIDs from an IMAP SEARCH response such as [b'12 15'], [b''] or [None]."""
    return [uid for chunk in data if chunk for uid in chunk.split()]


def metrics_body(success, duration_seconds, now, cert_not_after=None):
    """Pushgateway text format. The last-success time is only sent on success, the certificate's
    expiry only when an IMAPS handshake verified one: pushed with POST, the previous value of a
    series left out stays in the group."""
    lines = [
        "# TYPE email_roundtrip_success gauge",
        "email_roundtrip_success {}".format(1 if success else 0),
        "# TYPE email_roundtrip_duration_seconds gauge",
        "email_roundtrip_duration_seconds {:.3f}".format(duration_seconds),
        "# TYPE email_roundtrip_last_run_timestamp_seconds gauge",
        "email_roundtrip_last_run_timestamp_seconds {:.0f}".format(now),
    ]
    if success:
        lines += [
            # The Terraform-era name the live alert rules read (no _seconds suffix).
            "# TYPE email_roundtrip_last_success_timestamp gauge",
            "email_roundtrip_last_success_timestamp {:.0f}".format(now),
        ]
    if cert_not_after is not None:
        lines += [
            "# TYPE email_roundtrip_imaps_certificate_expiry_timestamp_seconds gauge",
            "email_roundtrip_imaps_certificate_expiry_timestamp_seconds {:.0f}".format(
                cert_not_after
            ),
        ]
    return "\n".join(lines) + "\n"


def push_url(base, job):
    return "{}/metrics/job/{}".format(base.rstrip("/"), urllib.parse.quote(job, safe=""))


def kuma_url(push, success, message, ping_ms):
    """Uptime Kuma push URL with our status; the query copied from its UI is replaced."""
    parts = urllib.parse.urlsplit(push)
    query = urllib.parse.urlencode(
        {"status": "up" if success else "down", "msg": message, "ping": str(int(ping_ms))}
    )
    return urllib.parse.urlunsplit(parts._replace(query=query))


def certificate_not_after(peer_cert):
    """notAfter of a verified peer certificate (ssl.SSLSocket.getpeercert()) in seconds since the
    epoch, or None when there is none."""
    if not peer_cert or "notAfter" not in peer_cert:
        return None
    return ssl.cert_time_to_seconds(peer_cert["notAfter"])


class TlsNameIMAP(imaplib.IMAP4_SSL):
    """IMAPS to the in-cluster service, verifying the certificate of the public mail name.
    `not_after` is the expiry of the certificate the server presented."""

    def __init__(self, host, port, tls_name, timeout):
        self.tls_name = tls_name
        self.not_after = None
        super().__init__(host, port, ssl_context=ssl.create_default_context(), timeout=timeout)

    def _create_socket(self, timeout):
        sock = imaplib.IMAP4._create_socket(self, timeout)
        tls = self.ssl_context.wrap_socket(sock, server_hostname=self.tls_name)
        # The handshake ran in wrap_socket and verified the chain and the name.
        self.not_after = certificate_not_after(tls.getpeercert())
        return tls


def find_and_delete(cfg, marker, seen):
    """One IMAP pass: True when the marked mail was there. Deletes it and earlier leftovers.
    Records the served certificate's expiry in seen["not_after"]."""
    imap = TlsNameIMAP(cfg["IMAP_HOST"], int(cfg["IMAP_PORT"]), cfg["IMAP_TLS_NAME"], 30)
    seen["not_after"] = imap.not_after
    try:
        imap.login(cfg["IMAP_USER"], cfg["IMAP_PASSWORD"])
        found = False
        for mailbox in MAILBOXES:
            if imap.select(mailbox)[0] != "OK":
                continue
            _, data = imap.uid("SEARCH", None, "HEADER", "Subject", marker)
            found = found or bool(search_uids(data))
            _, data = imap.uid("SEARCH", None, "HEADER", "Subject", SUBJECT_PREFIX)
            stale = search_uids(data)
            if stale:
                imap.uid("STORE", b",".join(stale), "+FLAGS.SILENT", r"(\Deleted)")
                imap.expunge()
            imap.close()
        return found
    finally:
        imap.logout()


def roundtrip(cfg, marker, seen):
    with urllib.request.urlopen(mailgun_request(cfg, marker), timeout=30) as resp:
        print("mailgun: HTTP {}".format(resp.status), flush=True)
    deadline = time.monotonic() + float(cfg["POLL_TIMEOUT_SECONDS"])
    while True:
        if find_and_delete(cfg, marker, seen):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(float(cfg["POLL_INTERVAL_SECONDS"]))


def report(cfg, success, duration, message, cert_not_after=None):
    ok = True
    body = metrics_body(success, duration, time.time(), cert_not_after).encode()
    req = urllib.request.Request(
        push_url(cfg["PUSHGATEWAY_URL"], cfg["PUSH_JOB"]), data=body, method="POST"
    )
    try:
        urllib.request.urlopen(req, timeout=15).close()
    except Exception as err:  # the alerts notice a missing push; still say why here
        print("pushgateway: {}".format(err), file=sys.stderr)
        ok = False
    if cfg["UPTIME_KUMA_PUSH_URL"]:
        try:
            url = kuma_url(cfg["UPTIME_KUMA_PUSH_URL"], success, message, duration * 1000)
            urllib.request.urlopen(url, timeout=15).close()
        except Exception as err:
            print("uptime kuma: {}".format(type(err).__name__), file=sys.stderr)  # URL has a token
            ok = False
    return ok


def main():
    cfg = load_config(os.environ)
    marker = uuid.uuid4().hex
    started = time.monotonic()
    seen = {}
    try:
        success = roundtrip(cfg, marker, seen)
        message = "delivered" if success else "not delivered in time"
    except Exception as err:
        success, message = False, "{}: {}".format(type(err).__name__, err)
    duration = time.monotonic() - started
    print("roundtrip {}: {} after {:.1f}s".format(marker, message, duration), flush=True)
    pushed = report(cfg, success, duration, message, seen.get("not_after"))
    return 0 if success and pushed else 1


if __name__ == "__main__":
    sys.exit(main())
