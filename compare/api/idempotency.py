"""Idempotency-Key on the JSON API's submits (POST of comparisons, batches, benchmarks, benchmark runs).

A client that sends ``Idempotency-Key: <its own unique string>`` may send the same request again
(a timeout, a lost answer) without starting the work twice: within KEY_LIFETIME the same user
sending the same key and the same body gets the first answer back (status and body, with
``Idempotent-Replayed: true``) and nothing new starts; the same key with another body is refused
(422). Keys belong to one user; the team is part of the body.

How two requests with one key cannot both start the work: the key's row is inserted, under a
unique constraint on (user, key), in the same transaction as the work and before it starts; the
answer is written to the row before that transaction commits. A second request with the key
waits on the unique index (PostgreSQL) or on the write lock (SQLite) until the first commits,
then replays its answer, or, if the first rolled back, does the work itself. Only a successful
answer (2xx) is kept: a refused submit (4xx) started nothing and may be sent again, corrected,
with the same key; a crash (5xx, exception) rolls the work and the key back together."""

import functools
import hashlib
import json
import re
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from compare.ops.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEY_LIFETIME = timedelta(hours=24)
VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, no spaces


def request_hash(request):
    """SHA-256 of the method, the path with its query, and the body (JSON in a canonical form,
    so that a client re-serialising the same object is not refused)."""
    body = request.body
    try:
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        pass
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.get_full_path().encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def replay(found):
    response = HttpResponse(found.response_body, status=found.response_status,
                            content_type=found.response_type or "application/json")
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(view):
    """Honour an Idempotency-Key header on POST (under api_view: request.user is known)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return view(request, *args, **kwargs)
        if not VALID_KEY.match(key):
            return JsonResponse({"errors": {HEADER: [
                f"{HEADER} must be 1 to 255 visible ASCII characters (a UUID is a good choice)."]}}, status=400)
        digest = request_hash(request)
        with transaction.atomic():
            found = claim(request.user, key, digest)
            if found is not None:
                if found.request_hash != digest:
                    return JsonResponse({"error": f"This {HEADER} was already used with another request "
                                                  "(another body or URL): use a new key for a new request.",
                                         "errors": {HEADER: ["Already used with another request body."]}},
                                        status=422)
                if found.response_status is None:  # not reachable: rows are seen once committed
                    return JsonResponse({"error": f"A request with this {HEADER} is still running."}, status=409)
                return replay(found)
            response = view(request, *args, **kwargs)
            if 200 <= response.status_code < 300 and not response.streaming:
                remember(request.user, key, response.status_code, response.content.decode(),
                         response.get("Content-Type", ""))
            elif response.status_code >= 500:
                transaction.set_rollback(True)  # nothing of a failed submit is kept, the key neither
            else:
                IdempotencyKey.objects.filter(user=request.user, key=key).delete()  # refused: may be resent
            return response

    return wrapped


def claim(user, key, digest):
    """Insert the key's row (None: this request does the work), or return the row of the
    earlier request with the key (waiting for its transaction to end). An expired row is
    replaced."""
    now = timezone.now()
    IdempotencyKey.objects.filter(user=user, created_at__lt=now - KEY_LIFETIME).delete()
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(user=user, key=key, request_hash=digest, created_at=now)
        return None
    except IntegrityError:
        return IdempotencyKey.objects.get(user=user, key=key)


def remember(user, key, status, body, content_type="application/json"):
    """Keep the answer of the request that claimed the key (in its transaction)."""
    IdempotencyKey.objects.filter(user=user, key=key).update(
        response_status=status, response_body=body, response_type=content_type)


def digest_of(*parts):
    """SHA-256 of a request that does not come over HTTP (manage.py compare), from its parts."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
